import assert from 'node:assert/strict'
import { createRecord, publicKeyOfPeerId } from '../../src/record/index.js'
import type { DragnetNode } from '../../src/node.js'
import type { Stored } from '../../src/ingest/index.js'
import { digestOf } from '../../src/replication/index.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { classifyValue } from '../../src/stix/index.js'
import { lookup } from '../../src/store/queries.js'
import { RECON, decodeFrame, encodeDecline, encodeOpen, encodeWant } from '../../src/sync/protocol.js'
import { ReconIndex, createInitiator } from '../../src/sync/recon/index.js'
import { identityFor, startFederation, syncNow, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { HostileMember, rssMb, strangers } from '../helpers/hostile-member.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * A compromised roster member (its own libp2p node, a key on every roster) attacks V in the line
 * A — V — C through the wire protocols. For each attack: the attacker is penalised, V's memory
 * stays under the bound the test states (the whole federation runs in this process, so the bound
 * covers all of it), honest records keep reaching every member, and nothing honest is lost or
 * hidden. Volumes are kept in the thousands so the suite stays fast; the bounds are scaled to
 * them with the per-item cost stated.
 */

const EDGES: Array<[number, number]> = [[0, 1], [1, 2]]

interface World {
  fed: Federation
  A: DragnetNode
  V: DragnetNode
  C: DragnetNode
  m: HostileMember
}

async function publish (node: DragnetNode, objects: unknown[], tlp: 'green' | 'clear' = 'green'): Promise<Stored[]> {
  const out: Stored[] = []
  for (let i = 0; i < objects.length; i += 250) {
    for (const v of await node.publish(objects.slice(i, i + 250), { tlp })) {
      assert.equal(v.status, 'stored', JSON.stringify(v))
      out.push(v as Stored)
    }
  }
  return out
}

async function holdsAll (nodes: DragnetNode[], ids: string[]): Promise<boolean> {
  for (const n of nodes) if (!(await n.store.hasMany(ids)).every(Boolean)) return false
  return true
}

/** Honest records from both ends cross V and reach every member. */
async function honestFlow (w: World, tag: string, earlier: string[] = []): Promise<string[]> {
  const fromA = await publish(w.A, [malware(`${tag}-from-A`)])
  const fromC = await publish(w.C, [malware(`${tag}-from-C`)])
  const ids = [...earlier, fromA[0].id, fromC[0].id]
  await waitFor(async () => await holdsAll([w.A, w.V, w.C], ids), `honest records (${tag}) everywhere`, 20_000, 50)
  return ids
}


async function penalised (w: World, pattern: RegExp): Promise<void> {
  await waitFor(() => (w.V.peers!.state(w.m.peerId)?.penalties ?? 0) > 0, 'V penalised the attacker', 15_000)
  const reason = w.V.peers!.state(w.m.peerId)!.lastPenalty!.reason
  assert.match(reason, pattern)
  await waitFor(() => w.V.peers!.state(w.m.peerId)?.connected !== true, 'the attacker is cut off', 10_000)
}

describe('hostile members: a compromised roster member attacking through the wire protocols', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let w: World | undefined

  async function world (config: Record<string, unknown> = {}, victim: Record<string, unknown> = {}): Promise<World> {
    const mallory = await identityFor(`mallory-${Math.random()}`)
    const fed = await startFederation(tmp.dir, [{ name: 'A' }, { name: 'V', config: victim }, { name: 'C' }], EDGES, {
      extraRoster: [{ peerId: mallory.peerId, name: 'mallory' }],
      config: { sync: { intervalMs: 3_600_000 }, ...config }
    })
    await waitConnected(fed.nodes, EDGES)
    const m = await HostileMember.start(mallory)
    const [A, V, C] = fed.nodes
    w = { fed, A, V, C, m }
    await m.connect(V)
    await waitFor(() => V.peers!.state(m.peerId)?.connected === true, 'V connected to the attacker')
    // When V's PeerId sorts first, V opens a sync session on connect; the attacker's own sessions
    // would collide with it (one session per pair, DRAGNET_CONFLICT) under a slow machine.
    if (V.peerId < m.peerId) await waitFor(() => V.peers!.state(m.peerId)?.lastSync != null, 'V\'s sync on connect with the attacker ended', 30_000)
    return w
  }

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => {
    await w?.m.stop().catch(() => {})
    await w?.fed.stop()
    w = undefined
    await tmp.cleanup()
  })

  it('forged: 500 records with broken signatures — penalised, none stored', async () => {
    const w = await world()
    const before = await honestFlow(w, 'before')
    const rss0 = rssMb()
    const forged = Array.from({ length: 500 }, (_, i) => {
      const b = w.m.record(i + 1, malware(`forged-${i}`)).bytes.slice()
      b[40] ^= 1
      return b
    })
    const link = await w.m.gossip(w.V)
    await link.send(...HostileMember.records(forged))
    await penalised(w, /DRAGNET_BAD_SIGNATURE|signature/)
    for (const n of [w.A, w.V, w.C]) assert.equal((await n.store.versions(malware('forged-0').id)).length, 0)
    // ~0.5 KB per forged record read and dropped; bound: 80 MB for the federation.
    assert.ok(rssMb() - rss0 < 80, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  it('replayed: duplicates pushed again and again after a PRUNE — penalised', async () => {
    const w = await world({ gossip: { ioTimeoutMs: 1000 } })
    const before = await honestFlow(w, 'before')
    const held = await w.V.store.getBytes(before[0])
    const link = await w.m.gossip(w.V)
    await link.send(...HostileMember.records([held!]))
    // V takes the edge off A's tree for us: a PRUNE naming A's key.
    const aKey = Buffer.from(publicKeyOfPeerId(w.A.peerId))
    await waitFor(() => w.m.gossipFrames.some(f => f.frame[0] === 0x04 && Buffer.from(f.frame).includes(aKey)), 'a PRUNE for A', 15_000)
    // Past the grace (one write deadline), every further duplicate counts.
    await new Promise(resolve => setTimeout(resolve, 1200))
    const rss0 = rssMb()
    for (let i = 0; i < 400 && link.open; i++) await link.send(...HostileMember.records([held!]))
    await penalised(w, /kept pushing records .* after we pruned/)
    assert.ok(rssMb() - rss0 < 50, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  it('non-owner: republishing the owner\'s current version revoked — refused everywhere, penalised, the object stays current', async () => {
    const w = await world()
    const obj = indicator({ kind: 'ipv4', value: '203.0.113.200', seed: 'owned-by-A', modified: '2026-01-01T00:00:00.000Z' })
    const [mine] = await publish(w.A, [obj])
    const before = await honestFlow(w, 'before', [mine.id])
    const rss0 = rssMb()
    const link = await w.m.gossip(w.V)
    await link.send(...HostileMember.records([w.m.record(1, { ...obj, revoked: true }).bytes, w.m.record(2, { ...obj, modified: '2026-06-01T00:00:00.000Z', name: 'hijacked' }).bytes]))
    await penalised(w, /tried to (revoke|supersede)/)
    for (const n of [w.A, w.V, w.C]) {
      const hits = await lookup(n.store, classifyValue('203.0.113.200')!)
      assert.deepEqual(hits.map(h => h.id), [mine.id], `${n.roster.self.name}: the owner's object is still current`)
      assert.deepEqual((await n.store.versions(obj.id)).map(v => v.author), [w.A.peerId])
    }
    const audit = await w.V.store.auditEntries({ peer: w.m.peerId })
    assert.ok(audit.some(e => e.code === 'DRAGNET_NOT_OWNER' && e.rule === 'version:not-owner'))
    assert.ok(rssMb() - rss0 < 40, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  it('equivocating: 3,000 records under one seq — two kept as evidence, the author flagged everywhere, penalised', async () => {
    const w = await world()
    const before = await honestFlow(w, 'before')
    const rss0 = rssMb()
    const link = await w.m.gossip(w.V)
    const envelopes = Array.from({ length: 3000 }, (_, i) => w.m.record(1, malware(`equivocation-${i}`)).bytes)
    await link.send(...HostileMember.records(envelopes))
    await penalised(w, /equivocat/)
    const e = (await w.V.status()).equivocations
    assert.equal(e.length, 1)
    assert.equal(e[0].ids.length, 2, 'fixed evidence: two ids, whatever the attacker sent')
    assert.equal(w.V.store.counts().records - before.length, 2)
    // The evidence pair travels on like any record, so C flags the author too.
    await waitFor(async () => (await w.C.status()).flaggedAuthors.includes(w.m.peerId), 'C flags the equivocating author')
    // Before: every record rewrote a growing id list (83 MB store, +370 MB RSS for 3,000). Now O(1).
    assert.ok(rssMb() - rss0 < 80, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  it('gapped: 2,000 of its own records with scattered seqs in random order — O(log n) each, bounded, honest records unaffected (not penalised: gaps are what red and withheld records leave too)', async () => {
    // The per-author budget lifted: the cost of gapped seqs is what is measured, not the budget.
    const w = await world({ limits: { authorRecordsPerSec: 1e6, authorBurstRecords: 1e6 } })
    const before = await honestFlow(w, 'before')
    const seqs = Array.from({ length: 2000 }, (_, i) => 7 * i + 3)
    for (let i = seqs.length - 1; i > 0; i--) { const j = (i * 7919) % (i + 1); [seqs[i], seqs[j]] = [seqs[j], seqs[i]] }
    const rss0 = rssMb()
    const t0 = Date.now()
    const link = await w.m.gossip(w.V)
    const envelopes = seqs.map(s => w.m.record(s, malware(`gapped-${s}`)).bytes)
    await link.send(...HostileMember.records(envelopes))
    await waitFor(() => w.V.store.counts().records >= before.length + 2000, 'V stored the gapped records', 60_000, 100)
    const ms = Date.now() - t0
    // Per record: a verification (~0.1 ms), STIX and one batched write; the seq set costs O(log n).
    assert.ok(ms < 30_000, `${ms} ms`)
    assert.ok(rssMb() - rss0 < 150, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB (2,000 records stored by all three)`)
    assert.equal(await w.V.store.maxSeq(w.m.peerId), 7 * 1999 + 3)
    assert.equal(w.V.peers!.state(w.m.peerId)!.penalties, 0)
    await honestFlow(w, 'after', before)
  })

  it('unknown authors: records signed by 300 random keys — refused before verification, nothing persisted, penalised past the strike allowance', async () => {
    const w = await world()
    const before = await honestFlow(w, 'before')
    const audit0 = w.V.store.counts().audit
    const gen0 = w.V.store.counts().generation
    const rss0 = rssMb()
    const keys = await strangers(300)
    const envelopes = keys.map((k, i) => createRecord(k, { seq: 1, ts: Date.now(), tlp: i % 2 === 0 ? 'green' : 'amber', body: malware(`stranger-${i}`) }).bytes)
    const link = await w.m.gossip(w.V)
    await link.send(...HostileMember.records(envelopes, 16))
    await penalised(w, /unknown authors/)
    let known = 0
    for await (const _ of w.V.store.knownEntries()) known++
    assert.equal(known, 0, 'no rejection of an unknown author is remembered')
    assert.ok(w.V.store.counts().audit - audit0 <= 2, 'one audit entry a minute per sender')
    assert.ok(w.V.store.counts().generation - gen0 <= 4, 'nothing indexed (the honest records moved it)')
    // Before: +280 MB for 40,000 (each rejection written, each amber author its own index).
    assert.ok(rssMb() - rss0 < 60, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  it('fake declines: a sync session declining 10,000 ids nobody asked for — penalised, nothing remembered', async () => {
    const w = await world()
    const before = await honestFlow(w, 'before')
    const link = await w.m.sync(w.V)
    const recon = Array.from({ length: 6 }, () => createInitiator(new ReconIndex()))
    await link.send(encodeOpen([0, 1, 2, 3, 4, 5], recon.map((r, i) => ({ scope: i, message: r.initiate() }))))
    const reply = await link.read()
    assert.equal(decodeFrame(reply!, { maxItems: 1 << 20, scopes: 6 }).type, RECON)
    const rss0 = rssMb()
    const fake = Array.from({ length: 10_000 }, (_, i) => ({ scope: 1, ts: Date.now() + i, digest: digestOf('1220' + i.toString(16).padStart(64, '0')) }))
    for (let i = 0; i < fake.length && link.open; i += 1000) await link.send(encodeDecline(fake.slice(i, i + 1000)))
    await penalised(w, /declined .* not asked for/)
    let known = 0
    for await (const _ of w.V.store.knownEntries()) known++
    assert.equal(known, 0)
    // Before: 400,000 fake ids held for 24 h cost +214 MB; 10,000 would be ~5 MB, kept for good.
    assert.ok(rssMb() - rss0 < 40, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  it('fake wants: asking for ids reconciliation did not find — penalised', async () => {
    const w = await world()
    const before = await honestFlow(w, 'before')
    const link = await w.m.sync(w.V)
    const recon = Array.from({ length: 6 }, () => createInitiator(new ReconIndex()))
    await link.send(encodeOpen([0, 1, 2, 3, 4, 5], recon.map((r, i) => ({ scope: i, message: r.initiate() }))))
    await link.read()
    // Ids V does not hold (a probe for what others hold, or just work for V).
    const rss0 = rssMb()
    await link.send(encodeWant(Array.from({ length: 500 }, (_, i) => digestOf('1220' + (i + 1).toString(16).padStart(64, 'f')))))
    await penalised(w, /asked for .* does not lack/)
    assert.ok(rssMb() - rss0 < 40, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  it('control frames: IHAVE floods naming 500 unknown author keys — no cache grows, penalised past the strike allowance', async () => {
    const w = await world()
    const before = await honestFlow(w, 'before')
    const rss0 = rssMb()
    const keys = await strangers(500)
    const link = await w.m.gossip(w.V)
    for (let i = 0; i < keys.length && link.open; i += 100) {
      await link.send(...HostileMember.ihave(keys.slice(i, i + 100).map((k, j) => ({ key: k.publicKey, digests: [digestOf('1220' + (i + j).toString(16).padStart(64, '0'))] }))))
    }
    await penalised(w, /strikes/)
    assert.ok(rssMb() - rss0 < 40, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'after', before)
  })

  for (const kind of ['GRAFT', 'PRUNE'] as const) {
    it(`control frames: a ${kind} naming an author key nobody has — penalised at once`, async () => {
      const w = await world()
      const before = await honestFlow(w, 'before')
      const [stranger] = await strangers(1)
      const rss0 = rssMb()
      const link = await w.m.gossip(w.V)
      await link.send(...(kind === 'PRUNE' ? HostileMember.prune([stranger.publicKey]) : HostileMember.graft([{ key: stranger.publicKey, digests: [digestOf(before[0])] }])))
      await penalised(w, /not on the roster/)
      assert.ok(rssMb() - rss0 < 40, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
      await honestFlow(w, 'after', before)
    })
  }

  it('control frames: 1,500 PRUNE and GRAFT frames naming members — read no faster than limits.peerFramesPerSec, no cache grows, honest records keep flowing', async () => {
    // A low frame rate for V, so that reading at the rate takes seconds where reading at will would not.
    const w = await world({}, { limits: { peerFramesPerSec: 250 } })
    const before = await honestFlow(w, 'before')
    const rss0 = rssMb()
    // Well-formed frames about real members: nothing to penalise, only to rate-limit.
    const keys = [w.A, w.C].map(n => publicKeyOfPeerId(n.peerId))
    const frames: Uint8Array[] = []
    for (let i = 0; i < 750; i++) {
      frames.push(...HostileMember.prune(keys))
      frames.push(...HostileMember.graft([{ key: keys[i % 2], digests: [digestOf(before[i % before.length])] }]))
    }
    const bytes = frames.reduce((a, f) => a + f.length, 0)
    const in0 = w.V.replicationStats().protocolBytesIn
    const t0 = Date.now()
    const link = await w.m.gossip(w.V)
    assert.ok(await link.send(...frames))
    await waitFor(() => w.V.replicationStats().protocolBytesIn - in0 >= bytes, 'V read every frame', 60_000, 20)
    const ms = Date.now() - t0
    // 250 frames a second (limits.peerFramesPerSec) after a burst of twice that: 4 s at least.
    assert.ok(ms >= 3500, `V read 1,500 control frames in ${ms} ms`)
    assert.ok(rssMb() - rss0 < 40, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    assert.equal(w.V.peers!.state(w.m.peerId)!.penalties, 0, 'a rate is enforced by reading slower, not by a penalty')
    await honestFlow(w, 'after', before)
  })

  it('a slow reader is not punished: a sync session and gossip writes that pass their deadlines end as timeouts, and the peer is served later', async () => {
    const w = await world({}, { sync: { maxSessionMs: 2500, intervalMs: 3_600_000 }, gossip: { ioTimeoutMs: 1500 } })
    w.m.slowReader = true
    const before = await honestFlow(w, 'before')
    const rss0 = rssMb()
    // More than a stream window's worth (1 MiB) for the attacker to not read.
    const bulk = await publish(w.V, Array.from({ length: 2500 }, (_, i) => indicator({ kind: 'domain', value: `slow-${i}.example.org`, seed: `slow-${i}` })))
    const summary = await syncNow(w.V, w.m.peerId)
    assert.equal(summary.ok, false)
    assert.equal(summary.failure, 'timeout', summary.error)
    assert.match(summary.error!, /DRAGNET_TIMEOUT/)
    assert.equal(w.V.peers!.state(w.m.peerId)!.penalties, 0, 'a slow reader is never penalised')
    assert.equal(w.V.peers!.state(w.m.peerId)!.connected, true)
    // What V holds back for a reader that does not read is bounded by the stream window and the
    // push queue, not by what V has to send (2,500 records, ~1.5 MB, stored by all three nodes).
    assert.ok(rssMb() - rss0 < 150, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`)
    await honestFlow(w, 'during', [...before, ...bulk.slice(0, 5).map(v => v.id)])
    // Reading again, it is served in full by the next session.
    w.m.resume()
    const next = await syncNow(w.V, w.m.peerId)
    assert.equal(next.ok, true, next.error)
    assert.ok(next.recordsSent >= 2500, `${next.recordsSent} records sent`)
    assert.equal(w.V.peers!.state(w.m.peerId)!.penalties, 0)
  })
})
