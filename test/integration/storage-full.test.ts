import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startApi, type RunningApi } from '../../src/api/server.js'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir, NodeIdentity } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { createRecord } from '../../src/record/index.js'
import { malware } from '../../src/sim/stix-factory.js'
import { Store } from '../../src/store/index.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * A disk that really fills: a small tmpfs mounted for the test. Mounting needs root (or a
 * container that allows it); elsewhere the suite skips and says why.
 */

async function mountTmpfs (ctx: Mocha.Context, dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' })
  if (r.status !== 0) {
    console.log(`    (skipped: cannot mount a ${size} tmpfs to fill a disk for real: ${(r.stderr ?? String(r.error)).trim()})`)
    ctx.skip()
  }
}

function unmount (dir: string): void {
  spawnSync('umount', [dir])
}

/** Fills the filesystem of `dir` up to `leave` free bytes. */
async function fill (dir: string, leave: number): Promise<string> {
  const st = await statfs(dir)
  const file = join(dir, 'filler')
  const free = st.bavail * st.bsize
  await writeFile(file, Buffer.alloc(Math.max(0, free - leave)))
  return file
}

/** Waits for `cond`, checking every `everyMs`, failing after `timeoutMs`. */
async function until (what: string, cond: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!await cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

describe('storage: a full disk', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const mounts: string[] = []

  before(async function () {
    tmp = await tempDir()
    const probe = join(tmp.dir, 'probe')
    await mountTmpfs(this, probe, '1m')
    unmount(probe)
  })

  after(async () => {
    for (const m of mounts) unmount(m)
    await tmp?.cleanup()
  })

  it('a write answers DRAGNET_STORAGE (507), /health and metrics say degraded, and the node recovers by itself when space returns', async function () {
    const mnt = join(tmp.dir, 'api')
    await mountTmpfs(this, mnt, '3m')
    mounts.push(mnt)
    const dataDir = join(mnt, 'node')
    await initDataDir(dataDir, { name: 'full', country: 'DE' })
    const config = await loadConfig({ overrides: { ingest: { verifyWorkers: 0 } } })
    const node = await DragnetNode.open({ dataDir, config, log: silentLogger(), network: false, store: { recoverMs: 100 } })
    const token = 'admin-token-0123456789abcdef'
    let api: RunningApi | undefined
    try {
      await node.start({ api: async n => (api = await startApi(n, '127.0.0.1:0', { token })) })
      const base = `http://${api!.address}`
      const post = async (seed: string): Promise<{ status: number, body: any }> => {
        const objects = Array.from({ length: 10 }, (_, i) => malware(`${seed}-${i}`, `${seed} ${i} ${'x'.repeat(2000)}`))
        const r = await fetch(`${base}/api/records?tlp=green`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(objects) })
        return { status: r.status, body: await r.json() }
      }
      assert.equal((await post('before')).status, 201)
      const filler = await fill(mnt, 32 * 1024)
      let refused: { status: number, body: any } | undefined
      for (let i = 0; i < 200 && refused == null; i++) {
        const r = await post(`full-${i}`)
        if (r.status !== 201) refused = r
      }
      assert.ok(refused != null, 'the disk filled')
      assert.equal(refused.status, 507, JSON.stringify(refused.body))
      assert.equal(refused.body.code, 'DRAGNET_STORAGE')
      const stored = node.store.counts().records

      const health = await fetch(`${base}/health`)
      assert.equal(health.status, 503)
      const h = await health.json() as any
      assert.equal(h.status, 'degraded')
      assert.equal(h.storage.ok, false)
      assert.match(h.storage.error, /No space left/)
      const metrics = await (await fetch(`${base}/metrics`)).text()
      assert.match(metrics, /^dragnet_storage_degraded 1$/m)
      assert.match(metrics, /^dragnet_storage_errors_total [1-9][0-9]*$/m)
      // Reads go on while writes cannot.
      const list = await fetch(`${base}/api/records?limit=5`)
      assert.equal(list.status, 200)

      await rm(filler)
      await until('/health to say ok again', async () => (await fetch(`${base}/health`)).status === 200)
      const after = await post('after')
      assert.equal(after.status, 201, JSON.stringify(after.body))
      assert.equal(node.store.counts().records, stored + 10)
      assert.match(await (await fetch(`${base}/metrics`)).text(), /^dragnet_storage_degraded 0$/m)
      // The seqs signed for the writes that failed were given out again: no gap.
      assert.equal(await node.store.maxSeq(node.peerId), node.store.counts().records)
    } finally {
      await node.stop()
    }
  })

  it('a failed background write sticks in LevelDB until it is reopened: recovery reopens it', async function () {
    const mnt = join(tmp.dir, 'store')
    await mountTmpfs(this, mnt, '2m')
    mounts.push(mnt)
    // A small write buffer makes LevelDB write table files often, so the disk fills in one.
    const store = await Store.open(join(mnt, 'db'), { writeBufferSize: 64 * 1024, recoverMs: 3_600_000 })
    const author = await NodeIdentity.generate()
    try {
      const filler = await fill(mnt, 300 * 1024)
      let seq = 0
      let failure: any
      while (failure == null && seq < 5000) {
        const r = createRecord(author, { seq: ++seq, ts: Date.now(), tlp: 'green', body: malware(`s${seq}`, 'y'.repeat(1500)) })
        try {
          await store.write([{ record: r, source: 'local', modified: '2026-01-01T00:00:00.000Z', revoked: false, observables: [], newOwner: true }])
        } catch (err) {
          failure = err
        }
      }
      assert.equal(failure?.code, 'DRAGNET_STORAGE', String(failure))
      assert.equal(store.health().ok, false)
      const held = store.counts().records
      await rm(filler)
      // Room again, yet LevelDB still refuses: the failed table write is its state now.
      const probe = createRecord(author, { seq: ++seq, ts: Date.now(), tlp: 'green', body: malware('probe') })
      await assert.rejects(store.write([{ record: probe, source: 'local', modified: '2026-01-01T00:00:00.000Z', revoked: false, observables: [], newOwner: true }]), (err: any) => err.code === 'DRAGNET_STORAGE')
      assert.equal(await store.recover(), true)
      assert.deepEqual({ ok: store.health().ok, errors: store.health().errors > 0 }, { ok: true, errors: true })
      const r = createRecord(author, { seq: ++seq, ts: Date.now(), tlp: 'green', body: malware('after') })
      await store.write([{ record: r, source: 'local', modified: '2026-01-01T00:00:00.000Z', revoked: false, observables: [], newOwner: true }])
      assert.equal(store.counts().records, held + 1)
      assert.ok(await store.has(r.id))
    } finally {
      await store.close()
    }
  })
})
