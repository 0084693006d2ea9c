import { setMaxListeners } from 'node:events'
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { DragnetError } from '../errors.js'
import type { Member, Roster } from '../identity/index.js'
import { RosterKeys, keyHex, type Forwardable, type Ingest, type Verdict } from '../ingest/index.js'
import type { Logger } from '../log.js'
import { idOfEnvelope, publicKeyOfPeerId } from '../record/index.js'
import { digestOf, emptyStats, FairQueue, idOfDigest, protocolViolation, throttle, type ReplicationEdge, type ReplicationStats } from '../replication/index.js'
import type { Store } from '../store/index.js'
import { hopTrace } from '../util/hops.js'
import { LruMap, LruSet } from '../util/lru.js'
import { FramedStream } from './framing.js'
import { GRAFT, IHAVE, PRUNE, RECORDS, decodeGossipFrame, encodeIdFrames, encodePrune, encodeRecords, type GossipFrame, type IdGroup } from './gossip-wire.js'
import type { DragnetLibp2p } from './libp2p.js'
import type { PeerManager } from './peers.js'
import { GOSSIP_PROTOCOL } from './protocols.js'

/*
 * Policy-aware epidemic broadcast in the shape of Plumtree (epidemic broadcast trees), one tree
 * per author as in Scuttlebutt's EBT, where the receiver chooses who sends it each author:
 *  - an author pushes its new records whole ("eager") to every neighbour; a relay pushes a
 *    record only to the peers that asked it for that author's records (GRAFT), and announces it
 *    by id ("lazy") to the others. A federation has many authors with a few records each, so
 *    flooding each author's first records on every edge until pruned would cost a copy per edge;
 *  - an id announced for an author nobody pushes to us is asked for at once from the first
 *    announcer (GRAFT), which thereby joins our tree for that author;
 *  - an id announced while a parent pushes that author is given time to arrive: the configured
 *    `treeRepairMs`, stretched by our own ingest backlog and by how late pushes have lately
 *    arrived, so a saturated node does not fetch again what is on its way; then it is asked for
 *    from an announcer, the next one if that does not deliver either;
 *  - a peer that pushes us a record we already hold is taken off that author's tree (PRUNE).
 * Before anything crosses an edge the sender asks its outbound policy (TLP floor included)
 * whether that peer may have the record; announcements go only to peers that may. Amber records
 * are pushed by their author straight to each entitled peer and never relayed.
 *
 * A received record is pushed as soon as ingest finds it forwardable, while its write is in
 * flight (a hop then costs no LevelDB round trip); it is announced by id only once it is stored,
 * since an IHAVE promises the record to whoever asks.
 *
 * Each side opens one stream per peer for what it sends (gossip-wire.ts has the frames). What a
 * peer sends us is bounded everywhere: every frame type charges the peer's buckets on the shared
 * edge (per peer, whatever stream or connection it arrives on), the ids we wait for are capped,
 * an author key nobody on the roster has is a strike (IHAVE) or a violation (GRAFT, PRUNE: an
 * honest peer only names authors we sent it), and a peer that keeps pushing duplicates of an
 * author after we pruned it is replaying.
 */

export interface GossipInit {
  maxFrameBytes: number
  maxBatchRecords: number
  lazyFlushMs: number
  treeRepairMs: number
  seenCacheSize: number
  ioTimeoutMs: number
  queueRecords: number
  /** simulated per-link latency (simulations only) */
  linkDelay?: (peerId: string) => number
}

/** What gossip needs from the node, and nothing more. */
export interface GossipComponents {
  registrar: Pick<DragnetLibp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  peers: Pick<PeerManager, 'onConnect' | 'onDisconnect' | 'connectedPeers' | 'count'>
  ingest: Pick<Ingest, 'onStored' | 'onForwardable' | 'onVerdict' | 'backlog'>
  store: Pick<Store, 'hasMany' | 'getRecord' | 'purgedOf'>
  roster: Roster
  edge: ReplicationEdge
  log: Logger
}

interface Queued { bytes: Uint8Array, author: string, id: string, amber: boolean }

/** What we send to one peer, over the stream we opened to it. */
class OutSession {
  readonly peerId: string
  readonly member: Member
  out: FramedStream | null = null
  /**
   * authors whose records this peer gets whole (it asked with a GRAFT); every other author's
   * go as ids. Our own records start here: an author pushes its records to every neighbour.
   */
  readonly eagerAuthors = new Set<string>()
  /** ids this peer has or was sent or announced: never offered again */
  readonly knows: LruSet<string>
  /** shared fairly by authors (replication/fair-queue.ts): a flood does not hold back the rest */
  readonly pushQueue = new FairQueue<Queued>()
  readonly announceQueue = new Map<string, string[]>()
  announceCount = 0
  writing = false
  flushScheduled = false
  closed = false

