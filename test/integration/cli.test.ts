import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { stat, writeFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { Store } from '../../src/store/index.js'
import { checkConsistency } from '../../src/store/check.js'
import { REPO, runCli, spawnCli, waitForOutput } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

describe('CLI', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let data: string

  beforeEach(async () => {
    tmp = await tempDir()
    data = join(tmp.dir, 'node')
  })
  afterEach(async () => { await tmp.cleanup() })

  it('init writes a 0600 key, prints the PeerId last and refuses to overwrite without --force', async () => {
    const r = await runCli(['init', '--data', data, '--name', 'BKA', '--country', 'DE', '--role', 'bureau'])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n')
    const peerId = lines[lines.length - 1]
    assert.match(peerId, /^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/)
    assert.equal((await stat(join(data, 'node.key'))).mode & 0o777, 0o600)
    assert.equal(JSON.parse(await readFile(join(data, 'node.json'), 'utf8')).peerId, peerId)
    const again = await runCli(['init', '--data', data])
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /DRAGNET_KEY_EXISTS.*--force/)
    const forced = await runCli(['init', '--data', data, '--force'])
    assert.equal(forced.code, 0)
    assert.notEqual(forced.stdout.trim().split('\n').pop(), peerId)
  })

  it('publish/get/lookup/status against the store, bad input refused with a reason and nothing stored', async () => {
    assert.equal((await runCli(['init', '--data', data])).code, 0)
    const file = join(tmp.dir, 'in.json')
    await writeFile(file, JSON.stringify({ type: 'bundle', id: 'bundle--0d6a1b7e-2b4b-4c8e-9d55-5b3f3a1a2c01', objects: [indicator({ kind: 'url', value: 'http://bad.example.org/x' }), malware('m')] }))
    const pub = await runCli(['publish', '--data', data, '--tlp', 'green', file])
    assert.equal(pub.code, 0, pub.stderr)
    const ids = pub.stdout.trim().split('\n')
    assert.equal(ids.length, 2)
    const got = await runCli(['get', '--data', data, ids[0]])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(JSON.parse(got.stdout).id, ids[0])
    const look = await runCli(['lookup', '--data', data, 'http://bad.example.org/x'])
    assert.equal(JSON.parse(look.stdout).records[0].id, ids[0])
    const st = await runCli(['status', '--data', data, '--json'])
    const status = JSON.parse(st.stdout.trim().split('\n').pop()!)
    assert.equal(status.records, 2)
    assert.match(status.peerId, /^12D3KooW/)

    const cases: Array<[string, RegExp]> = [
      ['{not json', /DRAGNET_BAD_JSON/],
      ['{"hello":"world"}', /DRAGNET_NOT_STIX/],
      [JSON.stringify({ ...malware('old'), spec_version: '2.0' }), /DRAGNET_STIX_VERSION.*2\.1/],
      [JSON.stringify({ ...indicator({ kind: 'ipv4', value: '1.2.3.4' }), pattern: "[ipv4-addr:value = '1.2.3.4'" }), /DRAGNET_BAD_PATTERN.*pattern/],
      [JSON.stringify({ ...malware('huge'), description: 'x'.repeat(400_000) }), /DRAGNET_TOO_LARGE/]
    ]
    for (const [input, re] of cases) {
      const r = await runCli(['publish', '--data', data, '-'], { input })
      assert.notEqual(r.code, 0, input.slice(0, 40))
      assert.match(r.stderr, re)
    }
    const after = JSON.parse((await runCli(['status', '--data', data, '--json'])).stdout.trim().split('\n').pop()!)
    assert.equal(after.records, 2, 'nothing stored by bad input')
  })

  it('talks to a running node through its API; a second process on the same store gets "already in use"', async () => {
    assert.equal((await runCli(['init', '--data', data, '--name', 'A'])).code, 0)
    const child = spawnCli(['start', '--data', data, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    try {
      await waitForOutput(child, out => out.includes('api     http://'))
      const pub = await runCli(['publish', '--data', data, '-'], { input: JSON.stringify(malware('via-api')) })
      assert.equal(pub.code, 0, pub.stderr)
      const st = JSON.parse((await runCli(['status', '--data', data, '--json'])).stdout)
      assert.equal(st.running, true)
      assert.equal(st.records, 1)
      // Another process opening the store directly is refused, with the reason.
      const err = await new Promise<string>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', '-e', `import('./src/store/index.ts').then(m => m.Store.open(${JSON.stringify(join(data, 'store'))})).then(() => console.log('opened'), e => console.log(e.code + ' ' + e.message))`], { cwd: REPO })
        let out = ''
        p.stdout.on('data', d => { out += String(d) })
        p.on('close', () => resolve(out))
      })
      assert.match(err, /DRAGNET_STORE_LOCKED .*already in use by another process/)
      const token = (await readFile(join(data, 'api-token'), 'utf8')).trim()
      const runtime = JSON.parse(await readFile(join(data, 'runtime.json'), 'utf8'))
      const noToken = await fetch(`http://${runtime.api}/api/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(malware('x')) })
      assert.equal(noToken.status, 401)
      assert.equal(((await noToken.json()) as any).code, 'DRAGNET_UNAUTHORIZED')
      const ok = await fetch(`http://${runtime.api}/api/records?tlp=clear`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(malware('y')) })
      assert.equal(ok.status, 201)
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.on('exit', resolve))
    }
    await assert.rejects(stat(join(data, 'runtime.json')), 'runtime.json removed on graceful stop')
    const st = JSON.parse((await runCli(['status', '--data', data, '--json'])).stdout)
    assert.equal(st.records, 2)
  })

  it('survives SIGKILL in the middle of publishing 10k records: consistent store, seq continues without reuse', async () => {
    assert.equal((await runCli(['init', '--data', data])).code, 0)
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/helpers/publish-loop.ts'), data, '10000', '20'], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
    const acked = new Map<string, number>()
    let buf = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        buf += String(d)
        const lines = buf.split('\n')
        buf = lines.pop()!
        for (const l of lines) {
          const [id, seq] = l.split(' ')
          if (id === 'ERR') { reject(new Error(l)); return }
          acked.set(id, Number(seq))
        }
        if (acked.size >= 3000) child.kill('SIGKILL')
      })
      child.on('exit', () => resolve())
    })
    assert.ok(acked.size >= 3000 && acked.size < 10_000, `killed after ${acked.size} records`)
    const store = await Store.open(join(data, 'store'))
    const report = await checkConsistency(store)
    assert.deepEqual(report.problems, [])
    for (const id of acked.keys()) assert.ok(await store.has(id), `acknowledged record ${id} survived`)
    await store.close()
    const node = await DragnetNode.open({ dataDir: data, config: await loadConfig({}), log: silentLogger(), network: false })
    await node.start()
    try {
      const maxSeq = await node.store.maxSeq(node.peerId)
      assert.equal(maxSeq, report.records, 'seqs 1..n with no gaps')
      const [v] = await node.publish([malware('after-crash')], { tlp: 'green' })
      assert.equal(v.status, 'stored')
      assert.equal((v as any).record.record.seq, maxSeq + 1)
      assert.deepEqual(await node.store.idsBySeq(node.peerId, maxSeq + 1), [(v as any).id])
      assert.equal((await node.store.equivocations()).length, 0)
    } finally {
      await node.stop()
    }
  })
})
