import assert from 'node:assert/strict'
import { opine, sight } from '../../src/api/feedback.js'
import type { Verdict } from '../../src/ingest/index.js'
import type { DragnetNode } from '../../src/node.js'
import { compilePolicy, type Policy } from '../../src/policy/index.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { classifyValue } from '../../src/stix/index.js'
import { federationConfidence, lookupPage, lookupSummary, type LookupSummary } from '../../src/store/queries.js'
import { startFederation, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * Four real nodes over TCP on 127.0.0.1, every member peering with every other:
 *
 *   A  reports the value; withholds indicators with a disagreement (withhold-disputed)
 *   B  sights it (green); its policy withholds sightings and opinions from everyone
 *      (no-feedback-onward), yet its sighting still reaches A: feedback goes back to its author
 *   C  sights it (green); refuses feedback on objects it never held (no-feedback-on-unknown) and
 *      indicators labelled internal (no-internal)
 *   D  sights it at amber (addressed to A alone) and disagrees: "false positive: CDN address"
 */
const VALUE = '198.51.100.77'

const policy = (name: string, rules: unknown[]): Policy => compilePolicy({ name, rules }, '.')

const POLICIES: Record<string, Policy> = {
  A: policy('a', [{ id: 'withhold-disputed', direction: 'outbound', match: { type: 'indicator', disagreements: { gte: 1 } }, action: 'withhold', reason: 'disputed by a member' }]),
  B: policy('b', [{ id: 'no-feedback-onward', direction: 'outbound', match: { type: ['sighting', 'opinion'] }, action: 'withhold' }]),
  C: policy('c', [
    { id: 'no-feedback-on-unknown', direction: 'inbound', match: { target: { held: false } }, action: 'reject' },
    { id: 'no-internal', direction: 'inbound', match: { labels: { any: ['internal'] } }, action: 'reject' }
  ])
}

function storedId (verdicts: Verdict[]): string {
  assert.equal(verdicts.length, 1, JSON.stringify(verdicts))
  const v = verdicts[0]
  assert.equal(v.status, 'stored', JSON.stringify(v))
  return v.id
}

async function summaryAt (node: DragnetNode): Promise<LookupSummary> {
  const page = await lookupPage(node.store, classifyValue(VALUE)!)
  return await lookupSummary(node.store, page.records)
}

async function audited (node: DragnetNode, record: string, peer: string, rule: string, verdict: string): Promise<boolean> {
  const entries = await node.store.auditEntries({ record, peer })
  return entries.some(e => e.rule === rule && e.verdict === verdict)
}

describe('sightings and opinions across four members over TCP', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let fed: Federation
  let A: DragnetNode, B: DragnetNode, C: DragnetNode, D: DragnetNode
  const edges: Array<[number, number]> = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
  let ioc: Record<string, unknown>
  let amberSighting: string
  let disagreement: string
  let sightings: Record<string, string>

  before(async () => {
    tmp = await tempDir('dragnet-feedback-')
    fed = await startFederation(tmp.dir, ['A', 'B', 'C', 'D'].map(name => ({ name, policy: POLICIES[name] })), edges)
    ;[A, B, C, D] = fed.nodes
    await waitConnected(fed.nodes, edges)
    ioc = indicator({ kind: 'ipv4', value: VALUE, seed: 'feedback-test', labels: ['c2'] }) as Record<string, unknown>
    const id = storedId(await A.publish([ioc], { tlp: 'green' }))
    await waitFor(async () => (await Promise.all([B, C, D].map(async n => await n.store.has(id)))).every(Boolean), 'every member holds the indicator')

    sightings = {
      B: storedId(await sight(B, { target: VALUE, where: 'FR border gateway' })),
      C: storedId(await sight(C, { target: VALUE, count: 1 }))
    }
    amberSighting = storedId(await sight(D, { target: VALUE, tlp: 'amber' }))
    disagreement = storedId(await opine(D, { target: id, opinion: 'disagree', reason: 'false positive: CDN address' }))
  })

  after(async () => {
    await fed?.stop()
    await tmp?.cleanup()
  })

  it("the author's lookup shows 3 sightings, 1 disagreement with its reason, and the confidence", async () => {
    await waitFor(async () => { const s = await summaryAt(A); return s.sightings === 3 && s.opinions.disagree === 1 }, "A's summary counts every sighting and the disagreement")
    const s = await summaryAt(A)
    assert.deepEqual(s.reporters, [A.peerId])
    assert.equal(s.sightings, 3)
    assert.deepEqual([...s.sighted_by].sort(), [B.peerId, C.peerId, D.peerId].sort())
    assert.equal(s.opinions.agree, 0)
    assert.equal(s.opinions.disagree, 1)
    assert.deepEqual(s.opinions.reasons, [{ member: D.peerId, opinion: 'disagree', reason: 'false positive: CDN address' }])
    assert.ok(s.first_seen != null && s.last_seen != null && s.first_seen <= s.last_seen)
    // Two members support (D disagrees, so its sighting does not), one disagrees, all fresh.
    const base = typeof ioc.confidence === 'number' ? ioc.confidence : 50
    assert.equal(s.confidence, federationConfidence({ base, support: 2, against: 1, idleDays: 0 }))
    assert.ok(s.confidence < federationConfidence({ base, support: 3, against: 0, idleDays: 0 }), 'a disagreement lowers the confidence')
  })

  it('an amber sighting reaches only its recipient, the author', async () => {
    await waitFor(async () => await A.store.has(amberSighting), 'A holds the amber sighting')
    const rec = await A.store.getRecord(amberSighting)
    assert.deepEqual(rec?.record.record.to, [A.peerId])
    // D published its green opinion after the amber sighting: once B and C hold it, the amber one would have arrived too.
    await waitFor(async () => await B.store.has(disagreement) && await C.store.has(disagreement), 'B and C hold the green opinion')
    assert.equal(await B.store.has(amberSighting), false)
    assert.equal(await C.store.has(amberSighting), false)
    const atB = await summaryAt(B)
    assert.equal(atB.sighted_by.includes(D.peerId), false, 'B learns nothing of the amber sighting')
  })

  it("feedback flows back to the author even when the sender's policy keeps it from everyone else; the audit says why", async () => {
    await waitFor(async () => await A.store.has(sightings.B), "A holds B's sighting")
    await waitFor(async () => await audited(B, sightings.B, A.peerId, 'feedback:to-author', 'send'), "B's audit shows the send to the author")
    await waitFor(async () => await audited(B, sightings.B, C.peerId, 'no-feedback-onward', 'withhold'), "B's audit shows the withholding from C")
    const why = await B.decideNow(sightings.B, D.peerId)
    assert.equal(why?.rule, 'no-feedback-onward')
    assert.equal((await B.decideNow(sightings.B, A.peerId))?.rule, 'feedback:to-author')
  })

  it('a policy that withholds disputed indicators takes effect', async () => {
    await waitFor(() => A.store.feedbackCounts(String(ioc.id))?.disagree === 1, 'A counts the disagreement')
    const next = { ...ioc, modified: new Date(Date.parse(String(ioc.modified)) + 1000).toISOString(), description: 'still active' }
    const id = storedId(await A.publish([next], { tlp: 'green' }))
    for (const peer of [B, C, D]) await waitFor(async () => await audited(A, id, peer.peerId, 'withhold-disputed', 'withhold'), `A withholds the disputed indicator from ${peer.roster.self.name}`)
    for (const peer of [B, C, D]) assert.equal(await peer.store.has(id), false)
  })

  it('a sighting of an object a member never held is refused by its inbound rule', async () => {
    // C refuses A's internal indicator; D's sighting of it then reaches C, which never held it.
    const internal = indicator({ kind: 'domain', value: 'internal-c2.example.net', seed: 'feedback-test-internal', labels: ['internal'] }) as Record<string, unknown>
    const internalId = storedId(await A.publish([internal], { tlp: 'green' }))
    await waitFor(async () => await D.store.has(internalId), 'D holds the internal indicator')
    await waitFor(async () => (await C.store.auditEntries({ record: internalId })).some(e => e.rule === 'no-internal'), 'C refuses the indicator')
    const s = storedId(await sight(D, { target: internalId }))
    await waitFor(async () => await B.store.has(s), 'B (no such rule) takes the sighting')
    await waitFor(async () => (await C.store.auditEntries({ record: s })).some(e => e.verdict === 'reject' && e.rule === 'no-feedback-on-unknown'), 'C refuses it by its rule')
    assert.equal(await C.store.has(s), false)
  })

  it('a sighting is never looser than its object: of an amber indicator it is amber, addressed to the indicator\'s author', async () => {
    const hidden = indicator({ kind: 'domain', value: 'cdn-edge.example.net', seed: 'feedback-test-hidden' }) as Record<string, unknown>
    const hiddenId = storedId(await D.publish([hidden], { tlp: 'amber', to: [A.peerId] }))
    await waitFor(async () => await A.store.has(hiddenId), 'A holds the amber indicator')
    await assert.rejects(sight(A, { target: hiddenId, tlp: 'green' }), { code: 'DRAGNET_TLP_CONFLICT' })
    const s = storedId(await sight(A, { target: hiddenId }))
    const rec = await A.store.getRecord(s)
    assert.equal(rec?.record.record.tlp, 'amber')
    assert.deepEqual(rec?.record.record.to, [D.peerId])
    await waitFor(async () => await D.store.has(s), 'the author D holds the sighting')
    await waitFor(() => D.store.feedbackCounts(String(hidden.id))?.sightings === 1, "D's index counts it")
  })
})
