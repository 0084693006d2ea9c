import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { NodeIdentity } from '../../../src/identity/index.js'
import { createRecord, scopesOf, type SignedRecord } from '../../../src/record/index.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { analyzeStixObject } from '../../../src/stix/index.js'
import { checkConsistency } from '../../../src/store/check.js'
import { STORE_FORMAT, Store, type AuditEntry, type RecordWrite } from '../../../src/store/index.js'
import { decodeStored } from '../../../src/store/record-value.js'
import { tempDir } from '../../helpers/tmp.js'

const MODIFIED = '2026-01-01T00:00:00.000Z'

function writeOf (signed: SignedRecord, from: string, at: number): RecordWrite {
  const accept: AuditEntry = { at, direction: 'inbound', verdict: 'accept', rule: 'inbound:default', reason: 'allowed', record: signed.id, peer: from, source: 'gossip' }
  return {
    record: signed,
    source: 'gossip',
    from,
    modified: MODIFIED,
    revoked: false,
    observables: analyzeStixObject(signed.record.body).observables,
    newOwner: true,
    scopes: scopesOf(signed.record),
    audit: [accept]
  }
}

/** Every key of the store, by bucket prefix. */
async function keysByBucket (dir: string): Promise<Map<string, string[]>> {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  const out = new Map<string, string[]>()
  try {
    for await (const k of db.keys()) {
      const b = k.slice(0, k.indexOf(':'))
      out.set(b, [...(out.get(b) ?? []), k])
    }
  } finally {
    await db.close()
  }
  return out
}

/**
 * Rewrites a format-5 store as format 4 wrote it: bare envelopes under `rec:`, RecordInfo JSON
 * under `info:`, an `auditr:` key for every accept entry, domains under `obs:domain!` as well.
 */
async function downgradeToFormat4 (dir: string): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  await db.open()
  try {
    const batch = db.batch()
    for await (const [k, v] of db.iterator({ gte: 'rec:', lt: 'rec;' })) {
      const id = k.slice('rec:'.length)
      const { info, bytes, auditKey } = decodeStored(v)
      batch.put(k, bytes.slice())
      batch.put(`info:${id}`, new TextEncoder().encode(JSON.stringify(info)))
      if (auditKey != null) batch.put(`auditr:${id}!${auditKey}`, new Uint8Array(0))
    }
    for await (const k of db.keys({ gte: 'dom:', lt: 'dom;' })) {
      const [reversed, id] = k.slice('dom:'.length).split('.!')
      batch.put(`obs:domain!${reversed.split('.').reverse().join('.')}!${id}`, new Uint8Array(0))
    }
    batch.put('meta:format', new TextEncoder().encode('4'))
    await batch.write()
  } finally {
    await db.close()
  }
}

