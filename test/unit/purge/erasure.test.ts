import assert from 'node:assert/strict'
import type { DragnetNode } from '../../../src/node.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { requestGroups } from '../../../src/purge/index.js'
import { identityFor, startFederation, waitFor, type Federation } from '../../helpers/federation.js'
import { tempDir } from '../../helpers/tmp.js'

/*
 * Erasure requests handed over by hand (as a records file would carry them), in any order: the
 * member's policy sees the request and the record through ingest, whichever comes first.
 */

async function hand (from: DragnetNode, to: DragnetNode, ids: string[]): Promise<void> {
  const items = []
  for (const id of ids) items.push({ bytes: (await from.store.getBytes(id))!, from: from.peerId, source: 'import' as const })
  const verdicts = await to.ingest.receive(items)
  for (const v of verdicts) assert.equal(v.status, 'stored', JSON.stringify(v))
}

describe('erasure requests (members not connected)', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let fed: Federation | undefined

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => { await fed?.stop(); fed = undefined; await tmp.cleanup() })

  it('a record that arrives after an honoured request for it is declined before it is stored or forwarded', async () => {
    fed = await startFederation(tmp.dir, [{ name: 'A' }, { name: 'B' }], [], { transport: 'memory' })
    const [A, B] = fed.nodes
    const [r] = await A.publish([indicator({ kind: 'domain', value: 'early.example.net', seed: 'early' })], { tlp: 'green' })
    const record = (await A.store.getBytes(r.id!))!
    const out = await A.purge.erase([r.id!], 'wrong')
    await hand(A, B, [out.requests[0].id])
    await B.purge.settled()
    // Forwarding (gossip, webhooks, the stream) starts from a stored record: none may be seen.
    const stored: string[] = []
    const off = B.ingest.onStored((v) => { stored.push(v.id) })
    const [late] = await B.ingest.receive([{ bytes: record, from: A.peerId, source: 'import' }])
    off()
    assert.equal(late.status, 'rejected')
    assert.equal((late as { code: string }).code, 'DRAGNET_PURGED')
    assert.deepEqual(stored.filter(id => id === r.id), [], 'never stored, so never forwarded')
    assert.equal(await B.store.has(r.id!), false)
    await waitFor(async () => await B.store.isPurged(r.id!), 'B keeps a tombstone for the declined record')
    const t = (await B.purge.list())[0]
    assert.equal(t.id, r.id)
    assert.equal(t.operator, `erasure:${out.requests[0].id}`)
    assert.match(t.reason, /arrived after the request/)
    assert.equal(B.purge.stats.declined, 1)
    assert.equal(B.purge.stats.erasure.honoured, 1)
    assert.equal(B.store.tombstoneCount(), 1)
    // Offered again (by sync, say), it meets the tombstone.
    const [again] = await B.ingest.receive([{ bytes: record, from: A.peerId, source: 'sync' }])
    assert.equal((again as { code: string }).code, 'DRAGNET_PURGED')
    const audit = await B.store.auditEntries({ record: r.id! })
    assert.ok(audit.some(e => e.verdict === 'purge' && e.rule === 'erasure:honoured'), JSON.stringify(audit))
  })

  it('a member never honours a request for another author\'s record, and sends no receipt for it', async () => {
    fed = await startFederation(tmp.dir, [{ name: 'A' }, { name: 'B' }, { name: 'C' }], [], { transport: 'memory' })
    const [A, B, C] = fed.nodes
    const [mine] = await C.publish([indicator({ kind: 'domain', value: 'c.example.net', seed: 'c' })], { tlp: 'green' })
    await hand(C, B, [mine.id!])
    // A forges nothing: it signs a request naming C's record id, which ingest carries like any record.
    const [q] = await A.publish([{ type: 'x-dragnet-erasure-request', spec_version: '2.1', id: 'x-dragnet-erasure-request--6f1c3a34-5a57-4d7a-9a0e-4f5e8c1b2a10', created: new Date().toISOString(), modified: new Date().toISOString(), record_ids: [mine.id] }], { tlp: 'green' })
    await hand(A, B, [q.id!])
    await B.purge.settled()
    assert.ok(await B.store.has(mine.id!))
    const audit = await B.store.auditEntries({ record: mine.id! })
    assert.ok(audit.some(e => e.rule === 'erasure:not-author' && e.peer === A.peerId), JSON.stringify(audit))
    assert.equal(B.store.counts().records, 2, 'no receipt was published')
  })

  it('a federation root may ask to erase any record: honoured where it is a root, refused (not-author) elsewhere', async () => {
    const root = (await identityFor('R')).peerId
    const rooted = { federation: { roots: [root], threshold: 1 } }
    fed = await startFederation(tmp.dir, [{ name: 'R', config: rooted }, { name: 'B', config: rooted }, { name: 'C' }, { name: 'D' }], [], { transport: 'memory' })
    const [R, B, C, D] = fed.nodes
    const [rec] = await C.publish([indicator({ kind: 'domain', value: 'unlawful.example.net', seed: 'unlawful' })], { tlp: 'green' })
    await hand(C, R, [rec.id!])
    await hand(C, B, [rec.id!])
    await hand(C, D, [rec.id!])
    // D is no root: it may not ask for another author's record.
    await assert.rejects(D.purge.erase([rec.id!], 'court order'), /only its author or a federation root/)
    const out = await R.purge.erase([rec.id!], 'court order 4711')
    assert.ok(await R.store.isPurged(rec.id!))
    await hand(R, B, [out.requests[0].id])
    await hand(R, D, [out.requests[0].id])
    await Promise.all([B.purge.settled(), D.purge.settled()])
    await waitFor(async () => B.store.isPurged(rec.id!), 'B, whose federation R is a root of, honoured the request')
    assert.equal((await B.purge.list())[0].operator, `erasure:${out.requests[0].id}`)
    assert.ok(await D.store.has(rec.id!), 'D knows no roots: the request is not the author\'s')
    const audit = await D.store.auditEntries({ record: rec.id! })
    assert.ok(audit.some(e => e.rule === 'erasure:not-author' && e.peer === R.peerId), JSON.stringify(audit))
  })

  it('groups the records of a request by TLP and audience; red needs none', () => {
    const groups = requestGroups([
      { id: 'g1', tlp: 'green' }, { id: 'r1', tlp: 'red' }, { id: 'a1', tlp: 'amber', to: ['X', 'Y'] },
      { id: 'a2', tlp: 'amber', to: ['Y', 'X'] }, { id: 'a3', tlp: 'amber' }, { id: 'g2', tlp: 'green' }
    ])
    assert.deepEqual(groups.map(g => [g.tlp, g.to ?? null, g.ids]), [['green', null, ['g1', 'g2']], ['amber', ['X', 'Y'], ['a1', 'a2']], ['amber', null, ['a3']]])
  })
})
