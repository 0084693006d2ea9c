import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { DragnetError } from '../errors.js'
import type { Member, Roster } from '../identity/index.js'
import type { Ingest, Verdict } from '../ingest/index.js'
import type { Logger } from '../log.js'
import { FramedStream } from '../net/framing.js'
import type { DragnetLibp2p } from '../net/libp2p.js'
import type { PeerManager, SyncSummary } from '../net/peers.js'
import { SYNC_PROTOCOL } from '../net/protocols.js'
import { idOfEnvelope, scopesOf } from '../record/index.js'
import {
  digestKey, emptyStats, idOfDigest, packRecordsFrames, peerTimeout, protocolViolation, throttle,
  type FailureKind, type ReplicationEdge, type ReplicationStats
} from '../replication/index.js'
import type { Store } from '../store/index.js'
import { StoredRecordView } from '../store/reads.js'
import { DEFAULT_DECLINED_TTL_MS, scopesBetween, SyncIndexes, syncSnapshotFile, type LoadedSyncIndexes } from './indexes.js'

/** Scopes two members share (see scopesBetween): what an OPEN may name, by index. */
const SHARED_SCOPES = 6
/** Sessions start only while fewer received records than this many batches wait in ingest. */
const BACKLOG_BATCHES = 2
import {
  DECLINE, DONE, OPEN, RECON, RECORDS, WANT, decodeFrame, encodeDecline, encodeDone, encodeOpen, encodeRecon, encodeWant,
  type Declined, type ScopedMessage, type SyncFrame
} from './protocol.js'
import { createInitiator, createResponder, type ReconSession, type ReconStep } from './recon/index.js'

export interface SyncInit {
  enabled: boolean
  intervalMs: number
  maxFrameBytes: number
  maxRecordsPerBatch: number
  maxSessionMs: number
  maxRounds: number
  /**
   * ids one session may move in each direction (wanted, pushed or declined); reconciliation
   * stops once it has found this many differences and the next session carries on
   */
  maxIdsPerSession: number
  /** declined ids are asked for again after this long (the peer's policy may have changed) */
  declinedTtlMs?: number
  /** deadline for each read and write */
  ioTimeoutMs?: number
  /** simulated per-link latency (simulations only) */
  linkDelay?: (peerId: string) => number
  /** indexes loaded before the node started anything else (preloadSyncIndexes); used while the store's generation still matches */
  preloaded?: LoadedSyncIndexes
}

/** What sync needs from the node, and nothing more. */
export interface SyncComponents {
  registrar: Pick<DragnetLibp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  peers: Pick<PeerManager, 'onConnect' | 'connectedPeers' | 'count' | 'recordSync'>
  ingest: Pick<Ingest, 'onVerdict' | 'backlog' | 'inFlightHas'>
  store: Store
  roster: Roster
  edge: ReplicationEdge
  log: Logger
}

/** One session, either side: its stream, scopes, fixed deadline and what it may still read. */
interface Session {
  peer: Member
  f: FramedStream
  scopes: string[]
  /** aborts at the fixed deadline (started + maxSessionMs) or when the service stops */
  signal: AbortSignal
  deadline: number
  /** frames other than RECORDS read so far (RECORDS are bounded by the ids asked for) */
  controlFrames: number
  roundTrips: number
  recordsSent: number
  recordsReceived: number
  /** reconciliation stopped at the id budget: the next session continues */
  partial: boolean
}

/** An id a session found, with the index of the scope it was found in. */
interface Found { digest: Uint8Array, scope: number }

/** The responder's differences as sets: what it may be asked for, and what it may be pushed or declined (digest → scope). */
interface Found$ { have: Set<string>, need: Map<string, number>, kept: number }

