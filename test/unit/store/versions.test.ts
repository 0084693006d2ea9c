import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Level } from 'level'
import { NodeIdentity } from '../../../src/identity/index.js'
import type { Stored, Verdict } from '../../../src/ingest/index.js'
import type { DragnetNode } from '../../../src/node.js'
import { createRecord, scopesOf } from '../../../src/record/index.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'
import { classifyValue, compareVersionNames, stixInstantKey } from '../../../src/stix/index.js'
import { Store } from '../../../src/store/index.js'
import { checkConsistency } from '../../../src/store/check.js'
import { getRecordJson, lookup } from '../../../src/store/queries.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

/*
 * Versions ordered by instant (issue 10, item 11): STIX `modified` is a timestamp, and text order
 * is not time order: `…:00Z` sorts after `…:00.500Z`, and `+05:00` offsets sort by local time.
 */

const T0 = '2026-01-01T00:00:00Z' // the instant 00:00:00.000
const T500 = '2026-01-01T00:00:00.500Z' // half a second later, but "smaller" as text
const OFFSET_EARLY = '2026-01-01T04:00:00+05:00' // 2025-12-31T23:00Z: earlier, but "larger" as text

function stored (v: Verdict): Stored {
  assert.equal(v.status, 'stored', v.status === 'rejected' ? `${v.code}: ${v.reason}` : v.status)
  return v as Stored
}

