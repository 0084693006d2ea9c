import assert from 'node:assert/strict'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { FILES } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { compilePolicy } from '../../src/policy/index.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { FederationFixture, syncNow, waitConnected, waitFor, type Federation } from '../helpers/federation.js'

/*
 * Purge and erasure between real nodes over TCP: a purged record never comes back by gossip or
 * sync while peers keep holding it, and their in-sync check stays one round trip; an author's
 * erasure request is honoured by members whose policy allows it and refused (audited) by one
 * whose policy says so, and the author learns which members confirmed.
 */

const QUIET_SYNC = { sync: { intervalMs: 3_600_000 } }

async function publishMany (node: DragnetNode, n: number, tag: string): Promise<string[]> {
  const objs = []
  for (let j = 0; j < n; j++) objs.push(indicator({ kind: 'domain', value: `${tag}-${j}.example.net`, seed: `${tag}-${j}` }))
  const out: string[] = []
  for (const v of await node.publish(objs, { tlp: 'green' })) {
    assert.equal(v.status, 'stored')
    out.push(v.id)
  }
  return out
}

async function holdsAll (node: DragnetNode, ids: string[]): Promise<boolean> {
  return (await node.store.hasMany(ids)).every(Boolean)
}

/** An in-sync check between two nodes: the initiator (lower PeerId) runs a session now. */
async function syncPair (a: DragnetNode, b: DragnetNode): Promise<{ ok: boolean, error?: string, roundTrips: number, recordsSent: number, recordsReceived: number }> {
  const [initiator, other] = a.peerId < b.peerId ? [a, b] : [b, a]
  return await syncNow(initiator, other.peerId)
}

async function filesContaining (dir: string, needle: string): Promise<string[]> {
  const out: string[] = []
  for (const f of await readdir(dir)) {
    const bytes = await readFile(join(dir, f)).catch(() => null)
    if (bytes?.includes(Buffer.from(needle)) === true) out.push(f)
  }
  return out
}