describe('store: format 5 (a record and its info under one key)', function () {
  this.timeout(60_000)

  it('writes 9 keys for a domain indicator from a peer (its accept audit entry included) where format 4 wrote 12', async () => {
    const tmp = await tempDir()
    const dir = join(tmp.dir, 'store')
    try {
      const [author, peer] = await Promise.all([NodeIdentity.generate(), NodeIdentity.generate()])
      const store = await Store.open(dir)
      const signed = createRecord(author, { seq: 1, ts: 1_700_000_000_000, tlp: 'green', body: indicator({ kind: 'domain', value: 'a.example.com' }) })
      await store.write([writeOf(signed, peer.peerId, 1_700_000_000_500)])
      await store.close()
      const keys = await keysByBucket(dir)
      const perRecord = [...keys].filter(([b]) => b !== 'meta').flatMap(([, ks]) => ks)
      // rec, arr, vt, own, dom, aseq, sync, audit, auditp
      assert.deepEqual([...keys.keys()].filter(b => b !== 'meta').sort(), ['arr', 'aseq', 'audit', 'auditp', 'dom', 'own', 'rec', 'sync', 'vt'])
      assert.equal(perRecord.length, 9)
      await downgradeToFormat4(dir)
      const old = [...await keysByBucket(dir)].filter(([b]) => b !== 'meta').flatMap(([, ks]) => ks)
      assert.equal(old.length, 12)
    } finally {
      await tmp.cleanup()
    }
  })

  it('a format-4 store opens as format 5 and answers the same: records, infos, audit by record and peer, lookups, purge', async () => {
    const tmp = await tempDir()
    const dir = join(tmp.dir, 'store')
    try {
      const [author, peer] = await Promise.all([NodeIdentity.generate(), NodeIdentity.generate()])
      let store = await Store.open(dir)
      const values: Array<[kind: 'domain' | 'ipv4' | 'sha256', value: string]> = [['domain', 'x.y.example.com'], ['domain', 'example.com'], ['ipv4', '192.0.2.7'], ['sha256', 'ab'.repeat(32)]]
      const records = values.map(([kind, value], i) => createRecord(author, { seq: i + 1, ts: 1_700_000_000_000 + i, tlp: 'green', body: indicator({ kind, value }) }))
      await store.write(records.map((r, i) => writeOf(r, peer.peerId, 1_700_000_001_000 + i)))
      await store.writeDecisions([{ at: 1_700_000_002_000, direction: 'outbound', verdict: 'send', rule: 'outbound:default', reason: 'allowed', record: records[0].id, peer: peer.peerId }])
      const answers = async (s: Store): Promise<unknown> => ({
        infos: await s.getManyInfo(records.map(r => r.id)),
        bytes: (await s.getManyBytes(records.map(r => r.id))).map(b => Buffer.from(b!).toString('hex')),
        record: (await s.getRecord(records[2].id))?.record.id,
        has: await s.hasMany([...records.map(r => r.id), '1220' + 'cd'.repeat(32)]),
        auditOfRecord: await s.auditEntries({ record: records[0].id }),
        auditOfRecordLimited: await s.auditEntries({ record: records[0].id, limit: 1 }),
        auditOfPeer: await s.auditEntries({ peer: peer.peerId }),
        exact: (await s.lookupIds({ kind: 'domain', value: 'example.com' })).sort(),
        subdomains: (await s.lookupIds({ kind: 'domain', value: 'example.com' }, { subdomains: true })).sort(),
        ip: await s.lookupIds({ kind: 'ipv4-cidr', value: '192.0.2.0/24' }),
        hash: await s.lookupIds({ kind: 'sha256', value: 'ab'.repeat(32) }),
        counts: s.counts().records
      })
      const before = await answers(store)
      assert.equal((before as { auditOfRecord: AuditEntry[] }).auditOfRecord.length, 2)
      await store.close()
      await rm(store.snapshotFile, { force: true })
      await downgradeToFormat4(dir)

      store = await Store.open(dir)
      try {
        assert.equal(await store.getMeta('format'), STORE_FORMAT)
        assert.deepEqual(await answers(store), before)
        assert.deepEqual((await checkConsistency(store)).problems, [])
        let infos = 0
        for await (const _ of store.iterateRaw('info')) infos++
        assert.equal(infos, 0)

        // A purged record keeps its audit trail, whether its accept entry has an `auditr:` key
        // (format 4) or was found through the record (format 5: the purge gives it a key).
        const fresh = createRecord(author, { seq: 9, ts: 1_700_000_000_009, tlp: 'green', body: indicator({ kind: 'domain', value: 'new.example.com' }) })
        await store.write([writeOf(fresh, peer.peerId, 1_700_000_003_000)])
        assert.deepEqual((await store.auditEntries({ record: fresh.id })).map(e => e.verdict), ['accept'])
        const observablesOf = (s: SignedRecord): RecordWrite['observables'] => analyzeStixObject(s.record.body).observables
        const r = await store.purge([records[0].id, fresh.id], { reason: 'test', operator: 'operator', rule: 'purge:operator', observablesOf })
        assert.equal(r.purged.length, 2)
        assert.deepEqual((await store.auditEntries({ record: records[0].id })).map(e => e.verdict), ['purge', 'send', 'accept'])
        assert.deepEqual((await store.auditEntries({ record: fresh.id })).map(e => e.verdict), ['purge', 'accept'])
        assert.deepEqual((await checkConsistency(store)).problems, [])
      } finally {
        await store.close()
      }
    } finally {
      await tmp.cleanup()
    }
  })
})