describe('versions: ordered by instant, not by text', function () {
  this.timeout(30_000)

  it('compares and keys timestamps as UTC instants with microseconds', () => {
    assert.ok(compareVersionNames(T0, T500) < 0)
    assert.ok(compareVersionNames(OFFSET_EARLY, T0) < 0)
    assert.equal(compareVersionNames('2026-01-01T05:00:00+05:00', T0), 0, 'one instant written two ways')
    assert.ok(compareVersionNames('2026-01-01T00:00:00.000001Z', T0) > 0, 'microseconds count')
    assert.equal(compareVersionNames('2026-01-01T00:00:00.0000001Z', T0), 0, 'below a microsecond does not')
    assert.ok(compareVersionNames('', T0) < 0)
    assert.ok(stixInstantKey(T0)! < stixInstantKey(T500)!)
    assert.ok(stixInstantKey('0000-01-01T00:00:00-23:59')! < stixInstantKey('9999-12-31T23:59:59.999999+23:59')!)
    assert.equal(stixInstantKey('2026-02-30T00:00:00Z'), null)
  })

  describe('in a node', () => {
    let tmp: { dir: string, cleanup: () => Promise<void> }
    let node: DragnetNode
    let owner: NodeIdentity
    let carrier: NodeIdentity
    beforeEach(async () => {
      tmp = await tempDir()
      owner = await NodeIdentity.generate()
      carrier = await NodeIdentity.generate()
      node = await testNode({
        dir: tmp.dir,
        config: { roster: [{ peerId: owner.peerId, name: 'owner', country: 'FR', role: 'bureau', addrs: [] }, { peerId: carrier.peerId, name: 'carrier', country: 'NL', role: 'bureau', addrs: [] }] }
      })
    })
    afterEach(async () => {
      await node.stop()
      await tmp.cleanup()
    })

    it('the current version is the newest instant: .500Z beats :00Z, an earlier +05:00 time loses', async () => {
      const base = indicator({ kind: 'domain', value: 'versions.example', seed: 'versions', created: '2025-12-31T00:00:00Z' })
      const later = stored((await node.publish([{ ...base, modified: T500 }], { tlp: 'green' }))[0])
      const earlier = stored((await node.publish([{ ...base, modified: T0 }], { tlp: 'green' }))[0])
      const offset = stored((await node.publish([{ ...base, modified: OFFSET_EARLY }], { tlp: 'green' }))[0])
      assert.deepEqual((await node.store.versions(base.id)).map(v => v.id), [offset.id, earlier.id, later.id], 'the version index is ordered by instant')
      assert.equal(((await getRecordJson(node.store, later.id))!.local as { current: boolean }).current, true)
      assert.equal(((await getRecordJson(node.store, earlier.id))!.local as { current: boolean }).current, false)
      assert.equal(((await getRecordJson(node.store, offset.id))!.local as { current: boolean }).current, false)
      assert.deepEqual((await lookup(node.store, classifyValue('versions.example')!)).map(h => h.id), [later.id])
    })

    it('another member\'s record for an owned object is refused; only a newer instant counts as a takeover', async () => {
      const base = malware('carried')
      const v1 = { ...base, modified: T500 }
      stored((await node.ingest.receive([{ bytes: createRecord(owner, { seq: 1, ts: Date.now(), tlp: 'green', body: v1 }).bytes, from: owner.peerId, source: 'gossip' }]))[0])
      // ":00Z" is half a second older than the owner's version, though it sorts after it as text:
      // refused, but no takeover (nothing it could supersede).
      const [older] = await node.ingest.receive([{ bytes: createRecord(carrier, { seq: 1, ts: Date.now(), tlp: 'green', body: { ...base, modified: T0 } }).bytes, from: carrier.peerId, source: 'gossip' }])
      assert.equal(older.status === 'rejected' ? older.code : older.status, 'DRAGNET_NOT_OWNER')
      assert.equal(older.status === 'rejected' && older.penalize, false)
      const [newer] = await node.ingest.receive([{ bytes: createRecord(carrier, { seq: 2, ts: Date.now(), tlp: 'green', body: { ...base, modified: '2026-01-01T05:00:00.600+05:00' } }).bytes, from: carrier.peerId, source: 'gossip' }])
      assert.equal(newer.status === 'rejected' ? newer.code : newer.status, 'DRAGNET_NOT_OWNER')
      assert.equal(newer.status === 'rejected' && newer.penalize, true, 'a newer instant from its own author is a takeover attempt')
    })
  })

  it('a store written with version keys by text (format 1) is migrated when it opens', async () => {
    const tmp = await tempDir()
    const dir = join(tmp.dir, 'store')
    const author = await NodeIdentity.generate()
    try {
      let store = await Store.open(dir)
      const names = [T500, T0, OFFSET_EARLY, '2026-01-01T00:00:00.250Z']
      const ids: string[] = []
      for (const [i, modified] of names.entries()) {
        const r = createRecord(author, { seq: i + 1, ts: 1_700_000_000_000 + i, tlp: 'green', body: { ...malware('migrated'), modified } })
        ids.push(r.id)
        await store.write([{ record: r, source: 'local', modified, revoked: false, observables: [], newOwner: i === 0, scopes: scopesOf(r.record) }])
      }
      await store.close()

      // Rewrite the version index as format 1 kept it, as an older dragnet left it on disk.
      const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      await db.open()
      const batch = db.batch()
      for await (const [k, v] of db.iterator({ gte: 'vt:', lt: 'vt;' })) {
        const { modified, ...rest } = JSON.parse(v) as Record<string, unknown>
        const [stixId, , id] = k.slice(3).split('!')
        batch.put(`ver:${stixId}!${String(modified)}!${id}`, JSON.stringify(rest))
        batch.del(k)
      }
      batch.put('meta:format', '1')
      await batch.write()
      assert.deepEqual((await db.keys({ gte: 'ver:', lt: 'ver;' }).all()).length, 4)
      await db.close()

      store = await Store.open(dir)
      const versions = await store.versions(malware('migrated').id)
      assert.deepEqual(versions.map(v => v.modified), [OFFSET_EARLY, T0, '2026-01-01T00:00:00.250Z', T500])
      assert.deepEqual(versions.map(v => v.id), [ids[2], ids[1], ids[3], ids[0]])
      assert.deepEqual((await checkConsistency(store)).problems, [])
      const raw: string[] = []
      for await (const [k] of store.iterateRaw('versionsByText')) raw.push(k)
      assert.deepEqual(raw, [], 'no format-1 keys are left')
      await store.close()
      store = await Store.open(dir)
      assert.equal((await store.versions(malware('migrated').id)).length, 4, 'a migrated store opens at the current format')
      await store.close()
    } finally {
      await tmp.cleanup()
    }
  })
})
