import { join } from 'node:path'
import { initDataDir, loadIdentity, type NodeIdentity } from '../../src/identity/index.js'
import { createRecord, scopesOf } from '../../src/record/index.js'
import { realisticIndicators } from '../../src/sim/data-source.js'
import { analyzeStixObject } from '../../src/stix/index.js'
import { Store, type RecordWrite } from '../../src/store/index.js'

/**
 * A data dir holding `n` records authored by its own key, written straight into the store in
 * big batches (the records are ours and valid, so the receive path's checks are not what is
 * measured here). Realistic content: indicators from the shared data's values.
 */
export async function buildReplica (dir: string, n: number, opts: { seed?: Uint8Array, onProgress?: (done: number) => void } = {}): Promise<NodeIdentity> {
  await initDataDir(dir, { name: 'replica', seed: opts.seed, force: true })
  const identity = await loadIdentity(dir)
  const store = await Store.open(join(dir, 'store'))
  const bodies = await realisticIndicators(Math.min(n, 20_000), `replica:${identity.peerId}`)
  const start = Date.now() - n
  try {
    const batch = 2000
    for (let i = 0; i < n; i += batch) {
      const writes: RecordWrite[] = []
      for (let j = i; j < Math.min(n, i + batch); j++) {
        const src = bodies[j % bodies.length]
        const body = { ...src, id: `indicator--${src.id.slice(11, 19)}-${(j >>> 16).toString(16).padStart(4, '0')}-4${(j & 0xfff).toString(16).padStart(3, '0')}-8${((j >>> 12) & 0xf).toString(16)}00-${String(j).padStart(12, '0')}` }
        const signed = createRecord(identity, { seq: j + 1, ts: start + j, tlp: 'green', body })
        const a = analyzeStixObject(body)
        writes.push({ record: signed, source: 'local', modified: String(body.modified), revoked: false, observables: a.observables, newOwner: true, scopes: scopesOf(signed.record) })
      }
      await store.write(writes)
      opts.onProgress?.(Math.min(n, i + batch))
    }
  } finally {
    await store.close()
  }
  return identity
}
