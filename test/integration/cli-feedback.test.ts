import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { indicator } from '../../src/sim/stix-factory.js'
import { runCli, spawnCli, waitForOutput } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

describe('CLI: sight and opinion', function () {
  this.timeout(180_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let data: string
  let recordId: string

  before(async () => {
    tmp = await tempDir()
    data = join(tmp.dir, 'node')
    assert.equal((await runCli(['init', '--data', data, '--name', 'CERT'])).code, 0)
    const file = join(tmp.dir, 'ioc.json')
    await writeFile(file, JSON.stringify(indicator({ kind: 'domain', value: 'c2.bad.example', seed: 'cli-feedback' })))
    const pub = await runCli(['publish', '--data', data, '--tlp', 'green', file])
    assert.equal(pub.code, 0, pub.stderr)
    recordId = pub.stdout.trim()
  })
  after(async () => { await tmp.cleanup() })

  it('sight by value and opinion by record id (store opened directly), then lookup shows the summary', async () => {
    const s = await runCli(['sight', '--data', data, 'c2.bad.example', '--count', '3', '--first-seen', '2026-01-01T00:00:00Z', '--last-seen', '2026-01-02T00:00:00Z', '--where', 'proxy logs'])
    assert.equal(s.code, 0, s.stderr)
    assert.match(s.stdout.trim(), /^1220[0-9a-f]{64}$/)
    const o = await runCli(['opinion', '--data', data, recordId, '--disagree', '--reason', 'false positive: CDN address'])
    assert.equal(o.code, 0, o.stderr)
    const look = JSON.parse((await runCli(['lookup', '--data', data, 'c2.bad.example'])).stdout)
    assert.equal(look.summary.sightings, 3)
    assert.equal(look.summary.first_seen, '2026-01-01T00:00:00Z')
    assert.equal(look.summary.last_seen, '2026-01-02T00:00:00Z')
    assert.equal(look.summary.opinions.disagree, 1)
    assert.equal(look.summary.opinions.reasons[0].reason, 'false positive: CDN address')
    assert.equal(look.summary.sighted_by.length, 1)
    assert.deepEqual(look.summary.reporters, look.summary.sighted_by)
    assert.equal(typeof look.summary.confidence, 'number')
  })

  it('refuses bad arguments with a DRAGNET code and stores nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['opinion', '--data', data, recordId], /DRAGNET_BAD_REQUEST.*exactly one of --agree and --disagree/],
      [['opinion', '--data', data, recordId, '--agree', '--disagree'], /DRAGNET_BAD_REQUEST/],
      [['sight', '--data', data, 'c2.bad.example', '--count', 'many'], /DRAGNET_BAD_REQUEST.*--count/],
      [['sight', '--data', data, 'nothing-here.example'], /DRAGNET_NOT_FOUND/]
    ]
    for (const [args, re] of cases) {
      const r = await runCli(args)
      assert.notEqual(r.code, 0, args.join(' '))
      assert.match(r.stderr, re)
    }
    const look = JSON.parse((await runCli(['lookup', '--data', data, 'c2.bad.example'])).stdout)
    assert.equal(look.summary.sightings, 3, 'nothing more stored')
  })

  it('goes through the running node\'s API when a node runs on the data dir', async () => {
    const child = spawnCli(['start', '--data', data, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    try {
      await waitForOutput(child, out => out.includes('api     http://'))
      const s = await runCli(['sight', '--data', data, recordId, '--tlp', 'amber'])
      assert.equal(s.code, 0, s.stderr)
      const look = JSON.parse((await runCli(['lookup', '--data', data, 'c2.bad.example'])).stdout)
      assert.equal(look.summary.sightings, 4)
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.on('close', resolve))
    }
  })
})
