import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { NodeIdentity } from '../../../src/identity/index.js'
import { createRecord } from '../../../src/record/index.js'
import { malware } from '../../../src/sim/stix-factory.js'
import { checkConsistency } from '../../../src/store/check.js'
import { STORE_FORMAT, Store } from '../../../src/store/index.js'
import { tempDir } from '../../helpers/tmp.js'

describe('store: format 1 → 2 (amber reconciled per recipient)', () => {
  it('rewrites an old store\'s per-author amber sync keys per recipient and drops known ids under the old scopes', async () => {
    const tmp = await tempDir()
    const dir = join(tmp.dir, 'store')
    try {
      const [author, b, c] = await Promise.all([NodeIdentity.generate(), NodeIdentity.generate(), NodeIdentity.generate()])
      let store = await Store.open(dir)
      const toTwo = createRecord(author, { seq: 1, ts: 1_700_000_000_000, tlp: 'amber', to: [b.peerId, c.peerId], body: malware('two') })
      const toAll = createRecord(author, { seq: 2, ts: 1_700_000_000_001, tlp: 'amber+strict', body: malware('all') })
      const green = createRecord(author, { seq: 3, ts: 1_700_000_000_002, tlp: 'green', body: malware('g') })
      const legacy = `amber:${author.peerId}`
      // As format 1 wrote them: one scope per author for every amber record.
      await store.write([toTwo, toAll, green].map(r => ({ record: r, source: 'gossip' as const, modified: '2026-01-01T00:00:00.000Z', revoked: false, observables: [], newOwner: true, scopes: r.record.tlp === 'green' ? ['green'] : [legacy] })),
        { known: [{ peer: b.peerId, scope: legacy, ts: 5, id: '1220' + 'ab'.repeat(32), why: 'declined by peer' }] })
      await store.putMeta('format', 1)
      await store.close()
      await rm(store.snapshotFile, { force: true })
      store = await Store.open(dir)
      try {
        assert.equal(await store.getMeta('format'), STORE_FORMAT)
        const keys: string[] = []
        for await (const [k] of store.iterateRaw('sync')) keys.push(k.slice(0, k.indexOf('!')))
        assert.deepEqual(keys.sort(), ['green', `amber:${author.peerId}:*`, `amber:${author.peerId}:${b.peerId}`, `amber:${author.peerId}:${c.peerId}`].sort())
        let known = 0
        for await (const _ of store.knownEntries()) known++
        assert.equal(known, 0)
        assert.deepEqual((await checkConsistency(store)).problems, [])
      } finally {
        await store.close()
      }
    } finally {
      await tmp.cleanup()
    }
  })
})
