import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { NodeIdentity } from '../../../src/identity/index.js'
import { createRecord, scopesOf } from '../../../src/record/index.js'
import { malware } from '../../../src/sim/stix-factory.js'
import { Store } from '../../../src/store/index.js'
import { SyncIndexes } from '../../../src/sync/index.js'
import { MAX_BOUND, MIN_BOUND } from '../../../src/sync/recon/index.js'
import { tempDir } from '../../helpers/tmp.js'

async function fill (store: Store, author: NodeIdentity, from: number, n: number): Promise<string[]> {
  const ids: string[] = []
  const writes = []
  for (let i = from; i < from + n; i++) {
    const r = createRecord(author, { seq: i, ts: 1_700_000_000_000 + i, tlp: i % 5 === 0 ? 'clear' : 'green', body: malware(`s${i}`) })
    ids.push(r.id)
    writes.push({ record: r, source: 'local' as const, modified: '2026-01-01T00:00:00.000Z', revoked: false, observables: [], newOwner: true, scopes: scopesOf(r.record) })
  }
  await store.write(writes)
  return ids
}

describe('store and sync index snapshots', () => {
  it('a clean close saves the in-memory indexes; the next open uses them only while the store is unchanged', async () => {
    const tmp = await tempDir()
    const dir = join(tmp.dir, 'store')
    const author = await NodeIdentity.generate()
    try {
      let store = await Store.open(dir)
      const ids = await fill(store, author, 1, 300)
      await store.write([], { known: [{ peer: '*', scope: 'green', ts: 5, id: '1220' + 'ab'.repeat(32), why: 'test' }] })
      const idx = new SyncIndexes()
      await idx.load(store, { declinedTtlMs: 1e9 })
      const fp = idx.view('green', 'p').fingerprint(MIN_BOUND, MAX_BOUND)
      await idx.saveSnapshot(`${dir}.sync.snap`, store.counts().generation)
      await store.close()
      assert.ok((await stat(`${dir}.index.snap`)).size > 0)

      // Unchanged store: both snapshots are used, and they answer as the scans would.
      store = await Store.open(dir)
      const again = new SyncIndexes()
      const loaded = await again.load(store, { declinedTtlMs: 1e9, snapshotFile: `${dir}.sync.snap` })
      assert.equal(loaded.snapshot, true)
      assert.deepEqual(again.view('green', 'p').fingerprint(MIN_BOUND, MAX_BOUND), fp)
      assert.equal(again.phantom('p', '1220' + 'ab'.repeat(32))?.ts, 5)
      assert.deepEqual(await store.hasMany(ids.slice(0, 5)), [true, true, true, true, true])
      assert.equal(await store.maxSeq(author.peerId), 300)

      // A write after the snapshot (as after a crash) makes it stale: the sync index is rebuilt from keys.
      await fill(store, author, 301, 10)
      const rebuilt = new SyncIndexes()
      const r2 = await rebuilt.load(store, { declinedTtlMs: 1e9, snapshotFile: `${dir}.sync.snap` })
      assert.equal(r2.snapshot, false)
      assert.equal(rebuilt.size('green') + rebuilt.size('clear'), 310 + 1)
      await store.close()
      store = await Store.open(dir)
      assert.equal(await store.maxSeq(author.peerId), 310, 'the store snapshot saved at the last close includes the later writes')
      await store.close()
    } finally {
      await tmp.cleanup()
    }
  })
})
