import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { malware } from '../../src/sim/stix-factory.js'
import { runCli, spawnCli, waitForOutput } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * `dragnet purge`, `purge list`, `erase` and the retention line of `dragnet policy test`, as an
 * operator runs them: on a stopped node's store, and through the API of a running one.
 */

const EMAIL_INDICATOR = {
  type: 'indicator',
  spec_version: '2.1',
  id: 'indicator--5d0092c5-5f74-4287-9642-33f4c354e56d',
  created: '2026-01-01T00:00:00.000Z',
  modified: '2026-01-01T00:00:00.000Z',
  pattern: "[email-addr:value = 'suspect@example.org']",
  pattern_type: 'stix',
  valid_from: '2026-01-01T00:00:00Z'
}

describe('CLI: dragnet purge, purge list, erase, policy test retention', function () {
  // Each CLI call is a process start; on a loaded machine that is seconds.
  this.timeout(600_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => { await tmp.cleanup() })

  it('purges on a stopped node, lists the tombstone, and refuses a missing reason or target', async () => {
    const data = join(tmp.dir, 'n')
    assert.equal((await runCli(['init', '--data', data, '--name', 'A'])).code, 0)
    const pub = await runCli(['publish', '--data', data, '-'], { input: JSON.stringify(EMAIL_INDICATOR) })
    assert.equal(pub.code, 0, pub.stderr)
    const id = pub.stdout.trim()
    const noReason = await runCli(['purge', '--data', data, id])
    assert.equal(noReason.code, 1)
    assert.match(noReason.stderr, /DRAGNET_BAD_REQUEST: --reason TEXT is required/)
    const ok = await runCli(['purge', '--data', data, '--stix-id', EMAIL_INDICATOR.id, '--reason', 'wrong person'])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout.trim(), `purged ${id}`)
    const list = JSON.parse((await runCli(['purge', 'list', '--data', data, '--json'])).stdout)
    assert.deepEqual(list.tombstones.map((t: any) => [t.id, t.reason, t.operator]), [[id, 'wrong person', 'operator']])
    const look = JSON.parse((await runCli(['lookup', '--data', data, 'suspect@example.org'])).stdout)
    assert.deepEqual(look.records, [])
  })

  it('purges and erases through the API of a running node', async () => {
    const data = join(tmp.dir, 'n')
    assert.equal((await runCli(['init', '--data', data, '--name', 'A'])).code, 0)
    const child = spawnCli(['start', '--data', data, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    try {
      await waitForOutput(child, out => out.includes('api     http://'))
      const ids: string[] = []
      const pub = await runCli(['publish', '--data', data, '--tlp', 'green', '-'], { input: JSON.stringify([malware('one'), malware('two'), malware('three')]) })
      assert.equal(pub.code, 0, pub.stderr)
      ids.push(...pub.stdout.trim().split('\n'))
      assert.equal(ids.length, 3)
      const p = await runCli(['purge', '--data', data, ids[0], '--reason', 'court order', '--json'])
      assert.equal(p.code, 0, p.stderr)
      assert.deepEqual(JSON.parse(p.stdout).purged.map((t: any) => t.id), [ids[0]])
      const e = await runCli(['erase', '--data', data, ids[1], ids[2], '--reason', 'published in error', '--json'])
      assert.equal(e.code, 0, e.stderr)
      const erased = JSON.parse(e.stdout)
      assert.equal(erased.requests.length, 1)
      assert.deepEqual(erased.requests[0].records.sort(), [ids[1], ids[2]].sort())
      const list = JSON.parse((await runCli(['purge', 'list', '--data', data, '--json'])).stdout)
      assert.deepEqual(list.tombstones.map((t: any) => t.id).sort(), [...ids].sort())
      // The routes take the API token only.
      const runtime = JSON.parse(await readFile(join(data, 'runtime.json'), 'utf8'))
      const anon = await fetch(`http://${runtime.api}/api/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: [ids[0]], reason: 'x' }) })
      assert.equal(anon.status, 401)
      const audit = JSON.parse((await runCli(['audit', '--data', data, '--record', ids[0], '--json'])).stdout)
      assert.ok(JSON.stringify(audit).includes('purge:operator'), JSON.stringify(audit))
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.on('exit', resolve))
    }
  })

  it('policy test shows the retention that applies to a record', async () => {
    const policy = join(tmp.dir, 'p.yaml')
    await writeFile(policy, 'name: eu\nretention:\n  - { id: email-90d, match: { observable: email }, days: 90 }\n  - { match: { tlp: red }, days: 365 }\n')
    const record = join(tmp.dir, 'r.json')
    await writeFile(record, JSON.stringify(EMAIL_INDICATOR))
    const author = '12D3KooWLnqGYWmD4CpUeDs6EMJvkA5BbaYV1bUwKcQhttDLvNBq'
    const text = await runCli(['policy', 'test', policy, '--record', record, '--author', author, '--now', '2026-01-01T00:00:00Z'])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /retention: 90 days by email-90d, until 2026-04-01T00:00:00.000Z/)
    await writeFile(record, JSON.stringify(malware('m')))
    const red = JSON.parse((await runCli(['policy', 'test', policy, '--record', record, '--author', author, '--tlp', 'red', '--json', '--now', '2026-01-01T00:00:00Z'])).stdout)
    assert.deepEqual(red.retention, { rule: 'retention[1]', days: 365, until: '2027-01-01T00:00:00.000Z', due: false })
  })
})