/**
 * Anti-entropy. On connect and every interval, the member with the smaller PeerId opens a
 * session: both sides reconcile every scope they share at once (range-based set reconciliation
 * over (ts, id); in-sync costs one round trip of a few hundred bytes), then the initiator pulls
 * what it lacks and pushes what the other lacks. Every record is checked against the sender's
 * outbound policy (TLP floor included) before it crosses; what is withheld is declined by id,
 * and the receiver counts declined ids as known for that peer so they are not offered again.
 * Received records go through ingest like any other, and gossip carries them on.
 *
 * Each side holds the other to what reconciliation found: a WANT may name only ids the asker
 * lacks, a record or a decline only answers an id that was asked for (or, pushed by the
 * initiator, one the responder lacks), each at most once, and at most `maxIdsPerSession` of
 * them. A session has a fixed deadline (no frame extends it) and a frame budget. Breaking these
 * rules is a violation; running out of time is not.
 */
export class SyncService {
  private readonly c: SyncComponents
  private readonly init: Required<Omit<SyncInit, 'linkDelay' | 'preloaded'>> & Pick<SyncInit, 'linkDelay'>
  readonly indexes: SyncIndexes
  private preloaded: LoadedSyncIndexes | undefined
  private readonly active = new Set<string>()
  private readonly counters: ReplicationStats = emptyStats()
  private timer: ReturnType<typeof setInterval> | null = null
  private stopping: AbortController | null = null
  private readonly unlisten: Array<() => void> = []
  private readonly sessionsDone = new Set<Promise<unknown>>()
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>()

  constructor (components: SyncComponents, init: SyncInit) {
    this.c = components
    const { preloaded, ...rest } = init
    this.init = { declinedTtlMs: DEFAULT_DECLINED_TTL_MS, ioTimeoutMs: 30_000, ...rest }
    // Preloaded indexes stand only if nothing changed the store since (else they are rebuilt in start).
    this.preloaded = preloaded
    this.indexes = preloaded?.indexes ?? new SyncIndexes()
  }

  private get running (): boolean {
    return this.stopping != null && !this.stopping.signal.aborted
  }

  private get reconOptions (): { maxMessageBytes: number, maxRounds: number } {
    return { maxMessageBytes: Math.max(512, this.init.maxFrameBytes - 1024), maxRounds: this.init.maxRounds }
  }

  /** Frames other than RECORDS one session may read: every round, every WANT and DECLINE the id budget allows, and a few more. */
  private get frameBudget (): number {
    return this.init.maxRounds + 8 + 4 * Math.ceil(this.init.maxIdsPerSession / this.init.maxRecordsPerBatch)
  }

  /** Differences a responder keeps: the initiator's budget, and the one message either side may be ahead by. */
  private get responderCap (): number {
    return this.init.maxIdsPerSession + 2 * Math.ceil(this.reconOptions.maxMessageBytes / 32)
  }

