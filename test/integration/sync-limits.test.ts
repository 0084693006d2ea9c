import assert from 'node:assert/strict'
import type { Stored } from '../../src/ingest/index.js'
import type { DragnetNode } from '../../src/node.js'
import { digestOf } from '../../src/replication/index.js'
import { malware } from '../../src/sim/stix-factory.js'
import { RECON, decodeFrame, encodeOpen, encodeRecon, encodeWant, type ScopedMessage } from '../../src/sync/protocol.js'
import { ReconIndex, createInitiator } from '../../src/sync/recon/index.js'
import { identityFor, startFederation, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { HostileMember, type Link } from '../helpers/hostile-member.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * Anti-entropy limits seen from the wire: amber is reconciled only between its author and its
 * recipients (a non-recipient learns no id, timestamp or count), the responder's deadline is
 * fixed (frames do not extend it), and a session has a frame budget.
 */

/** Reconciles an empty set against `node` over `link` to the end; returns the ids it offers (what it would hand over) and every byte it sent. */
async function reconcileEmpty (link: Link): Promise<{ need: string[], bytes: Buffer }> {
  const sessions = Array.from({ length: 6 }, () => createInitiator(new ReconIndex()))
  let outgoing: ScopedMessage[] = sessions.map((s, i) => ({ scope: i, message: s.initiate() }))
  const need: string[] = []
  const seen: Buffer[] = []
  await link.send(encodeOpen([0, 1, 2, 3, 4, 5], outgoing))
  while (outgoing.length > 0) {
    const raw = await link.read()
    assert.ok(raw != null)
    seen.push(Buffer.from(raw))
    const reply = decodeFrame(raw, { maxItems: 1 << 20, scopes: 6 })
    assert.equal(reply.type, RECON)
    const answered = new Map((reply as { messages: ScopedMessage[] }).messages.map(m => [m.scope, m.message]))
    const next: ScopedMessage[] = []
    for (const m of outgoing) {
      const a = answered.get(m.scope)
      if (a == null) continue
      const step = sessions[m.scope].consume(a)
      for (const d of step.need) need.push('1220' + Buffer.from(d).toString('hex'))
      if (step.message != null) next.push({ scope: m.scope, message: step.message })
    }
    outgoing = next
    if (next.length > 0) await link.send(encodeRecon(next))
  }
  return { need, bytes: Buffer.concat(seen) }
}

describe('sync limits over the wire', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let fed: Federation | undefined
  let m: HostileMember | undefined

  async function setup (victimConfig: Record<string, unknown> = {}): Promise<{ A: DragnetNode, B: DragnetNode, m: HostileMember }> {
    const id = await identityFor(`limits-${Math.random()}`)
    fed = await startFederation(tmp.dir, [{ name: 'A', config: victimConfig }, { name: 'B' }], [[0, 1]], {
      extraRoster: [{ peerId: id.peerId, name: 'other' }],
      config: { sync: { intervalMs: 3_600_000 } }
    })
    await waitConnected(fed.nodes, [[0, 1]])
    m = await HostileMember.start(id)
    await m.connect(fed.nodes[0])
    const A = fed.nodes[0]
    await waitFor(() => A.peers!.state(m!.peerId)?.connected === true, 'connected')
    // With the smaller PeerId, A opens a session to the member on connect; while it runs, A
    // refuses the member's own session (one per pair), so the tests start once it is over.
    if (A.peerId < m.peerId) await waitFor(() => A.peers!.state(m!.peerId)?.lastSync != null, 'the session A opened on connect', 30_000)
    return { A, B: fed.nodes[1], m }
  }

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => {
    await m?.stop().catch(() => {})
    m = undefined
    await fed?.stop()
    fed = undefined
    await tmp.cleanup()
  })

  it('amber is reconciled only with its recipients: a non-recipient sees no amber id, timestamp or count', async () => {
    const { A, B, m } = await setup()
    const green = await A.publish([malware('g1'), malware('g2'), malware('g3')], { tlp: 'green' }) as Stored[]
    const toB = await A.publish([malware('for-b-1'), malware('for-b-2')], { tlp: 'amber', to: [B.peerId] }) as Stored[]
    const toM = await A.publish([malware('for-other')], { tlp: 'amber', to: [m.peerId] }) as Stored[]
    await waitFor(async () => (await B.store.hasMany(toB.map(v => v.id))).every(Boolean), 'B has its amber')
    const { need, bytes } = await reconcileEmpty(await m.sync(A))
    // What A offers this member: the green records and the amber addressed to it, nothing else.
    assert.deepEqual(new Set(need), new Set([...green, ...toM].map(v => v.id)))
    for (const v of toB) {
      assert.equal(bytes.includes(Buffer.from(digestOf(v.id))), false, 'no amber id for B crossed to a non-recipient')
      assert.equal(bytes.includes(Buffer.from(v.record.record.ts.toString(16))), false)
    }
    // The recipient itself reconciles it: a fresh session between A and B finds nothing missing.
    const [x, y] = A.peerId < B.peerId ? [A, B] : [B, A]
    await waitFor(async () => {
      try { return (await x.sync!.syncNow(y.peerId)).ok } catch { return false }
    }, 'a session between A and B', 15_000, 100)
  })

  it('the responder\'s deadline is fixed: a session kept busy with small frames ends at sync.maxSessionMs, as a timeout', async () => {
    const { A, m } = await setup({ sync: { maxSessionMs: 1500, intervalMs: 3_600_000 } })
    const link = await m.sync(A)
    await reconcileEmpty(link)
    const t0 = Date.now()
    // One harmless frame every 200 ms (each well within the read deadline): before, every frame
    // moved the deadline, so the session never ended.
    while (link.open && Date.now() - t0 < 12_000) {
      if (!await link.send(encodeWant([]))) break
      await link.read(1000).catch(() => null)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const took = Date.now() - t0
    assert.ok(!link.open, 'the responder ended the session')
    // maxSessionMs is 1500; slack for a loaded machine, far below the 12 s a moving deadline takes.
    assert.ok(took < 7000, `ended after ${took} ms`)
    await waitFor(() => A.peers!.state(m.peerId)?.lastSync?.failure === 'timeout', 'the session recorded as timed out', 10_000)
    assert.equal(A.peers!.state(m.peerId)!.penalties, 0, 'running out of time is not a violation')
  })

  it('a session has a frame budget: a flood of small frames is a violation', async () => {
    const { A, m } = await setup()
    const link = await m.sync(A)
    await reconcileEmpty(link)
    for (let i = 0; i < 2000 && link.open; i++) await link.send(encodeWant([]))
    await waitFor(() => (A.peers!.state(m.peerId)?.penalties ?? 0) > 0, 'penalised', 10_000)
    assert.match(A.peers!.state(m.peerId)!.lastPenalty!.reason, /budget of \d+ frames/, JSON.stringify(A.peers!.state(m.peerId)!.lastPenalty))
  })

  it('a WANT may name each id once: asking twice for the same record is a violation', async () => {
    const { A, m } = await setup()
    const [v] = await A.publish([malware('asked-twice')], { tlp: 'green' }) as Stored[]
    const link = await m.sync(A)
    const { need } = await reconcileEmpty(link)
    assert.ok(need.includes(v.id))
    await link.send(encodeWant([digestOf(v.id)]))
    const got = await link.read()
    assert.ok(got != null)
    await link.send(encodeWant([digestOf(v.id)]))
    await waitFor(() => (A.peers!.state(m.peerId)?.penalties ?? 0) > 0, 'penalised', 10_000)
    assert.match(A.peers!.state(m.peerId)!.lastPenalty!.reason, /asked twice|does not lack/)
  })
})