  constructor (member: Member, init: GossipInit, self: string) {
    this.peerId = member.peerId
    this.member = member
    this.eagerAuthors.add(self)
    this.knows = new LruSet(Math.max(1000, init.seenCacheSize >> 2))
  }
}

/** A record pushed before it was stored: the peers already decided, and those to announce it to once stored. */
interface Unstored { decided: Set<string>, lazy: Set<string> }

/** GRAFTs to send: announcer → author → ids. */
type Asks = Map<string, Map<string, string[]>>

function addAsk (asks: Asks, announcer: string, author: string, id: string): void {
  let byAuthor = asks.get(announcer)
  if (byAuthor == null) { byAuthor = new Map(); asks.set(announcer, byAuthor) }
  let ids = byAuthor.get(author)
  if (ids == null) { ids = []; byAuthor.set(author, ids) }
  ids.push(id)
}

/** Authors we pruned towards one peer: when, and how many duplicates it pushed us since. */
type Pruned = Map<string, { at: number, dupes: number }>

interface Missing {
  author: string
  announcers: string[]
  due: number
}

/** Records frames, and records, from one inbound stream being ingested at once (see Gossip.readOn). */
const RECORDS_FRAMES_IN_FLIGHT = 4
const PIPELINED_RECORDS = 16

interface RecordsInFlight { frames: Set<Promise<void>>, records: number, failure?: Error }

/** Weights of the arrival-lag average: it follows a slower tree at once and a faster one slowly. */
const LAG_RISE = 0.25
const LAG_FALL = 0.02

export interface GossipPeerSummary { peerId: string, eagerAuthors: number, queued: number }

export class Gossip {
  private readonly c: GossipComponents
  private readonly init: GossipInit
  private readonly keys: RosterKeys
  private readonly counters: ReplicationStats = emptyStats()
  private readonly sessions = new Map<string, OutSession>()
  private readonly pruned = new Map<string, Pruned>()
  /** per author, the peers that push its records to us (our parents on its tree); roster-bounded */
  private readonly parents = new Map<string, Set<string>>()
  private readonly inbound = new Set<FramedStream>()
  /** announced ids we wait for, oldest due first (re-armed entries move to the end) */
  private readonly missing = new Map<string, Missing>()
  private readonly maxMissing: number
  /** ids we asked an announcer for (GRAFT), by id: a copy from that peer is a repair, not a push */
  private readonly asked: LruMap<string, string>
  /** when each id still awaited was first announced to us: its push arrival gives a lag sample */
  private readonly announcedAt: LruMap<string, number>
  /** how long announced ids take to arrive pushed, lately (ms, an asymmetric moving average) */
  private arrivalLagMs = 0
  /** ingest time per received record, lately (ms, a moving average) */
  private ingestMsPerRecord = 0
  private readonly seen: LruSet<string>
  /** records pushed before their write completed, oldest first (bounded: a failed write never reports) */
  private readonly unstored = new Map<string, Unstored>()
  private readonly reopen = new Map<string, ReturnType<typeof setTimeout>>()
  private stopping: AbortController | null = null
  private readonly unlisten: Array<() => void> = []
  private timers: Array<ReturnType<typeof setInterval>> = []

  constructor (components: GossipComponents, init: GossipInit) {
    this.c = components
    this.init = init
    this.keys = new RosterKeys(components.roster)
    this.seen = new LruSet(init.seenCacheSize)
    this.maxMissing = Math.max(1000, Math.floor(init.seenCacheSize / 10))
    this.asked = new LruMap(this.maxMissing)
    this.announcedAt = new LruMap(this.maxMissing)
  }

  private get running (): boolean {
    return this.stopping != null && !this.stopping.signal.aborted
  }

