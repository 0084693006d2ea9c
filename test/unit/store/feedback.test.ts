import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Level } from 'level'
import { NodeIdentity } from '../../../src/identity/index.js'
import type { DragnetNode } from '../../../src/node.js'
import { createRecord, type Tlp } from '../../../src/record/index.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { analyzeStixObject, classifyValue } from '../../../src/stix/index.js'
import { contributionsOf, type RecordWrite } from '../../../src/store/index.js'
import { lookupPage, lookupSummary } from '../../../src/store/queries.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

const VALUE = '192.0.2.150'
const at = (min: number): string => new Date(Date.UTC(2026, 0, 1, 0, min)).toISOString()

function sightingOf (target: string, id: string, modified: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'sighting', spec_version: '2.1', id, created: at(0), modified, sighting_of_ref: target, count: 1, first_seen: modified, last_seen: modified, ...extra }
}

function opinionOf (target: string, id: string, modified: string, opinion: string, explanation?: string): Record<string, unknown> {
  return { type: 'opinion', spec_version: '2.1', id, created: at(0), modified, object_refs: [target], opinion, ...(explanation != null ? { explanation } : {}) }
}

/** Other members' records written as ingest would (their signatures, their feedback contributions). */
function writeOf (who: NodeIdentity, seq: number, body: Record<string, unknown>, tlp: Tlp = 'green', newOwner = true): RecordWrite {
  const a = analyzeStixObject(body)
  const record = createRecord(who, { seq, ts: Date.now(), tlp, body: a.object })
  return { record, source: 'gossip', modified: String(a.object.modified), revoked: a.object.revoked === true, observables: a.observables, newOwner, feedback: contributionsOf(a.object, who.peerId, tlp) }
}

describe('store: the feedback index', function () {
  this.timeout(30_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let node: DragnetNode
  let b: NodeIdentity, c: NodeIdentity
  let target: string

  const summary = async (tlps?: Set<Tlp>): Promise<Awaited<ReturnType<typeof lookupSummary>>> => {
    const page = await lookupPage(node.store, classifyValue(VALUE)!)
    return await lookupSummary(node.store, page.records, tlps != null ? { tlps } : {})
  }

  beforeEach(async () => {
    tmp = await tempDir()
    node = await testNode({ dir: tmp.dir })
    ;[b, c] = await Promise.all([NodeIdentity.generate(), NodeIdentity.generate()])
    const ioc = indicator({ kind: 'ipv4', value: VALUE, seed: 'store-feedback' }) as Record<string, unknown>
    target = String(ioc.id)
    await node.publish([ioc], { tlp: 'green' })
  })

  afterEach(async () => {
    await node.stop()
    await tmp.cleanup()
  })

  it('a newer version of a sighting replaces its count; an older one arriving late changes nothing; a revoked one drops out', async () => {
    const sid = 'sighting--0f5e7a36-8a7d-4b8e-9c1f-000000000001'
    await node.store.write([writeOf(b, 1, sightingOf(target, sid, at(10), { count: 5 }))])
    assert.equal((await summary()).sightings, 5)
    await node.store.write([writeOf(b, 2, sightingOf(target, sid, at(20), { count: 7 }), 'green', false)])
    assert.equal((await summary()).sightings, 7, 'the newer version counts, not both')
    await node.store.write([writeOf(b, 3, sightingOf(target, sid, at(15), { count: 100 }), 'green', false)])
    assert.equal((await summary()).sightings, 7, 'an older version is no news')
    await node.store.write([writeOf(c, 1, sightingOf(target, 'sighting--0f5e7a36-8a7d-4b8e-9c1f-000000000002', at(30), { count: 2 }))])
    const s = await summary()
    assert.equal(s.sightings, 9)
    assert.deepEqual([...s.sighted_by].sort(), [b.peerId, c.peerId].sort())
    assert.equal(s.first_seen, at(10))
    assert.equal(s.last_seen, at(30))
    await node.store.write([writeOf(b, 4, sightingOf(target, sid, at(40), { revoked: true }), 'green', false)])
    const after = await summary()
    assert.equal(after.sightings, 2)
    assert.deepEqual(after.sighted_by, [c.peerId])
    assert.equal(node.store.feedbackCounts(target)?.sightings, 2, 'the in-memory counts follow')
  })

  it('one opinion per member counts, its newest; counts survive a restart and the summary splits by TLP', async () => {
    await node.store.write([
      writeOf(b, 1, opinionOf(target, 'opinion--0f5e7a36-8a7d-4b8e-9c1f-000000000011', at(10), 'agree')),
      writeOf(b, 2, opinionOf(target, 'opinion--0f5e7a36-8a7d-4b8e-9c1f-000000000012', at(20), 'strongly-disagree', 'sinkholed')),
      writeOf(c, 1, opinionOf(target, 'opinion--0f5e7a36-8a7d-4b8e-9c1f-000000000013', at(10), 'disagree', 'CDN'), 'amber')
    ])
    const s = await summary()
    assert.equal(s.opinions.agree, 0)
    assert.equal(s.opinions.disagree, 2)
    assert.deepEqual(s.opinions.reasons.find(r => r.member === b.peerId), { member: b.peerId, opinion: 'disagree', reason: 'sinkholed' })
    const green = await summary(new Set<Tlp>(['clear', 'green']))
    assert.equal(green.opinions.disagree, 1, 'the amber opinion stays above a green ceiling')
    const dir = node.dataDir
    const owner = node.peerId
    await node.stop()
    node = await testNode({ dir })
    assert.deepEqual(node.store.feedbackCounts(target), { owner, sightings: 0, agree: 0, disagree: 2 })
  })

  it('feedback that arrives before its object learns the owner when the object comes; the index is built for stores written before it', async () => {
    const other = indicator({ kind: 'ipv4', value: '192.0.2.151', seed: 'store-feedback-late' }) as Record<string, unknown>
    const oid = String(other.id)
    await node.store.write([writeOf(b, 1, sightingOf(oid, 'sighting--0f5e7a36-8a7d-4b8e-9c1f-000000000021', at(5)))])
    assert.equal(node.store.feedbackCounts(oid)?.owner, undefined)
    await node.store.write([writeOf(c, 1, other)])
    assert.equal(node.store.feedbackCounts(oid)?.owner, c.peerId)

    // A store whose feedback index is missing (written by an older dragnet) rebuilds it at open.
    const dir = node.dataDir
    await node.stop()
    const db = new Level<string, string>(join(dir, 'store'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    const dropped: string[] = []
    for await (const k of db.keys()) if (k.startsWith('fb:') || k.startsWith('fbc:') || k === 'meta:feedbackIndex') dropped.push(k)
    assert.ok(dropped.length >= 3)
    await db.batch(dropped.map(k => ({ type: 'del' as const, key: k })))
    await db.close()
    node = await testNode({ dir })
    assert.equal(node.store.feedbackCounts(oid)?.sightings, 1)
  })
})
