import assert from 'node:assert/strict'
import type { Stored } from '../../src/ingest/index.js'
import { GRAFT, IHAVE, PRUNE, RECORDS, decodeGossipFrame } from '../../src/net/gossip-wire.js'
import type { DragnetNode } from '../../src/node.js'
import { publicKeyOfPeerId } from '../../src/record/index.js'
import { digestOf } from '../../src/replication/index.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { Writer, encodeVarint } from '../../src/util/varint.js'
import { identityFor, FederationFixture, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { HostileMember, type HostileInit } from '../helpers/hostile-member.js'

/*
 * Gossip's own mechanics, each driven through the wire by a member that speaks the protocol
 * frame by frame (the hostile-member helper, here mostly well-behaved): PRUNE on a duplicate,
 * GRAFT after treeRepairMs, ids instead of payload when a peer's push queue is full, what a
 * malformed frame costs, and per-peer limits that hold whether or not we have a stream to it.
 */

function framesOf (m: HostileMember, type: number): Array<ReturnType<typeof decodeGossipFrame>> {
  return m.gossipFrames.filter(f => f.frame[0] === type).map(f => decodeGossipFrame(f.frame, { maxRecords: 1 << 20 }))
}

describe('gossip mechanics over the wire', function () {
  this.timeout(120_000)
  const fx = new FederationFixture()
  let fed: Federation | undefined
  const members: HostileMember[] = []

  /** V alone with one or more wire-level members attached (`absent` more are on the roster and never connect). */
  async function victim (n: number, config: Record<string, unknown> = {}, init: HostileInit = {}, absent = 0): Promise<{ V: DragnetNode, A: DragnetNode, ms: HostileMember[] }> {
    const ids = await Promise.all(Array.from({ length: n + absent }, async (_, i) => await identityFor(`wire-${i}-${Math.random()}`)))
    fed = await fx.start([{ name: 'A' }, { name: 'V' }], [[0, 1]], {
      extraRoster: ids.map((id, i) => ({ peerId: id.peerId, name: `wire-${i}` })),
      config: { sync: { enabled: false }, ...config }
    })
    await waitConnected(fed.nodes, [[0, 1]])
    const [A, V] = fed.nodes
    for (const [i, id] of ids.entries()) {
      const m = await HostileMember.start(id, init)
      members.push(fx.track(m))
      if (i >= n) continue
      await m.connect(V)
      await waitFor(() => V.peers!.state(m.peerId)?.connected === true, 'V connected to the member')
    }
    return { V, A, ms: members.slice(-(n + absent)) }
  }

  it('PRUNE on a duplicate: a record V holds, pushed whole, takes the sender off that author\'s tree', async () => {
    const { V, A, ms: [m] } = await victim(1)
    const [v] = await A.publish([malware('pruned')], { tlp: 'green' }) as Stored[]
    await waitFor(async () => await V.store.has(v.id), 'V holds it')
    const link = await m.gossip(V)
    await link.send(...HostileMember.records([v.record.bytes]))
    await waitFor(() => framesOf(m, PRUNE).length > 0, 'a PRUNE', 15_000)
    const prune = framesOf(m, PRUNE)[0] as { keys: Uint8Array[] }
    assert.deepEqual(prune.keys.map(k => Buffer.from(k).toString('hex')), [Buffer.from(publicKeyOfPeerId(A.peerId)).toString('hex')])
    // Pruned, V no longer pushes A's records to us: it announces them.
    const [later] = await A.publish([malware('after-prune')], { tlp: 'green' }) as Stored[]
    await waitFor(() => framesOf(m, IHAVE).some(f => (f as any).groups.some((g: any) => g.digests.some((d: Uint8Array) => Buffer.from(d).equals(Buffer.from(digestOf(later.id)))))), 'the next record of A announced by id', 15_000)
    assert.ok(!framesOf(m, RECORDS).some(f => (f as any).records.some((r: Uint8Array) => Buffer.from(r).equals(Buffer.from(later.record.bytes)))), 'not pushed whole')
    assert.equal(V.peers!.state(m.peerId)!.penalties, 0)
  })

  it('GRAFT after treeRepairMs: an announced record that does not arrive is asked for, then stored and relayed', async () => {
    const { V, A, ms: [m] } = await victim(1, { gossip: { treeRepairMs: 400, lazyFlushMs: 10 } })
    const r = m.record(1, malware('grafted'))
    const link = await m.gossip(V)
    const t0 = Date.now()
    await link.send(...HostileMember.ihave([{ key: m.identity.publicKey, digests: [digestOf(r.id)] }]))
    await waitFor(() => framesOf(m, GRAFT).length > 0, 'a GRAFT', 15_000)
    const waited = Date.now() - t0
    assert.ok(waited >= 350, `GRAFT after ${waited} ms, before treeRepairMs (400)`)
    const graft = framesOf(m, GRAFT)[0] as { groups: Array<{ digests: Uint8Array[] }> }
    assert.deepEqual(graft.groups.flatMap(g => g.digests.map(d => Buffer.from(d).toString('hex'))), [r.id.slice(4)])
    await link.send(...HostileMember.records([r.bytes]))
    await waitFor(async () => await A.store.has(r.id), 'stored on V and relayed to A')
  })

  it('a relay announces what it relays and pushes an author\'s records whole only to a member that asked for them (GRAFT)', async () => {
    const { A, ms: [m0, m1] } = await victim(2)
    const pushed = (m: HostileMember, r: Stored): boolean => framesOf(m, RECORDS).some(f => (f as any).records.some((b: Uint8Array) => Buffer.from(b).equals(Buffer.from(r.record.bytes))))
    const announced = (m: HostileMember, r: Stored): boolean => framesOf(m, IHAVE).some(f => (f as any).groups.some((g: any) => g.digests.some((d: Uint8Array) => Buffer.from(d).equals(Buffer.from(digestOf(r.id))))))
    const [r1] = await A.publish([malware('relayed-1')], { tlp: 'green' }) as Stored[]
    await waitFor(() => announced(m0, r1) && announced(m1, r1), 'A\'s record announced to both members by V')
    assert.ok(!pushed(m0, r1) && !pushed(m1, r1), 'a relayed record is not pushed unasked')
    const link = await m0.gossip(fed!.nodes[1])
    await link.send(...HostileMember.graft([{ key: publicKeyOfPeerId(A.peerId), digests: [digestOf(r1.id)] }]))
    await waitFor(() => pushed(m0, r1), 'the asked-for record pushed')
    const [r2] = await A.publish([malware('relayed-2')], { tlp: 'green' }) as Stored[]
    await waitFor(() => pushed(m0, r2) && announced(m1, r2), 'the next record pushed to the member that grafted, announced to the other')
    assert.ok(!pushed(m1, r2))
  })

  it('an id announced for an author nobody pushes to us is asked for at once; with a parent on that author\'s tree, after the repair wait', async () => {
    const { V, A, ms: [m, ghost] } = await victim(1, { gossip: { treeRepairMs: 3000, lazyFlushMs: 10 } }, {}, 1)
    // V's stream to m is open once V announces something to it.
    await A.publish([malware('opener')], { tlp: 'green' })
    await waitFor(() => framesOf(m, IHAVE).length > 0, 'V announces to m')
    const r1 = ghost.record(1, malware('ghost-1'))
    const r2 = ghost.record(2, malware('ghost-2'))
    const link = await m.gossip(V)
    const key = ghost.identity.publicKey
    const grafted = (id: string): boolean => framesOf(m, GRAFT).some(f => (f as any).groups.some((g: any) => g.digests.some((d: Uint8Array) => Buffer.from(d).equals(Buffer.from(digestOf(id))))))
    const t0 = Date.now()
    await link.send(...HostileMember.ihave([{ key, digests: [digestOf(r1.id)] }]))
    await waitFor(() => grafted(r1.id), 'a GRAFT for the first id', 10_000)
    assert.ok(Date.now() - t0 < 2500, `asked after ${Date.now() - t0} ms: no parent pushes this author, nothing to wait for`)
    await link.send(...HostileMember.records([r1.bytes]))
    await waitFor(async () => await V.store.has(r1.id), 'stored')
    // m is now V's parent for the ghost's records: an announcement of the next one waits for m's push.
    const t1 = Date.now()
    await link.send(...HostileMember.ihave([{ key, digests: [digestOf(r2.id)] }]))
    await waitFor(() => grafted(r2.id), 'a GRAFT for the second id once the repair wait is over', 15_000)
    assert.ok(Date.now() - t1 >= 2500, `asked after ${Date.now() - t1} ms, before treeRepairMs (3000)`)
  })

  it('a peer whose push queue is full gets ids instead of payload; nothing crosses twice', async () => {
    const { V, ms: [m] } = await victim(1, { limits: { queueRecords: 50 }, gossip: { ioTimeoutMs: 20_000 } }, { slowReader: true })
    await new Promise(resolve => setTimeout(resolve, 300))
    const objs = Array.from({ length: 3000 }, (_, i) => indicator({ kind: 'domain', value: `queue-${i}.example.net`, seed: `queue-${i}` }))
    const ids: string[] = []
    for (let i = 0; i < objs.length; i += 250) for (const v of await V.publish(objs.slice(i, i + 250), { tlp: 'green' })) ids.push(v.id!)
    m.resume()
    await waitFor(() => {
      const got = new Set<string>()
      for (const f of framesOf(m, RECORDS)) for (const r of (f as any).records as Uint8Array[]) got.add(r.length > 0 ? 'r' + Buffer.from(r).subarray(97, 140).toString('hex') : '')
      return framesOf(m, IHAVE).length > 0 && got.size > 0
    }, 'records and announcements after the reader resumed', 20_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    const pushed = framesOf(m, RECORDS).reduce((a, f) => a + (f as any).records.length, 0)
    const announced = framesOf(m, IHAVE).reduce((a, f) => a + (f as any).ids, 0)
    assert.ok(announced > 0, 'some went as ids')
    assert.ok(pushed > 0, 'the head went as payload')
    assert.ok(pushed + announced <= ids.length, `${pushed} pushed + ${announced} announced of ${ids.length}: nothing twice`)
    assert.equal(V.peers!.state(m.peerId)!.penalties, 0)
  })

  it('malformed frames are violations; a frame that stalls half-way is a timeout and is not punished', async () => {
    const { V, ms } = await victim(5, { gossip: { ioTimeoutMs: 800 } })
    const [unknownType, truncated, overCount, emptyGroup, stalled] = ms
    const cases: Array<[HostileMember, Uint8Array]> = [
      [unknownType, Uint8Array.of(0x7f, 1, 2, 3)],
      [truncated, new Writer().byte(RECORDS).varint(2).varint(500).bytes(new Uint8Array(20)).finish()],
      [overCount, new Writer().byte(RECORDS).varint(1_000_000).finish()],
      [emptyGroup, new Writer().byte(IHAVE).varint(1).bytes(unknownType.identity.publicKey).varint(0).finish()]
    ]
    for (const [m, frame] of cases) await (await m.gossip(V)).send(frame)
    await waitFor(() => cases.every(([m]) => (V.peers!.state(m.peerId)?.penalties ?? 0) > 0), 'each sender penalised', 10_000)
    for (const [m] of cases) assert.match(V.peers!.state(m.peerId)!.lastPenalty!.reason, /protocol violation/)
    // Half a frame, then nothing: after ioTimeoutMs the stream is dropped, without a penalty.
    const link = await stalled.gossip(V)
    link.stream.send(Uint8Array.from([...encodeVarint(1000), 0x01, 0x01]))
    await Promise.race([link.ended, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('stream not ended')) }, 10_000))])
    assert.equal(V.peers!.state(stalled.peerId)!.penalties, 0)
  })

  it('per-peer limits hold for a peer that refuses our stream: its records are read at limits.peerRecordsPerSec', async () => {
    // The per-author budget lifted: this is about the per-peer rate alone.
    const { V, ms: [m] } = await victim(1, { limits: { peerRecordsPerSec: 300, authorRecordsPerSec: 1e6, authorBurstRecords: 1e6 } }, { refuseGossip: true })
    const envelopes = Array.from({ length: 1500 }, (_, i) => m.record(i + 1, malware(`rate-${i}`)).bytes)
    const before = V.store.counts().records
    const t0 = Date.now()
    const link = await m.gossip(V)
    await link.send(...HostileMember.records(envelopes, 100))
    await waitFor(() => V.store.counts().records - before >= 1500, 'all stored', 30_000, 50)
    const secs = (Date.now() - t0) / 1000
    // A bucket of 600 (twice the rate) then 300 a second: (1500 - 600) / 300 = 3 s at least.
    assert.ok(secs >= 2.5, `1,500 records read in ${secs.toFixed(1)} s, faster than the limit allows`)
    assert.equal(V.peers!.state(m.peerId)!.penalties, 0, 'a rate limit slows a peer down; it is not a violation')
  })
})