  async start (): Promise<void> {
    this.stopping = new AbortController()
    // Every records frame waiting for an admission ticket listens for the stop: several per peer
    // by design (readOn), not a leak.
    setMaxListeners(Infinity, this.stopping.signal)
    await this.c.registrar.handle(GOSSIP_PROTOCOL, (stream, conn) => { void this.onInbound(stream, conn) }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.unlisten.push(
      this.c.peers.onConnect((peerId) => { void this.openSession(peerId) }),
      this.c.peers.onDisconnect((peerId) => { this.closeSession(peerId) }),
      this.c.ingest.onForwardable((v) => { this.forward(v, false) }),
      this.c.ingest.onStored((v) => { this.forward(v, true) }),
      this.c.ingest.onVerdict((v) => { if (v.status !== 'rejected' && v.id != null) this.seen.add(v.id) })
    )
    this.every(Math.max(1, this.init.lazyFlushMs), () => { this.flushAnnouncements() })
    this.every(Math.max(5, Math.floor(this.init.treeRepairMs / 2)), () => { this.repair() })
    for (const p of this.c.peers.connectedPeers()) void this.openSession(p)
  }

  private every (ms: number, fn: () => void): void {
    const t = setInterval(fn, ms)
    t.unref?.()
    this.timers.push(t)
  }

  /** Stops sending and receiving: every listener, timer, stream and handler it added is removed. */
  async stop (): Promise<void> {
    this.stopping?.abort(new DragnetError('DRAGNET_STOPPED', 'gossip stopped'))
    for (const off of this.unlisten.splice(0)) off()
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const t of this.reopen.values()) clearTimeout(t)
    this.reopen.clear()
    this.missing.clear()
    this.unstored.clear()
    await this.c.registrar.unhandle(GOSSIP_PROTOCOL).catch(() => {})
    for (const f of this.inbound) f.abort(new DragnetError('DRAGNET_STOPPED', 'gossip stopped'))
    await Promise.all([...this.sessions.values()].map(async s => {
      s.closed = true
      await s.out?.close()
    }))
    this.sessions.clear()
    this.pruned.clear()
    this.parents.clear()
  }

  /** A copy of the counters (one shape for every replication service). */
  stats (): ReplicationStats {
    return { ...this.counters }
  }

  peerSummary (): GossipPeerSummary[] {
    return [...this.sessions.values()].map(s => ({ peerId: s.peerId, eagerAuthors: s.eagerAuthors.size, queued: s.pushQueue.length }))
  }

  private session (peerId: string): OutSession | undefined {
    const s = this.sessions.get(peerId)
    return s != null && !s.closed ? s : undefined
  }

  private async openSession (peerId: string): Promise<void> {
    if (!this.running) return
    const member = this.c.roster.get(peerId)
    if (member == null) return
    let s = this.sessions.get(peerId)
    if (s != null && !s.closed && s.out != null) return
    if (s == null || s.closed) {
      s = new OutSession(member, this.init, this.c.roster.self.peerId)
      this.sessions.set(peerId, s)
    }
    const session = s
    try {
      const signal = AbortSignal.any([this.stopping!.signal, AbortSignal.timeout(this.init.ioTimeoutMs)])
      const stream = await this.c.registrar.dialProtocol(peerIdFromString(peerId), GOSSIP_PROTOCOL, { signal })
      if (session.closed || !this.running) { stream.abort(new Error('session closed')); return }
      session.out = new FramedStream(stream, { maxFrameBytes: this.init.maxFrameBytes, ioTimeoutMs: this.init.ioTimeoutMs })
      stream.addEventListener('close', () => { if (this.sessions.get(peerId) === session) this.closeSession(peerId, true) })
      this.schedule(session)
    } catch (err: any) {
      this.c.log.debug({ peer: peerId, err: err.message }, 'cannot open gossip stream')
      if (this.sessions.get(peerId) === session && session.out == null) this.sessions.delete(peerId)
    }
  }

  /** Ends our stream to a peer; if it is still connected (a write timed out, the stream reset), a new one is opened later. */
  private closeSession (peerId: string, retry = false): void {
    const s = this.sessions.get(peerId)
    if (s == null) return
    s.closed = true
    this.sessions.delete(peerId)
    s.out?.abort(new DragnetError('DRAGNET_NODE_UNREACHABLE', 'gossip session closed'))
    if (!retry) { this.pruned.delete(peerId); return }
    if (!this.running || this.reopen.has(peerId)) return
    const t = setTimeout(() => {
      this.reopen.delete(peerId)
      if (this.c.peers.connectedPeers().includes(peerId)) void this.openSession(peerId)
    }, Math.min(30_000, this.init.ioTimeoutMs))
    t.unref?.()
    this.reopen.set(peerId, t)
  }

  // ------------------------------------------------------------------ sending