describe('purge and erasure between nodes over TCP', function () {
  this.timeout(180_000)
  const fx = new FederationFixture()
  let fed: Federation | undefined

  it('a record purged on one node never comes back while its peers hold it, and the in-sync check stays 1 round trip', async () => {
    const edges: Array<[number, number]> = [[0, 1], [1, 2], [0, 2]]
    fed = await fx.start([{ name: 'A' }, { name: 'B' }, { name: 'C' }], edges, { config: QUIET_SYNC })
    await waitConnected(fed.nodes, edges)
    const [A, B, C] = fed.nodes
    const ids = await publishMany(A, 60, 'purge-sync')
    await waitFor(async () => await holdsAll(B, ids) && await holdsAll(C, ids), 'gossip delivered to B and C')
    const victim = ids[17]
    const marker = 'purge-sync-17.example.net'

    const res = await B.purge.purge({ ids: [victim] }, { reason: 'unlawful: court order' })
    assert.deepEqual(res.purged.map(t => t.id), [victim])
    assert.deepEqual(await filesContaining(join(B.dataDir, FILES.store), marker), [], 'the body is in no store file of B')

    for (const peer of [A, C]) {
      const s = await syncPair(B, peer)
      assert.equal(s.ok, true, s.error)
      assert.equal(s.roundTrips, 1, 'the purged id still counts: B and its peers agree at once')
      assert.equal(s.recordsSent + s.recordsReceived, 0)
    }
    // Gossip keeps flowing on the same edges, and re-announcing the victim brings nothing.
    const later = await publishMany(A, 5, 'purge-later')
    await waitFor(async () => await holdsAll(B, later), 'B still receives new records')
    assert.equal(await B.store.has(victim), false)

    // Offered whole (a records file, a peer pushing it): refused, nothing stored.
    const bytes = (await A.store.getBytes(victim))!
    const [v] = await B.ingest.receive([{ bytes, from: A.peerId, source: 'gossip' }])
    assert.equal(v.status === 'rejected' && v.code, 'DRAGNET_PURGED')
    assert.equal(await B.store.has(victim), false)

    // After a restart the tombstone still holds the id in reconciliation: also when the indexes
    // are rebuilt from the store, as after a crash (no snapshots).
    await B.stop()
    await rm(join(fx.dir, 'B', 'store.sync.snap'), { force: true })
    await rm(join(fx.dir, 'B', 'store.index.snap'), { force: true })
    const B2 = await DragnetNode.open({ dataDir: join(fx.dir, 'B'), config: B.config, log: silentLogger() })
    await B2.start()
    fed.nodes[1] = B2
    B2.peers!.learnAddrs(A.peerId, A.listenAddrs())
    await waitConnected([A, B2], [[0, 1]])
    const again = await syncPair(A, B2)
    assert.equal(again.ok, true, again.error)
    assert.equal(again.roundTrips, 1)
    assert.equal(again.recordsSent + again.recordsReceived, 0)
    assert.equal(await B2.store.has(victim), false)
    assert.ok(await A.store.has(victim), 'A keeps its copy: purge is local')
  })

  it('an author\'s erasure request is honoured on two members, refused (audited) on a third whose policy says so, and the author learns who confirmed', async () => {
    const keepAll = compilePolicy({ name: 'keep', erasure: [{ id: 'keep-evidence', action: 'refuse', reason: 'evidence in an open case' }] }, fx.dir)
    const edges: Array<[number, number]> = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    fed = await fx.start([{ name: 'A' }, { name: 'B' }, { name: 'C' }, { name: 'D', policy: keepAll }], edges, { config: QUIET_SYNC })
    await waitConnected(fed.nodes, edges)
    const [A, B, C, D] = fed.nodes
    const [target, keep] = await publishMany(A, 2, 'erase')
    await waitFor(async () => (await Promise.all([B, C, D].map(async n => await holdsAll(n, [target, keep])))).every(Boolean), 'all members hold the records')

    // Only the author may ask.
    await assert.rejects(B.purge.erase([target], 'not mine'), { code: 'DRAGNET_FORBIDDEN' })
    const out = await A.purge.erase([target], 'published in error')
    assert.equal(out.requests.length, 1)
    assert.deepEqual(out.requests[0].records, [target])
    assert.equal(await A.store.has(target), false)
    const request = (await A.store.getRecord(out.requests[0].id))!
    assert.deepEqual(Object.keys(request.record.record.body).sort(), ['created', 'id', 'modified', 'record_ids', 'spec_version', 'type'], 'a request names the ids and nothing else')
    assert.equal(request.record.record.tlp, 'green')

    await waitFor(async () => !(await B.store.has(target)) && !(await C.store.has(target)), 'B and C honoured the request')
    for (const n of [B, C]) {
      const t = (await n.purge.list()).find(x => x.id === target)
      assert.ok(t != null && t.operator === `erasure:${out.requests[0].id}`, JSON.stringify(t))
      assert.ok(await n.store.has(keep), 'only the named record goes')
    }
    // D refused by its policy, audited with the rule.
    await waitFor(async () => (await D.store.auditEntries({ record: target })).some(e => e.rule === 'keep-evidence'), 'D audited its refusal')
    assert.ok(await D.store.has(target), 'D keeps its copy')
    // The author's audit names who confirmed and who refused.
    await waitFor(async () => (await A.store.auditEntries({ record: out.requests[0].id })).filter(e => e.rule === 'erasure:receipt').length === 3, 'three receipts')
    const receipts = await A.store.auditEntries({ record: out.requests[0].id })
    const byPeer = new Map(receipts.filter(e => e.rule === 'erasure:receipt').map(e => [e.peer, e.verdict]))
    assert.deepEqual([byPeer.get(B.peerId), byPeer.get(C.peerId), byPeer.get(D.peerId)], ['accept', 'accept', 'reject'])

    // D still holds it; reconciliation with B and A does not bring it back to them.
    for (const n of [A, B]) {
      const s = await syncPair(n, D)
      assert.equal(s.ok, true, s.error)
      assert.equal(await n.store.has(target), false)
    }
  })
})
