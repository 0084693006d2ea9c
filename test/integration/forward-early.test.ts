import assert from 'node:assert/strict'
import type { Forwardable, Stored, Verdict } from '../../src/ingest/index.js'
import { IHAVE, PRUNE, RECORDS, decodeGossipFrame } from '../../src/net/gossip-wire.js'
import type { DragnetNode } from '../../src/node.js'
import { digestOf } from '../../src/replication/index.js'
import { malware } from '../../src/sim/stix-factory.js'
import { identityFor, FederationFixture, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { HostileMember } from '../helpers/hostile-member.js'

/*
 * Issue 18: a received record is pushed on as soon as it is verified, valid, allowed by policy
 * and sure to be admitted, with its durable write in flight; it is announced by id (IHAVE), and
 * seen by anything reading the store, only once it is stored. V relays what wire-level member
 * m1 authors to A, m2 (eager) and m3 (lazy for m1: it sent V a PRUNE).
 */

function records (m: HostileMember, type: number): Array<ReturnType<typeof decodeGossipFrame>> {
  return m.gossipFrames.filter(f => f.frame[0] === type).map(f => decodeGossipFrame(f.frame, { maxRecords: 1 << 20 }))
}

function pushed (m: HostileMember, bytes: Uint8Array): boolean {
  return records(m, RECORDS).some(f => (f as any).records.some((r: Uint8Array) => Buffer.from(r).equals(Buffer.from(bytes))))
}

function announced (m: HostileMember, id: string): boolean {
  const d = Buffer.from(digestOf(id))
  return records(m, IHAVE).some(f => (f as any).groups.some((g: any) => g.digests.some((x: Uint8Array) => Buffer.from(x).equals(d))))
}

describe('forwarding before the durable write (issue 18)', function () {
  this.timeout(120_000)
  const fx = new FederationFixture()
  let fed: Federation | undefined
  const members: HostileMember[] = []

  /** V and A connected, three wire-level members attached to V, each with V's gossip stream open to it. */
  async function setup (): Promise<{ V: DragnetNode, A: DragnetNode, m1: HostileMember, m2: HostileMember, m3: HostileMember }> {
    const ids = await Promise.all([1, 2, 3].map(async i => await identityFor(`early-${i}-${Math.random()}`)))
    fed = await fx.start([{ name: 'A' }, { name: 'V' }], [[0, 1]], {
      extraRoster: ids.map((id, i) => ({ peerId: id.peerId, name: `early-${i + 1}` })),
      config: { sync: { enabled: false } }
    })
    await waitConnected(fed.nodes, [[0, 1]])
    const [A, V] = fed.nodes
    for (const id of ids) {
      const m = await HostileMember.start(id)
      members.push(fx.track(m))
      await m.connect(V)
      await waitFor(() => V.peers!.state(m.peerId)?.connected === true, 'V connected to the member')
    }
    const [m1, m2, m3] = members.slice(-3)
    // A first record of m1 opens V's streams to everyone. A relay announces what it relays: A
    // asks for m1's records by itself (nobody else pushes them to it), m2 and m3 ask here (GRAFT),
    // so V pushes m1's records to all three from then on.
    const warm = m1.record(1, malware('early-warm-up'))
    await (await m1.gossip(V)).send(...HostileMember.records([warm.bytes]))
    await waitFor(() => announced(m2, warm.id) && announced(m3, warm.id), 'the warm-up record announced to m2 and m3', 20_000)
    for (const m of [m2, m3]) await (await m.gossip(V)).send(...HostileMember.graft([{ key: m1.identity.publicKey, digests: [digestOf(warm.id)] }]))
    await waitFor(() => pushed(m2, warm.bytes) && pushed(m3, warm.bytes), 'the warm-up record pushed to m2 and m3', 20_000)
    await waitFor(async () => await A.store.has(warm.id), 'A holds the warm-up record', 20_000)
    return { V, A, m1, m2, m3 }
  }

  it('pushes a relayed record before its write completes, and announces it only once stored', async () => {
    const { V, A, m1, m2, m3 } = await setup()
    // m3 takes m1 off its tree: V announces m1's records to it instead of pushing them.
    await (await m3.gossip(V)).send(...HostileMember.prune([m1.identity.publicKey]))
    await waitFor(() => V.gossip!.peerSummary().some(p => p.peerId === m3.peerId && p.eagerAuthors === 1), 'V has m3 lazy for m1 (eager only for V\'s own records)')

    const r = m1.record(2, malware('early-relayed'))
    const events: string[] = []
    let atForwardable: { recordsOut: number, announcedOut: number, held: Promise<boolean> } | undefined
    let atStored: { recordsOut: number, announcedOut: number, m3Announced: boolean } | undefined
    // Registered after gossip's own listeners: they run after gossip has decided and queued.
    V.ingest.onForwardable((v: Forwardable) => {
      if (v.id !== r.id) return
      events.push('forwardable')
      const s = V.gossip!.stats()
      atForwardable = { recordsOut: s.recordsOut, announcedOut: s.announcedOut, held: V.store.has(r.id) }
    })
    V.ingest.onStored((v: Stored) => {
      if (v.id !== r.id) return
      events.push('stored')
      const s = V.gossip!.stats()
      atStored = { recordsOut: s.recordsOut, announcedOut: s.announcedOut, m3Announced: announced(m3, r.id) }
    })
    await (await m1.gossip(V)).send(...HostileMember.records([r.bytes]))
    await waitFor(() => atStored != null, 'V stored the record', 20_000)

    assert.deepEqual(events, ['forwardable', 'stored'])
    assert.equal(await atForwardable!.held, false, 'not held when it became forwardable')
    // The pushes to A and m2 were written while V's LevelDB batch was still in flight.
    assert.ok(atStored!.recordsOut >= atForwardable!.recordsOut + 2, `pushed to A and m2 before the write completed (${atForwardable!.recordsOut} → ${atStored!.recordsOut} records out)`)
    // Nothing announced it while it was not held.
    assert.equal(atStored!.announcedOut, atForwardable!.announcedOut, 'no IHAVE between forwardable and stored')
    assert.equal(atStored!.m3Announced, false)

    await waitFor(async () => await A.store.has(r.id), 'A stores it', 20_000)
    await waitFor(() => pushed(m2, r.bytes), 'm2 gets it whole', 20_000)
    await waitFor(() => announced(m3, r.id), 'm3 gets it by id once V holds it', 20_000)
    assert.equal(pushed(m3, r.bytes), false, 'the lazy peer is never pushed it')
    assert.equal(records(m3, PRUNE).length, 0)
    for (const m of [m1, m2, m3]) assert.equal(V.peers!.state(m.peerId)!.penalties, 0)
  })

  it('the next frame from a peer is read and forwarded while the previous frame\'s write waits', async () => {
    const { V, A, m1, m2 } = await setup()
    const first = m1.record(2, malware('early-pipelined-1'))
    const second = m1.record(3, malware('early-pipelined-2'))
    const events: string[] = []
    V.ingest.onForwardable((v) => { if (v.id === second.id) events.push('second forwardable') })
    V.ingest.onStored((v) => { if (v.id === first.id) events.push('first stored') })
    // A large local publication holds V's store for a while (signing, one fsynced batch): the
    // first record's write queues behind it. Red: it never leaves V.
    const objects = Array.from({ length: 3000 }, (_, i) => malware(`early-pipelined-local-${i}`))
    let published = false
    const publication = V.ingest.publish(objects, { tlp: 'red' }).then((vs) => { published = true; return vs })
    const stream = await m1.gossip(V)
    await stream.send(...HostileMember.records([first.bytes]))
    await stream.send(...HostileMember.records([second.bytes]))
    await waitFor(() => events.includes('second forwardable'), 'the second record forwardable', 30_000)
    const whileHeld = !published
    await publication
    await waitFor(() => events.includes('first stored'), 'V stored the first record', 30_000)
    // The reader did not wait for the first frame's write before taking the second.
    assert.ok(whileHeld, 'the second record went on while the local publication still held the store')
    assert.deepEqual(events, ['second forwardable', 'first stored'])
    await waitFor(() => pushed(m2, second.bytes), 'm2 gets the second record', 20_000)
    await waitFor(async () => await A.store.has(second.id) && await A.store.has(first.id), 'A stores both', 20_000)
    assert.equal(V.peers!.state(m1.peerId)!.penalties, 0)
  })

  it('a record that conflicts with one queued ahead of it is not forwarded before it is decided', async () => {
    const { V, A, m1, m2 } = await setup()
    // Two authors claim one new STIX id in one frame: the first claims it, the second waits for the commit.
    const body = malware('early-contested')
    const first = m1.record(2, body)
    const second = m2.record(1, body)
    const forwardable: string[] = []
    const verdicts = new Map<string, Verdict>()
    V.ingest.onForwardable((v) => { forwardable.push(v.id) })
    V.ingest.onVerdict((v) => { if (v.id != null) verdicts.set(v.id, v) })
    await (await m1.gossip(V)).send(...HostileMember.records([first.bytes, second.bytes]))
    await waitFor(() => verdicts.has(first.id) && verdicts.has(second.id), 'both decided', 20_000)

    assert.equal(verdicts.get(first.id)!.status, 'stored')
    const v = verdicts.get(second.id)!
    assert.equal(v.status, 'rejected')
    assert.equal((v as { code: string }).code, 'DRAGNET_NOT_OWNER')
    assert.deepEqual(forwardable, [first.id], 'only the record sure to be admitted went on early')
    await waitFor(async () => await A.store.has(first.id), 'A stores the first', 20_000)
    assert.equal(await V.store.has(second.id), false)
    assert.equal(await A.store.has(second.id), false)
  })
})