  /**
   * Called for every record once stored, whatever its source, and for a received one already
   * when it is forwardable (`stored` false): decide per edge once, then push or announce. Before
   * the store holds it, a record is only pushed; its announcements wait until it is stored.
   */
  private forward (v: Forwardable, stored: boolean): void {
    if (!this.running) return
    const author = v.record.record.author
    const tlp = v.record.record.tlp
    const amber = tlp === 'amber' || tlp === 'amber+strict'
    const now = Date.now()
    this.seen.add(v.id)
    this.missing.delete(v.id)
    this.c.edge.expected.settle(v.id, 'gossip')
    const early = stored ? this.takeUnstored(v.id) : undefined
    const pending: Unstored = { decided: new Set(), lazy: new Set() }
    for (const s of this.sessions.values()) {
      if (s.closed || s.peerId === v.from || s.knows.has(v.id)) continue
      if (early?.lazy.has(s.peerId) === true) { s.knows.add(v.id); this.announce(s, author, v.id); continue }
      if (early?.decided.has(s.peerId) === true) continue
      if (!stored) pending.decided.add(s.peerId)
      if (!this.c.edge.maySend(v.subject, s.member, 'gossip', this.counters, now)) continue
      const eager = amber || s.eagerAuthors.has(author)
      // A full push queue turns pushes into announcements: not before the record is stored.
      if (!stored && (!eager || !s.pushQueue.admits(author, this.init.queueRecords))) { pending.lazy.add(s.peerId); continue }
      s.knows.add(v.id)
      if (eager) this.push(s, { bytes: v.record.bytes, author, id: v.id, amber })
      else this.announce(s, author, v.id)
    }
    if (!stored) this.noteUnstored(v.id, pending)
  }

  private noteUnstored (id: string, u: Unstored): void {
    if (this.unstored.size >= this.maxMissing) {
      const oldest = this.unstored.keys().next().value
      if (oldest != null) this.unstored.delete(oldest)
    }
    this.unstored.set(id, u)
  }

  private takeUnstored (id: string): Unstored | undefined {
    const u = this.unstored.get(id)
    if (u != null) this.unstored.delete(id)
    return u
  }

  private push (s: OutSession, q: Queued): void {
    if (!s.pushQueue.admits(q.author, this.init.queueRecords)) {
      // A peer that cannot keep up gets ids instead of payload; anti-entropy covers what it misses.
      this.announce(s, q.author, q.id)
      return
    }
    s.pushQueue.push(q)
    hopTrace()?.mark(this.c.roster.self.peerId, q.id, 'queued', s.peerId)
    this.schedule(s)
  }

  private announce (s: OutSession, author: string, id: string): void {
    if (s.announceCount >= this.init.queueRecords) return
    let list = s.announceQueue.get(author)
    if (list == null) { list = []; s.announceQueue.set(author, list) }
    list.push(id)
    s.announceCount++
    hopTrace()?.mark(this.c.roster.self.peerId, id, 'announce', s.peerId)
  }

  private flushAnnouncements (): void {
    for (const s of this.sessions.values()) if (s.announceCount > 0) this.schedule(s)
  }

  private schedule (s: OutSession): void {
    if (s.flushScheduled || s.writing || s.out == null) return
    s.flushScheduled = true
    // Coalesces what this task queued (a receive's records, an announcement round) into as few
    // frames as the limits allow, and goes out before the next I/O callback: on a busy event
    // loop a setImmediate waited for every other callback of the round first.
    queueMicrotask(() => { s.flushScheduled = false; void this.drain(s) })
  }

  private async drain (s: OutSession): Promise<void> {
    if (s.writing || s.closed || s.out == null) return
    s.writing = true
    try {
      while (!s.closed && (s.pushQueue.length > 0 || s.announceCount > 0)) {
        if (s.pushQueue.length > 0) {
          await this.writeRecords(s, this.takeBatch(s))
          continue
        }
        const trace = hopTrace()
        if (trace != null) for (const ids of s.announceQueue.values()) for (const id of ids) trace.mark(this.c.roster.self.peerId, id, 'announce_sent', s.peerId)
        const groups = [...s.announceQueue].map(([author, ids]) => ({ key: publicKeyOfPeerId(author), digests: ids.map(digestOf) }))
        this.counters.announcedOut += s.announceCount
        s.announceQueue.clear()
        s.announceCount = 0
        for (const frame of encodeIdFrames(IHAVE, groups)) await this.write(s, frame)
      }
    } catch (err: unknown) {
      this.c.edge.fail(s.peerId, err, 'gossip', this.counters)
      this.closeSession(s.peerId, true)
    } finally {
      s.writing = false
    }
  }

  /** As much of the push queue as one frame carries, every waiting author getting its share. */
  private takeBatch (s: OutSession): Queued[] {
    let size = 16
    return s.pushQueue.take(this.init.maxBatchRecords, (q) => {
      size += q.bytes.length + 8
      return size <= this.init.maxFrameBytes
    })
  }

