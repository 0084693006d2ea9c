import assert from 'node:assert/strict'
import { join } from 'node:path'
import { indicator } from '../../../src/sim/stix-factory.js'
import { Store } from '../../../src/store/index.js'
import { preloadSyncIndexes } from '../../../src/sync/index.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

/*
 * A node loads its sync indexes first thing in its start: from the snapshot of its last clean
 * stop, or by reading every sync key, after which the store is reopened so the table pages that
 * scan mapped leave the process. The reopened store must answer and accept writes as before.
 */
describe('sync index preload and the store reopen after it', function () {
  it('builds the indexes from the sync keys, reopens the store, and the store still reads and writes', async function () {
    const tmp = await tempDir()
    try {
      const node = await testNode({ dir: tmp.dir })
      const verdicts = await node.publish([1, 2, 3, 4, 5].map(i => indicator({ kind: 'ipv4', value: `198.51.100.${i}` })), { tlp: 'green' })
      await node.stop()
      const ids = verdicts.map(v => v.id!)
      const store = await Store.open(join(tmp.dir, 'store'))
      try {
        const pre = await preloadSyncIndexes(store, { reopenAfterKeys: 0 })
        assert.equal(pre.loaded.snapshot, false)
        assert.equal(pre.loaded.records, 5)
        assert.equal(pre.indexes.size('green'), 5)
        assert.equal(pre.generation, store.counts().generation)
        // Reads after the reopen (a store this small is reopened only when asked: reopenAfterKeys 0).
        const stored = await store.getManyStored(ids)
        assert.deepEqual(stored.map(s => s?.info.tlp), ids.map(() => 'green'))
        assert.equal(store.counts().records, 5)
        // And it can be done again, also with a write in between.
        await store.writeDecisions([], [{ peer: '*', scope: 'green', ts: 1, id: `1220${'ab'.repeat(32)}`, why: 'test' }])
        await store.releaseMappedTables()
        const known = []
        for await (const k of store.knownEntries()) known.push(k.id)
        assert.deepEqual(known, [`1220${'ab'.repeat(32)}`])
      } finally {
        await store.close()
      }
    } finally {
      await tmp.cleanup()
    }
  })

  it('uses the snapshot of a clean stop instead, and leaves the store as it was', async function () {
    const tmp = await tempDir()
    try {
      const node = await testNode({ dir: tmp.dir })
      await node.publish([indicator({ kind: 'domain', value: 'preload.example' })], { tlp: 'clear' })
      await node.stop()
      const store = await Store.open(join(tmp.dir, 'store'))
      try {
        const first = await preloadSyncIndexes(store)
        assert.equal(first.loaded.snapshot, false)
        await first.indexes.saveSnapshot(`${store.dir}.sync.snap`, store.counts().generation)
        const second = await preloadSyncIndexes(store)
        assert.equal(second.loaded.snapshot, true)
        assert.equal(second.indexes.size('clear'), 1)
      } finally {
        await store.close()
      }
    } finally {
      await tmp.cleanup()
    }
  })
})