  async start (): Promise<void> {
    this.stopping = new AbortController()
    const pre = this.preloaded
    this.preloaded = undefined
    const loaded = pre != null && pre.generation === this.c.store.counts().generation && pre.indexes === this.indexes
      ? pre.loaded
      : await this.indexes.reset().load(this.c.store, { declinedTtlMs: this.init.declinedTtlMs, snapshotFile: this.snapshotFile })
    this.c.log.info(loaded, 'sync index loaded')
    this.unlisten.push(
      this.c.ingest.onVerdict((v) => { this.track(v) }),
      this.c.peers.onConnect((peerId) => { this.schedule(peerId, 200) })
    )
    await this.c.registrar.handle(SYNC_PROTOCOL, (stream, conn) => { this.track$(this.respond(stream, conn)) }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
    this.timer = setInterval(() => { this.tick() }, this.init.intervalMs)
    this.timer.unref?.()
  }

  private get snapshotFile (): string {
    return syncSnapshotFile(this.c.store)
  }

  /** Ends every session (their signals abort), removes every listener and handler, saves the index snapshot. */
  async stop (): Promise<void> {
    this.stopping?.abort(new DragnetError('DRAGNET_STOPPED', 'sync stopped'))
    for (const off of this.unlisten.splice(0)) off()
    if (this.timer != null) clearInterval(this.timer)
    for (const t of this.pending.values()) clearTimeout(t)
    this.pending.clear()
    await this.c.registrar.unhandle(SYNC_PROTOCOL).catch(() => {})
    await Promise.race([Promise.allSettled([...this.sessionsDone]), new Promise(resolve => setTimeout(resolve, 5000).unref?.())])
    // Only valid if nothing changes the store afterwards; the generation check sees to that.
    if (this.c.store.isOpen) await this.indexes.saveSnapshot(this.snapshotFile, this.c.store.counts().generation).catch((err: Error) => { this.c.log.warn({ err: err.message }, 'could not save the sync index snapshot') })
  }

  private track$ (p: Promise<unknown>): void {
    this.sessionsDone.add(p)
    void p.finally(() => this.sessionsDone.delete(p))
  }

  /** A copy of the counters (one shape for every replication service). */
  stats (): ReplicationStats {
    return { ...this.counters }
  }

  /** Keeps the reconciliation index current with what ingest stored or rejected. */
  private track (v: Verdict): void {
    if (v.status === 'stored') {
      for (const scope of scopesOf(v.record.record)) this.indexes.addRecord(scope, v.record.record.ts, v.id)
    } else if (v.status === 'rejected' && v.known != null && v.id != null) {
      for (const scope of v.known.scopes) this.indexes.addRejected(scope, v.known.ts, v.id)
    }
  }

  private initiates (peerId: string): boolean {
    return this.c.roster.self.peerId < peerId
  }

  private tick (): void {
    if (!this.running) return
    for (const p of this.c.peers.connectedPeers()) if (this.initiates(p)) this.schedule(p, Math.floor(Math.random() * 1000))
    for (const e of this.indexes.expireDeclined(this.init.declinedTtlMs)) void this.c.store.deleteKnown([e]).catch(() => {})
  }

  private schedule (peerId: string, delayMs: number): void {
    if (!this.running || !this.initiates(peerId) || this.pending.has(peerId)) return
    const t = setTimeout(() => {
      this.pending.delete(peerId)
      // Behind on what we already received: a session now would mostly fetch records gossip is
      // delivering, and add to the backlog. Try again once it had time to clear.
      if (this.backlogged) { this.counters.sessionsDeferred++; this.schedule(peerId, this.deferMs()); return }
      this.track$(this.syncNow(peerId).catch(() => {}))
    }, delayMs)
    t.unref?.()
    this.pending.set(peerId, t)
  }

  /** More received records wait in ingest than a few sessions' batches: too busy to start a session. */
  private get backlogged (): boolean {
    return this.c.ingest.backlog > BACKLOG_BATCHES * this.init.maxRecordsPerBatch
  }

  private deferMs (): number {
    return Math.min(this.init.intervalMs, 1000) + Math.floor(Math.random() * 1000)
  }

  private member (peerId: string): Member {
    const m = this.c.roster.get(peerId)
    if (m == null) throw new DragnetError('DRAGNET_FORBIDDEN', `${peerId} is not on the roster`)
    return m
  }

  private framed (stream: Stream, peerId: string): FramedStream {
    const delay = this.init.linkDelay
    return new FramedStream(stream, {
      maxFrameBytes: this.init.maxFrameBytes,
      ioTimeoutMs: this.init.ioTimeoutMs,
      highWaterBytes: 4 * this.init.maxFrameBytes,
      ...(delay != null ? { delay: () => delay(peerId) } : {})
    })
  }

  private session (peer: Member, f: FramedStream, signal: AbortSignal, deadline: number): Session {
    return { peer, f, scopes: [], signal, deadline, controlFrames: 0, roundTrips: 0, recordsSent: 0, recordsReceived: 0, partial: false }
  }

  /** The next frame within the session's fixed deadline and frame budget; the peer's buckets are charged. */
  private async read (s: Session): Promise<SyncFrame> {
    const left = s.deadline - Date.now()
    if (left <= 0) throw peerTimeout(`sync session exceeded its ${this.init.maxSessionMs} ms deadline`)
    const raw = await s.f.read(AbortSignal.any([s.signal, AbortSignal.timeout(Math.min(this.init.ioTimeoutMs, left))]))
    if (raw == null) throw new DragnetError('DRAGNET_NODE_UNREACHABLE', 'sync stream ended early')
    // Frames and requests are charged; records and bytes are not: a session only carries what
    // one side asked for, which the id budget bounds.
    const guard = this.c.edge.guard(s.peer.peerId)
    guard.frames.take(1)
    const frame = decodeFrame(raw, { maxItems: this.init.maxRecordsPerBatch * 4, scopes: s.scopes.length > 0 ? s.scopes.length : SHARED_SCOPES })
    if (frame.type !== RECORDS && ++s.controlFrames > this.frameBudget) throw protocolViolation(`sync session exceeded its budget of ${this.frameBudget} frames`)
    if (frame.type === WANT) guard.ids.take(frame.digests.length)
    await throttle(guard, s.signal)
    return frame
  }

  private async write (s: Session, frame: Uint8Array): Promise<void> {
    await s.f.write(frame, AbortSignal.any([s.signal, AbortSignal.timeout(this.init.ioTimeoutMs)]))
  }

  // ------------------------------------------------------------------ initiator

  /**
   * Runs one session with `peerId` now (whichever side would initiate); resolves with its
   * summary. A violation by the peer penalises it; a timeout or a closed stream does not.
   */
  async syncNow (peerId: string, signal?: AbortSignal): Promise<SyncSummary> {
    if (!this.running) throw new DragnetError('DRAGNET_STOPPED', 'sync is not running')
    if (this.active.has(peerId)) throw new DragnetError('DRAGNET_CONFLICT', `a sync session with ${peerId} is already running`)
    const member = this.member(peerId)
    this.active.add(peerId)
    const started = Date.now()
    const deadline = started + this.init.maxSessionMs
    const sessionSignal = AbortSignal.any([this.stopping!.signal, AbortSignal.timeout(this.init.maxSessionMs), ...(signal != null ? [signal] : [])])
    let s: Session | undefined
    let failure: { kind: FailureKind, error: string } | undefined
    try {
      const stream = await this.c.registrar.dialProtocol(peerIdFromString(peerId), SYNC_PROTOCOL, { signal: AbortSignal.any([sessionSignal, AbortSignal.timeout(this.init.ioTimeoutMs)]) })
      s = this.session(member, this.framed(stream, peerId), sessionSignal, deadline)
      await this.initiate(s)
      this.counters.sessions++
    } catch (err) {
      failure = this.failed(peerId, err, s)
    } finally {
      this.active.delete(peerId)
    }
    const summary = this.summary(started, s, failure)
    this.account(peerId, summary)
    // A session cut short (time, or the id budget) that still moved records continues at once.
    if ((failure != null || s?.partial === true) && summary.recordsReceived + summary.recordsSent > 0 && this.running) this.schedule(peerId, 100)
    return summary
  }

  private failed (peerId: string, err: unknown, s: Session | undefined): { kind: FailureKind, error: string } {
    const kind = this.c.edge.fail(peerId, err, 'sync', this.counters)
    const e = err instanceof DragnetError ? err : new DragnetError('DRAGNET_INTERNAL', (err as Error)?.message ?? String(err))
    s?.f.abort(e)
    return { kind, error: `${e.code}: ${e.message}` }
  }

  private summary (started: number, s: Session | undefined, failure?: { kind: FailureKind, error: string }): SyncSummary {
    const out: SyncSummary = { at: started, ms: Date.now() - started, ok: failure == null, roundTrips: s?.roundTrips ?? 0, bytesSent: s?.f.bytesOut ?? 0, bytesReceived: s?.f.bytesIn ?? 0, recordsSent: s?.recordsSent ?? 0, recordsReceived: s?.recordsReceived ?? 0 }
    if (failure != null) { out.error = failure.error; out.failure = failure.kind }
    if (s?.partial === true) out.partial = true
    return out
  }

  private account (peerId: string, summary: SyncSummary): void {
    this.counters.protocolBytesIn += summary.bytesReceived
    this.counters.protocolBytesOut += summary.bytesSent
    this.c.peers.recordSync(peerId, summary)
    this.c.peers.count(peerId, { bytesIn: summary.bytesReceived, bytesOut: summary.bytesSent, syncBytesIn: summary.bytesReceived, syncBytesOut: summary.bytesSent })
  }

  private async initiate (s: Session): Promise<void> {
    s.scopes = scopesBetween(this.c.roster.self.peerId, s.peer.peerId)
    const recon = s.scopes.map(scope => createInitiator(this.indexes.view(scope, s.peer.peerId), this.reconOptions))
    const found = new Differences(this.init.maxIdsPerSession)
    let outgoing: ScopedMessage[] = recon.map((r, i) => ({ scope: i, message: r.initiate() }))
    await this.write(s, encodeOpen(s.scopes.map((_, i) => i), outgoing))
    while (outgoing.length > 0) {
      const reply = await this.read(s)
      if (reply.type !== RECON) throw protocolViolation(`expected RECON, got frame ${reply.type}`)
      s.roundTrips++
      outgoing = this.step(recon, outgoing, reply.messages, s.scopes, found)
      if (outgoing.length > 0) await this.write(s, encodeRecon(outgoing))
      if (found.full) {
        // The responder learns this last step's differences only from the message just sent
        // (its cap leaves room for it): take its answer, then stop reconciling there.
        if (outgoing.length > 0 && (await this.read(s)).type !== RECON) throw protocolViolation('expected RECON')
        s.partial = true
        break
      }
    }
    await this.pull(s, found.need)
    await this.push(s, found.have)
    await this.write(s, encodeDone())
    // The responder closes once it has ingested everything we pushed.
    const end = await s.f.read(AbortSignal.any([s.signal, AbortSignal.timeout(Math.max(1, Math.min(this.init.ioTimeoutMs * 4, s.deadline - Date.now())))]))
    if (end != null) throw protocolViolation('responder sent data after DONE')
    await s.f.close()
  }

  /** Feeds one RECON reply to the scopes' sessions; returns the next messages to send. */
  private step (recon: ReconSession[], outgoing: ScopedMessage[], replies: ScopedMessage[], scopes: string[], found: Differences): ScopedMessage[] {
    const answered = new Map(replies.map(m => [m.scope, m.message]))
    const next: ScopedMessage[] = []
    for (const m of outgoing) {
      const answer = answered.get(m.scope)
      answered.delete(m.scope)
      if (answer == null) {
        if (!recon[m.scope].done) throw protocolViolation(`peer left scope ${scopes[m.scope]} unanswered`)
        continue
      }
      const step = recon[m.scope].consume(answer)
      found.add(m.scope, step)
      if (step.message != null) next.push({ scope: m.scope, message: step.message })
    }
    if (answered.size > 0) throw protocolViolation('peer answered a scope it was not asked about')
    return next
  }

  /** Asks for what we lack, a few batches ahead, ingesting each answer while the next is on its way. */
  private async pull (s: Session, all: Found[]): Promise<void> {
    const need = this.notOnTheirWay(all)
    if (need.length === 0) return
    // What is asked and not yet answered: digest → scope index. A record or decline for
    // anything else is a violation.
    const requested = new Map<string, number>()
    try {
      await this.fetch(s, need, requested)
    } finally {
      // Whatever did not come (the session ended first) is no longer expected from sync.
      for (const k of requested.keys()) this.c.edge.expected.settle(`1220${k}`, 'sync')
    }
  }

  /**
   * Ids reconciliation found missing that another path is already bringing: announced to gossip
   * (on its way down the tree, or asked for), or received and in ingest. The next session finds
   * whichever of them did not arrive.
   */
  private notOnTheirWay (need: Found[]): Found[] {
    const out = need.filter(d => {
      const id = idOfDigest(d.digest)
      return this.c.edge.expected.expectedBy(id) !== 'gossip' && !this.c.ingest.inFlightHas(id)
    })
    this.counters.skippedInFlight += need.length - out.length
    return out
  }

  /** Asks for what we lack, a few batches ahead, ingesting each answer while the next is on its way. */
  private async fetch (s: Session, need: Found[], requested: Map<string, number>): Promise<void> {
    const batch = this.init.maxRecordsPerBatch
    const ingesting: Array<Promise<void>> = []
    let next = 0
    let outstanding = 0
    const sendWant = async (): Promise<void> => {
      const slice = need.slice(next, next + batch)
      next += slice.length
      for (const d of slice) {
        requested.set(digestKey(d.digest), d.scope)
        this.c.edge.expected.expect(idOfDigest(d.digest), 'sync', s.deadline)
      }
      outstanding++
      this.counters.requestedOut += slice.length
      await this.write(s, encodeWant(slice.map(d => d.digest)))
    }
    const AHEAD = 3
    while (next < need.length && outstanding < AHEAD) await sendWant()
    while (outstanding > 0) {
      // One answer is RECORDS frames and then exactly one DECLINE frame, which closes it.
      const frame = await this.read(s)
      if (frame.type === RECORDS) {
        const ids = claim(frame.records, requested, 'sent a record that was not asked for')
        s.recordsReceived += frame.records.length
        ingesting.push(this.ingest(s, frame.records, ids))
        while (ingesting.length > 2) await ingesting.shift()
        continue
      }
      if (frame.type !== DECLINE) throw protocolViolation(`expected RECORDS or DECLINE, got frame ${frame.type}`)
      this.declined(s, frame.declined, requested)
      outstanding--
      if (next < need.length) await sendWant()
    }
    await Promise.all(ingesting)
  }

  /**
   * Hands records to ingest through the edge, pipelined: the session awaits the promise later
   * (a violation, already penalised, ends it then), so it must not count as unhandled meanwhile.
   */
  private ingest (s: Session, records: Uint8Array[], ids: string[]): Promise<void> {
    const p = this.c.edge.handOff(s.peer.peerId, records, 'sync', this.counters, s.signal, ids).then((h) => {
      if (h.violation != null) throw new DragnetError('DRAGNET_FORBIDDEN', `sync with ${s.peer.peerId} ended: ${h.violation}`)
    })
    p.catch(() => {})
    return p
  }

  /**
   * Ids the peer will not hand over: each must answer one of `open` (asked for, or lacked) in
   * the scope it was found in. They are remembered as known for that peer, up to
   * `maxIdsPerSession` per peer (beyond, they simply show up as differences again).
   */
  private declined (s: Session, list: Declined[], open: Map<string, number>): void {
    if (list.length === 0) return
    for (const d of list) {
      const k = digestKey(d.digest)
      if (open.get(k) !== d.scope) throw protocolViolation(`declined ${idOfDigest(d.digest)}, which was not asked for in that scope`)
      open.delete(k)
      this.c.edge.expected.settle(idOfDigest(d.digest), 'sync')
    }
    this.counters.declinedIn += list.length
    const peerId = s.peer.peerId
    const known = []
    for (const d of list) {
      if (this.indexes.declinedCount(peerId) >= this.init.maxIdsPerSession) break
      const id = idOfDigest(d.digest)
      const scope = s.scopes[d.scope]
      if (this.indexes.addDeclined(peerId, scope, d.ts, id)) known.push({ peer: peerId, scope, ts: d.ts, id, why: 'declined by peer' })
    }
    if (known.length > 0) void this.c.store.writeDecisions([], known).catch(() => {})
  }

  /** Sends what the other side lacks and we may give it; declines the rest by id. */
  private async push (s: Session, have: Found[]): Promise<void> {
    const batch = this.init.maxRecordsPerBatch
    const serve = (i: number): Promise<{ records: Uint8Array[], declined: Declined[] }> | undefined => {
      if (i >= have.length) return undefined
      const p = this.serve(s, have.slice(i, i + batch))
      p.catch(() => {})
      return p
    }
    // The next batch is read from the store while this one drains to the peer.
    let next = serve(0)
    for (let i = 0; next != null; i += batch) {
      const { records, declined } = await next
      next = serve(i + batch)
      await this.sendRecords(s, records)
      if (declined.length > 0) await this.write(s, encodeDecline(declined))
    }
  }

  private async sendRecords (s: Session, records: Uint8Array[]): Promise<void> {
    for (const frame of packRecordsFrames(RECORDS, records, { maxFrameBytes: this.init.maxFrameBytes, maxRecords: this.init.maxRecordsPerBatch })) await this.write(s, frame)
    let payload = 0
    for (const r of records) payload += r.length
    s.recordsSent += records.length
    this.c.edge.sent(s.peer.peerId, records.length, 'sync', this.counters, payload)
  }

  /**
   * Which of these ids may go to the peer: held records its outbound policy (and the TLP floor)
   * lets through are returned whole; the rest — withheld, or ids we only count as known — are
   * declined with their scope and ts. Ids we know nothing of are left out.
   */
  private async serve (s: Session, items: Found[]): Promise<{ records: Uint8Array[], declined: Declined[] }> {
    const ids = items.map(d => idOfDigest(d.digest))
    const stored = await this.c.store.getManyStored(ids)
    const now = Date.now()
    const records: Uint8Array[] = []
    const declined: Declined[] = []
    for (let i = 0; i < ids.length; i++) {
      const st = stored[i]
      if (st == null) {
        const p = this.indexes.phantom(s.peer.peerId, ids[i])
        const scope = p?.scopes.find(x => s.scopes.includes(x))
        if (p != null && scope != null) declined.push({ scope: s.scopes.indexOf(scope), ts: p.ts, digest: items[i].digest })
        continue
      }
      // Our own store's bytes, checked in full when they came in: not checked again, and the
      // body is parsed only if the outbound policy looks at it.
      const view = new StoredRecordView(ids[i], st.info, st.bytes)
      // A record outside the scopes we share with this peer (red, amber for others) is never
      // named to it, not even by a decline.
      const scope = scopesOf(view).find(x => s.scopes.includes(x))
      if (scope == null) continue
      if (this.c.edge.maySend(this.c.edge.subjectOf(view), s.peer, 'sync', this.counters, now)) records.push(st.bytes)
      else declined.push({ scope: s.scopes.indexOf(scope), ts: view.ts, digest: items[i].digest })
    }
    this.counters.declinedOut += declined.length
    return { records, declined }
  }

  // ------------------------------------------------------------------ responder

  private async respond (stream: Stream, conn: Connection): Promise<void> {
    const peerId = conn.remotePeer.toString()
    const member = this.c.roster.get(peerId)
    if (member == null || !this.running) { stream.abort(new DragnetError('DRAGNET_FORBIDDEN', 'not a roster member')); return }
    if (this.active.has(peerId)) { stream.abort(new DragnetError('DRAGNET_CONFLICT', 'a sync session with this peer is already running')); return }
    this.active.add(peerId)
    const started = Date.now()
    const signal = AbortSignal.any([this.stopping!.signal, AbortSignal.timeout(this.init.maxSessionMs)])
    const s = this.session(member, this.framed(stream, peerId), signal, started + this.init.maxSessionMs)
    let failure: { kind: FailureKind, error: string } | undefined
    try {
      await this.answer(s)
      this.counters.sessions++
    } catch (err) {
      failure = this.failed(peerId, err, s)
    } finally {
      this.active.delete(peerId)
    }
    this.account(peerId, this.summary(started, s, failure))
  }

  private async answer (s: Session): Promise<void> {
    const open = await this.read(s)
    if (open.type !== OPEN) throw protocolViolation(`expected OPEN, got frame ${open.type}`)
    // The initiator numbers the scopes from its side: scopesBetween(initiator, responder).
    const shared = scopesBetween(s.peer.peerId, this.c.roster.self.peerId)
    s.scopes = open.scopes.map(i => shared[i])
    const recon = s.scopes.map(scope => createResponder(this.indexes.view(scope, s.peer.peerId), this.reconOptions))
    // The other side may ask only for what we have and it lacks, and push or decline only what
    // we lack: the differences found, up to the responder's cap.
    const found: Found$ = { have: new Set(), need: new Map(), kept: 0 }
    const ingesting: Array<Promise<void>> = []
    let frame: SyncFrame = open
    while (true) {
      if (frame.type === OPEN || frame.type === RECON) {
        await this.answerRecon(s, recon, frame.messages, found)
      } else if (frame.type === WANT) {
        await this.answerWant(s, frame.digests, found.have)
      } else if (frame.type === RECORDS) {
        const ids = claim(frame.records, found.need, 'pushed a record this node did not lack')
        s.recordsReceived += frame.records.length
        ingesting.push(this.ingest(s, frame.records, ids))
        while (ingesting.length > 2) await ingesting.shift()
      } else if (frame.type === DECLINE) {
        this.declined(s, frame.declined, found.need)
      } else if (frame.type === DONE) {
        await Promise.all(ingesting)
        await s.f.close()
        return
      }
      frame = await this.read(s)
      if (frame.type === OPEN) throw protocolViolation('OPEN in the middle of a session')
    }
  }

  /** Every reconciliation frame gets an answer, empty when all its ranges matched. */
  private async answerRecon (s: Session, recon: ReconSession[], messages: ScopedMessage[], found: Found$): Promise<void> {
    const replies: ScopedMessage[] = []
    const cap = this.responderCap
    for (const m of messages) {
      const step = recon[m.scope].consume(m.message)
      for (const d of step.have) if (found.kept < cap) { found.have.add(digestKey(d)); found.kept++ }
      for (const d of step.need) if (found.kept < cap) { found.need.set(digestKey(d), m.scope); found.kept++ }
      if (step.message != null) replies.push({ scope: m.scope, message: step.message })
    }
    await this.write(s, encodeRecon(replies))
    s.roundTrips++
  }

  private async answerWant (s: Session, digests: Uint8Array[], have: Set<string>): Promise<void> {
    const items: Found[] = []
    for (const d of digests) {
      const k = digestKey(d)
      if (!have.delete(k)) throw protocolViolation(`asked for ${idOfDigest(d)}, which it does not lack (or asked twice)`)
      items.push({ digest: d, scope: 0 })
    }
    const { records, declined } = await this.serve(s, items)
    await this.sendRecords(s, records)
    // Always sent: it closes this WANT's answer.
    await this.write(s, encodeDecline(declined))
  }
}

/**
 * What a session found: ids we have and the other side lacks, and ids we lack, with their
 * scopes, up to `cap` in all. Past the cap further differences are ignored (`full`).
 */
class Differences {
  readonly have: Found[] = []
  readonly need: Found[] = []

  constructor (private readonly cap: number) {}

  get size (): number {
    return this.have.length + this.need.length
  }

  get full (): boolean {
    return this.size >= this.cap
  }

  add (scope: number, step: ReconStep): void {
    for (const d of step.have) { if (this.full) return; this.have.push({ digest: d, scope }) }
    for (const d of step.need) { if (this.full) return; this.need.push({ digest: d, scope }) }
  }
}

/**
 * Every record must answer one open id (computed from its bytes, before ingest); each answers it
 * once. Returns the ids, so ingest does not hash the bytes again.
 */
function claim (records: Uint8Array[], open: Map<string, number>, what: string): string[] {
  const ids: string[] = new Array(records.length)
  for (let i = 0; i < records.length; i++) {
    ids[i] = idOfEnvelope(records[i])
    if (!open.delete(ids[i].slice(4))) throw protocolViolation(what)
  }
  return ids
}