  private async writeRecords (s: OutSession, batch: Queued[]): Promise<void> {
    const frame = encodeRecords(batch.map(q => q.bytes))
    const trace = hopTrace()
    if (trace != null) for (const q of batch) trace.mark(this.c.roster.self.peerId, q.id, 'sent', s.peerId)
    await this.write(s, frame)
    let payload = 0
    for (const q of batch) payload += q.bytes.length
    this.c.edge.sent(s.peerId, batch.length, 'gossip', this.counters, payload)
  }

  private async write (s: OutSession, frame: Uint8Array): Promise<void> {
    if (s.out == null || s.closed) return
    const stopping = this.stopping!.signal
    await s.out.write(frame, () => AbortSignal.any([stopping, AbortSignal.timeout(this.init.ioTimeoutMs)]))
    this.counters.protocolBytesOut += frame.length
    this.c.peers.count(s.peerId, { bytesOut: frame.length })
  }

  /** Control frames jump no queue but never fail the caller: a failed write closes the session. */
  private async sendControl (s: OutSession, frames: Uint8Array[]): Promise<void> {
    try {
      for (const f of frames) await this.write(s, f)
    } catch (err: unknown) {
      this.c.edge.fail(s.peerId, err, 'gossip', this.counters)
      this.closeSession(s.peerId, true)
    }
  }

  // ------------------------------------------------------------------ receiving

  private async onInbound (stream: Stream, conn: Connection): Promise<void> {
    const peerId = conn.remotePeer.toString()
    const member = this.c.roster.get(peerId)
    if (member == null || !this.running) { stream.abort(new Error('not a roster member')); return }
    if (this.session(peerId) == null) void this.openSession(peerId)
    const delay = this.init.linkDelay
    const framed = new FramedStream(stream, { maxFrameBytes: this.init.maxFrameBytes, ioTimeoutMs: this.init.ioTimeoutMs, ...(delay != null ? { delay: () => delay(peerId) } : {}) })
    this.inbound.add(framed)
    const signal = this.stopping!.signal
    const guard = this.c.edge.guard(peerId)
    const records: RecordsInFlight = { frames: new Set(), records: 0 }
    try {
      while (!signal.aborted) {
        const frame = await framed.next()
        if (frame == null) break
        this.counters.protocolBytesIn += frame.length
        this.c.peers.count(peerId, { bytesIn: frame.length })
        guard.frame(frame.length)
        const f = decodeGossipFrame(frame, { maxRecords: this.init.maxBatchRecords })
        if (f.type === RECORDS) await this.readOn(records, f.records.length, this.onRecords(peerId, f.records, signal, framed.lastCompleteAt), framed)
        else await this.onControl(peerId, f)
        await throttle(guard, signal)
      }
      await Promise.all(records.frames)
      if (records.failure != null) throw records.failure
      await framed.close()
    } catch (err: unknown) {
      if (!signal.aborted) this.c.edge.fail(peerId, err, 'gossip', this.counters)
      framed.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.inbound.delete(framed)
    }
  }

  /**
   * A records frame's records are verified, checked and written while the reader goes on: the
   * next frame from this peer does not wait for this one's LevelDB write (its records are
   * forwarded before that write anyway). Only small frames overlap, as a relay's pushes are: at
   * most RECORDS_FRAMES_IN_FLIGHT frames and PIPELINED_RECORDS records per stream; a bigger frame
   * is read on only once it is done, as before, so a peer pushing full frames gets no more of
   * this node's CPU than it did. Within that, the fair admission bounds every peer. A frame that
   * proves the peer a violator ends the stream.
   */
  private async readOn (inFlight: RecordsInFlight, n: number, work: Promise<void>, framed: FramedStream): Promise<void> {
    const p: Promise<void> = work.catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err))
      inFlight.failure ??= e
      framed.abort(e)
    }).finally(() => { inFlight.frames.delete(p); inFlight.records -= n })
    inFlight.frames.add(p)
    inFlight.records += n
    while (inFlight.frames.size >= RECORDS_FRAMES_IN_FLIGHT || (inFlight.frames.size > 0 && inFlight.records >= PIPELINED_RECORDS)) await Promise.race(inFlight.frames)
  }

  private async onControl (peerId: string, f: Exclude<GossipFrame, { type: typeof RECORDS }>): Promise<void> {
    switch (f.type) {
      case IHAVE: return await this.onIHave(peerId, f.groups, f.ids)
      case GRAFT: return await this.onGraft(peerId, f.groups, f.ids)
      case PRUNE: return this.onPrune(peerId, f.keys)
    }
  }

  private async onRecords (peerId: string, frameRecords: Uint8Array[], signal: AbortSignal, completeAt: number): Promise<void> {
    const trace = hopTrace()
    if (trace != null) {
      const self = this.c.roster.self.peerId
      for (const r of frameRecords) {
        const id = idOfEnvelope(r)
        trace.mark(self, id, 'arrive', peerId, completeAt)
        trace.mark(self, id, 'read', peerId)
      }
    }
    this.c.edge.guard(peerId).records.take(frameRecords.length)
    const started = Date.now()
    const over = new Set<string>()
    const deferred: string[] = []
    const h = await this.c.edge.handOff(peerId, frameRecords, 'gossip', this.counters, signal, undefined, (r) => this.withinBudget(r, over, deferred))
    const records = h.envelopes
    if (records.length > 0) this.ingestMsPerRecord += 0.1 * ((Date.now() - started) / records.length - this.ingestMsPerRecord)
    if (h.violation != null) throw new DragnetError('DRAGNET_FORBIDDEN', `gossip from ${peerId} ended: ${h.violation}`)
    const s = this.session(peerId)
    // It holds what it pushed us: once sync brings those, they are not sent back to it.
    for (const id of deferred) s?.knows.add(id)
    const prune: string[] = []
    h.verdicts.forEach((v, i) => {
      if (v.id != null) s?.knows.add(v.id)
      if (!this.countRepair(peerId, v)) this.noteArrival(v)
      if (v.status === 'rejected') return
      const author = this.keys.member(records[i].subarray(1, 33))?.peerId
      if (author == null) return
      this.setParent(author, peerId, v.status === 'stored')
      if (v.status !== 'duplicate') return
      if (this.noteDuplicate(peerId, author)) prune.push(author)
      s?.eagerAuthors.delete(author)
    })
    for (const author of over) if (this.noteDeferred(peerId, author)) prune.push(author)
    if (prune.length > 0 && s != null) {
      this.counters.prunesOut += prune.length
      await this.sendControl(s, encodePrune(prune.map(a => publicKeyOfPeerId(a))))
    }
  }

  /**
   * Whether a pushed record fits its author's budget (author-budget.ts; spent if so). A record
   * we hold or saw already costs nothing (ingest finds it a duplicate cheaply, and a replay is
   * still caught), nor does one of an author not on the roster (ingest refuses it, a strike).
   * Otherwise, past the budget, the author joins `over` and the id `deferred`: the record is left
   * to sync.
   */
  private withinBudget (r: Uint8Array, over: Set<string>, deferred: string[]): boolean {
    const author = this.keys.member(r.subarray(1, 33))?.peerId
    if (author == null) return true
    const id = idOfEnvelope(r)
    if (this.seen.has(id) || this.c.edge.authors.take(author)) return true
    over.add(author)
    deferred.push(id)
    return false
  }

  /**
   * `peerId` pushed records of `author` past its budget: that author goes lazy on this edge.
   * The peer is no longer its parent, and it is told to announce the author's records by id
   * (PRUNE; true = send one, once until we ask for pushes again) — announcements we follow
   * only while the author has budget left; sync fetches the rest.
   */
  private noteDeferred (peerId: string, author: string): boolean {
    this.setParent(author, peerId, false)
    let p = this.pruned.get(peerId)
    if (p == null) { p = new Map(); this.pruned.set(peerId, p) }
    if (p.has(author)) return false
    p.set(author, { at: Date.now(), dupes: 0 })
    return true
  }

  /** Counts a copy that answered our GRAFT (the rest of what gossip receives was pushed); true if it did. */
  private countRepair (peerId: string, v: Verdict): boolean {
    if (v.id == null || this.asked.get(v.id) !== peerId) return false
    this.asked.delete(v.id)
    this.counters.repairIn++
    if (v.status === 'duplicate') this.counters.repairDuplicatesIn++
    return true
  }

  /** A pushed copy of an id announced to us earlier: how far the tree lags behind the announcements. */
  private noteArrival (v: Verdict): void {
    const at = v.id != null ? this.announcedAt.get(v.id) : undefined
    if (at == null) return
    this.announcedAt.delete(v.id!)
    const lag = Date.now() - at
    this.arrivalLagMs += (lag > this.arrivalLagMs ? LAG_RISE : LAG_FALL) * (lag - this.arrivalLagMs)
  }

  /**
   * How long an announced id may take to arrive down the tree before we ask for it: the
   * configured delay, plus whichever is longer of the time our own ingest backlog takes to clear
   * (the pushed copy may be queued behind it) and how late pushes have lately arrived after
   * their announcements (the tree upstream is saturated). Asking sooner fetches a record that
   * is on its way, and pays its transfer and its ingest twice. Never beyond the I/O deadline.
   */
  repairWaitMs (): number {
    const backlogMs = this.c.ingest.backlog * this.ingestMsPerRecord
    return Math.round(Math.min(this.init.ioTimeoutMs, this.init.treeRepairMs + Math.max(backlogMs, this.arrivalLagMs)))
  }

  /**
   * A record we hold, pushed whole: this edge is redundant for the author's tree, so the peer
   * is told to stop (PRUNE; true = send one). A peer that keeps pushing duplicates of that
   * author once it had time to act on the PRUNE (one write deadline) is replaying; beyond a
   * batch's worth of them it is a violation.
   */
  private noteDuplicate (peerId: string, author: string): boolean {
    let p = this.pruned.get(peerId)
    if (p == null) { p = new Map(); this.pruned.set(peerId, p) }
    const e = p.get(author)
    const now = Date.now()
    if (e == null) { p.set(author, { at: now, dupes: 0 }); return true }
    if (now - e.at <= this.init.ioTimeoutMs) return false
    if (++e.dupes > this.init.maxBatchRecords) throw protocolViolation(`kept pushing records of ${author} that we hold after we pruned it (${e.dupes} since)`)
    return false
  }

  /** Author of an id group; an unknown key is a strike (IHAVE) or a violation. */
  private authorOfGroup (peerId: string, g: IdGroup, strict: boolean): string | undefined {
    const m = this.keys.member(g.key)
    if (m != null) return m.peerId
    if (strict) throw protocolViolation(`named author key ${keyHex(g.key)}, not on the roster, in a GRAFT or PRUNE`)
    if (this.c.edge.strike(peerId, `author:${keyHex(g.key)}`, 'gossip', this.counters, `announced records of unknown author key ${keyHex(g.key)}`)) {
      throw new DragnetError('DRAGNET_FORBIDDEN', `gossip from ${peerId} ended: too many unknown authors`)
    }
    return undefined
  }

  private async onIHave (peerId: string, groups: IdGroup[], count: number): Promise<void> {
    this.c.edge.guard(peerId).ids.take(count)
    const s = this.session(peerId)
    const fresh: Array<{ author: string, id: string }> = []
    for (const g of groups) {
      const author = this.authorOfGroup(peerId, g, false)
      if (author == null) continue
      for (const d of g.digests) {
        const id = idOfDigest(d)
        s?.knows.add(id)
        hopTrace()?.mark(this.c.roster.self.peerId, id, 'ihave', peerId)
        if (!this.seen.has(id)) fresh.push({ author, id })
      }
    }
    if (fresh.length === 0) return
    const present = await this.c.store.hasMany(fresh.map(e => e.id))
    const purged = await this.c.store.purgedOf(fresh.map(e => e.id))
    const now = Date.now()
    const wait = this.repairWaitMs()
    const asks: Asks = new Map()
    fresh.forEach((e, i) => {
      // A purged id counts as held: it is never asked for again.
      if (present[i] || purged[i]) { this.seen.add(e.id); return }
      // Its author's budget is spent: not fetched now (author-budget.ts); sync brings it later.
      if (!this.c.edge.authors.admits(e.author)) return
      const m = this.missing.get(e.id)
      if (m != null) { if (!m.announcers.includes(peerId)) m.announcers.push(peerId); return }
      // Beyond the cap, announcements are dropped: anti-entropy finds those records anyway.
      if (this.missing.size >= this.maxMissing) return
      // Nobody pushes this author to us: waiting would only delay it. The first announcer is on
      // the fastest path; it joins our tree for the author. (An author announcing its own
      // records has its push queue full: that push is coming. Until our stream to the announcer
      // is open, it is asked like any other, once the wait is over.)
      const now$ = !this.hasParent(e.author) && e.author !== peerId && this.session(peerId)?.out != null
      this.missing.set(e.id, { author: e.author, announcers: now$ ? [] : [peerId], due: now + wait })
      if (now$) addAsk(asks, peerId, e.author, e.id)
      this.announcedAt.set(e.id, now)
      this.c.edge.expected.expect(e.id, 'gossip', now + wait)
    })
    this.sendGrafts(asks)
  }

  /** A peer pushes this author's records to us: one that pushed one lately, or one we grafted, or the author itself, still connected. */
  private hasParent (author: string): boolean {
    for (const p of this.parents.get(author) ?? []) if (this.session(p) != null) return true
    return this.session(author) != null && this.pruned.get(author)?.has(author) !== true
  }

  private setParent (author: string, peerId: string, on: boolean): void {
    let set = this.parents.get(author)
    if (set == null) { set = new Set(); this.parents.set(author, set) }
    if (on) set.add(peerId)
    else set.delete(peerId)
  }

  /**
   * Ids announced to us that did not arrive whole in time: ask an announcer for them (one GRAFT
   * per announcer), which puts it back on the author's tree; ask the next one if it does not
   * deliver either.
   */
  private repair (): void {
    if (!this.running) return
    const now = Date.now()
    const wait = this.repairWaitMs()
    const asks: Asks = new Map()
    const later: Array<[string, Missing]> = []
    for (const [id, m] of this.missing) {
      if (m.due > now) break
      this.missing.delete(id)
      // A sync session asked for it: let that copy arrive rather than fetch a second one.
      if (this.c.edge.expected.expectedBy(id) === 'sync') { m.due = now + wait; later.push([id, m]); continue }
      const announcer = m.announcers.shift()
      // Nobody left to ask, or the author's budget is spent meanwhile: sync brings it.
      if (announcer == null || !this.c.edge.authors.admits(m.author)) { this.c.edge.expected.settle(id, 'gossip'); continue }
      addAsk(asks, announcer, m.author, id)
      // Kept for one more round: if this announcer does not deliver either, the next one is asked.
      m.due = now + wait
      later.push([id, m])
      this.c.edge.expected.expect(id, 'gossip', m.due)
    }
    for (const [id, m] of later) this.missing.set(id, m)
    this.sendGrafts(asks)
  }

  /** One GRAFT per announcer: send us these ids, and push us their authors' records from now on. */
  private sendGrafts (asks: Asks): void {
    for (const [announcer, byAuthor] of asks) {
      const s = this.session(announcer)
      if (s == null) continue
      for (const [author, ids] of byAuthor) {
        // We asked for this author's pushes again: its duplicates are no replay.
        this.pruned.get(announcer)?.delete(author)
        this.setParent(author, announcer, true)
        for (const id of ids) { this.asked.set(id, announcer); hopTrace()?.mark(this.c.roster.self.peerId, id, 'graft', announcer) }
      }
      const groups = [...byAuthor].map(([author, ids]) => ({ key: publicKeyOfPeerId(author), digests: ids.map(digestOf) }))
      for (const g of groups) this.counters.requestedOut += g.digests.length
      void this.sendControl(s, encodeIdFrames(GRAFT, groups))
    }
  }

  /** A peer asks for ids we announced to it, and for pushes of their authors again. */
  private async onGraft (peerId: string, groups: IdGroup[], count: number): Promise<void> {
    this.c.edge.guard(peerId).ids.take(count)
    const asked: Array<{ author: string, id: string }> = []
    for (const g of groups) {
      const author = this.authorOfGroup(peerId, g, true)!
      for (const d of g.digests) {
        const id = idOfDigest(d)
        asked.push({ author, id })
        hopTrace()?.mark(this.c.roster.self.peerId, id, 'graft_in', peerId)
      }
    }
    const s = this.session(peerId)
    if (s == null) return
    for (const a of asked) s.eagerAuthors.add(a.author)
    // Only ids we offered this peer are read; anything else is not ours to answer.
    const ids = asked.filter(a => s.knows.has(a.id)).slice(0, this.init.maxBatchRecords).map(a => a.id)
    const recs = await Promise.all(ids.map(async id => await this.c.store.getRecord(id).catch(() => undefined)))
    const now = Date.now()
    for (const rec of recs) {
      if (rec == null) continue
      const subject = this.c.edge.subjectOf(rec.record)
      if (!this.c.edge.maySend(subject, s.member, 'gossip', this.counters, now)) continue
      const tlp = rec.record.record.tlp
      this.push(s, { bytes: rec.record.bytes, author: rec.record.record.author, id: rec.record.id, amber: tlp === 'amber' || tlp === 'amber+strict' })
    }
  }

  /** Stop pushing these authors eagerly; what is queued for them goes out as announcements. */
  private onPrune (peerId: string, keys: Uint8Array[]): void {
    const authors = new Set<string>()
    for (const key of keys) authors.add(this.authorOfGroup(peerId, { key, digests: [] }, true)!)
    const s = this.session(peerId)
    if (s == null) return
    for (const a of authors) s.eagerAuthors.delete(a)
    // A record not stored yet goes whole: announcing it would promise what we may not hold.
    for (const q of s.pushQueue.remove(q => authors.has(q.author) && !q.amber && !this.unstored.has(q.id))) this.announce(s, q.author, q.id)
  }
}
