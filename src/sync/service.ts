import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { DragnetError, toDragnetError } from '../errors.js'
import type { Member } from '../identity/index.js'
import type { Verdict } from '../ingest/index.js'
import type { NetComponents } from '../net/components.js'
import { FramedStream } from '../net/framing.js'
import type { SyncSummary } from '../net/peers.js'
import { SYNC_PROTOCOL } from '../net/protocols.js'
import { decodeRecord, scopeOf } from '../record/index.js'
import { idOfDigest, scopesBetween, SyncIndexes } from './indexes.js'
import {
  DECLINE, OPEN, RECON, RECORDS, WANT, decodeFrame, encodeDecline, encodeDone, encodeOpen, encodeRecon, encodeRecords, encodeWant,
  type Declined, type ScopedMessage, type SyncFrame
} from './protocol.js'
import { createInitiator, createResponder, type ReconInitiator, type ReconSession } from './recon/index.js'

export interface SyncInit {
  enabled: boolean
  intervalMs: number
  maxFrameBytes: number
  maxRecordsPerBatch: number
  maxSessionMs: number
  maxRounds: number
  /** declined ids are asked for again after this long (the peer's policy may have changed) */
  declinedTtlMs?: number
  /** deadline for each read and write */
  ioTimeoutMs?: number
  /** simulated per-link latency (simulations only) */
  linkDelay?: (peerId: string) => number
}

export type SyncComponents = NetComponents

interface SessionStats {
  roundTrips: number
  recordsSent: number
  recordsReceived: number
  declinedSent: number
  declinedReceived: number
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Anti-entropy. On connect and every interval, the member with the smaller PeerId opens a
 * session: both sides reconcile every shared scope at once (range-based set reconciliation over
 * (ts, id); in-sync costs one round trip of a few hundred bytes), then the initiator pulls what
 * it lacks and pushes what the other lacks. Every record is checked against the sender's
 * outbound policy (TLP floor included) before it crosses; what is withheld is declined by id,
 * and the receiver counts declined ids as known for that peer so they are not offered again.
 * Received records go through ingest like any other, and gossip carries them on.
 */
export class SyncService {
  private readonly c: SyncComponents
  private readonly init: Required<Omit<SyncInit, 'linkDelay'>> & Pick<SyncInit, 'linkDelay'>
  readonly indexes = new SyncIndexes()
  private readonly active = new Set<string>()
  private timer: ReturnType<typeof setInterval> | null = null
  private running = false
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>()
  readonly totals = { sessions: 0, failures: 0, bytesIn: 0, bytesOut: 0, recordsIn: 0, recordsOut: 0, payloadBytesIn: 0 }

  constructor (components: SyncComponents, init: SyncInit) {
    this.c = components
    this.init = { declinedTtlMs: 24 * 3600_000, ioTimeoutMs: 30_000, ...init }
  }

  private get reconOptions (): { maxMessageBytes: number, maxRounds: number } {
    return { maxMessageBytes: Math.max(512, this.init.maxFrameBytes - 1024), maxRounds: this.init.maxRounds }
  }

  async start (): Promise<void> {
    this.running = true
    const loaded = await this.indexes.load(this.c.store, { declinedTtlMs: this.init.declinedTtlMs, snapshotFile: this.snapshotFile })
    this.c.log.info(loaded, 'sync index loaded')
    this.c.ingest.onVerdict((v) => { this.track(v) })
    await this.c.libp2p.handle(SYNC_PROTOCOL, (stream, conn) => { void this.respond(stream, conn) }, { maxInboundStreams: 8, maxOutboundStreams: 8 })
    this.c.peers.onConnect((peerId) => { this.schedule(peerId, 200) })
    this.timer = setInterval(() => { this.tick() }, this.init.intervalMs)
    this.timer.unref?.()
  }

  private get snapshotFile (): string {
    return `${this.c.store.dir}.sync.snap`
  }

  async stop (): Promise<void> {
    this.running = false
    if (this.timer != null) clearInterval(this.timer)
    for (const t of this.pending.values()) clearTimeout(t)
    this.pending.clear()
    await this.c.libp2p.unhandle(SYNC_PROTOCOL).catch(() => {})
    const deadline = Date.now() + 5000
    while (this.active.size > 0 && Date.now() < deadline) await sleep(20)
    // Only valid if nothing changes the store afterwards; the generation check sees to that.
    if (this.c.store.isOpen) await this.indexes.saveSnapshot(this.snapshotFile, this.c.store.counts().generation).catch((err: Error) => { this.c.log.warn({ err: err.message }, 'could not save the sync index snapshot') })
  }

  /** Keeps the reconciliation index current with what ingest stored or rejected. */
  private track (v: Verdict): void {
    if (v.status === 'stored') {
      const scope = scopeOf(v.record.record)
      if (scope != null) this.indexes.addRecord(scope, v.record.record.ts, v.id)
    } else if (v.status === 'rejected' && v.known != null && v.id != null) {
      this.indexes.addRejected(v.known.scope, v.known.ts, v.id)
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
      void this.syncNow(peerId).catch(() => {})
    }, delayMs)
    t.unref?.()
    this.pending.set(peerId, t)
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

  private async read (f: FramedStream, scopes: number, deadline: number): Promise<SyncFrame> {
    const frame = await f.read(AbortSignal.timeout(Math.max(1, Math.min(this.init.ioTimeoutMs, deadline - Date.now()))))
    if (frame == null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'sync stream ended early')
    return decodeFrame(frame, { maxItems: this.init.maxRecordsPerBatch * 4, scopes })
  }

  private member (peerId: string): Member {
    const m = this.c.roster.get(peerId)
    if (m == null) throw new DragnetError('DRAGNET_FORBIDDEN', `${peerId} is not on the roster`)
    return m
  }

  // ------------------------------------------------------------------ initiator

  /** Runs one session with `peerId` now (whichever side would initiate); resolves with its summary. */
  async syncNow (peerId: string): Promise<SyncSummary> {
    if (this.active.has(peerId)) throw new DragnetError('DRAGNET_CONFLICT', `a sync session with ${peerId} is already running`)
    const member = this.member(peerId)
    this.active.add(peerId)
    const started = Date.now()
    const deadline = started + this.init.maxSessionMs
    const stats: SessionStats = { roundTrips: 0, recordsSent: 0, recordsReceived: 0, declinedSent: 0, declinedReceived: 0 }
    let f: FramedStream | undefined
    let summary: SyncSummary
    try {
      const stream = await this.c.libp2p.dialProtocol(peerIdFromString(peerId), SYNC_PROTOCOL, { signal: AbortSignal.timeout(this.init.ioTimeoutMs) })
      f = this.framed(stream, peerId)
      await this.initiate(f, member, deadline, stats)
      summary = { at: started, ms: Date.now() - started, ok: true, roundTrips: stats.roundTrips, bytesSent: f.bytesOut, bytesReceived: f.bytesIn, recordsSent: stats.recordsSent, recordsReceived: stats.recordsReceived }
      this.totals.sessions++
    } catch (err) {
      const e = toDragnetError(err)
      f?.abort(e)
      summary = { at: started, ms: Date.now() - started, ok: false, error: `${e.code}: ${e.message}`, roundTrips: stats.roundTrips, bytesSent: f?.bytesOut ?? 0, bytesReceived: f?.bytesIn ?? 0, recordsSent: stats.recordsSent, recordsReceived: stats.recordsReceived }
      this.totals.failures++
      this.c.log.debug({ peer: peerId, err: e.message }, 'sync session failed')
      if (e.code === 'DRAGNET_BAD_REQUEST' || e.code === 'DRAGNET_TOO_LARGE') this.c.peers.penalize(peerId, `sync protocol violation: ${e.message}`, e.code)
    } finally {
      this.active.delete(peerId)
    }
    this.account(peerId, summary)
    // A session cut short by its time bound that still moved records continues at once.
    if (summary.ok === false && summary.recordsReceived + summary.recordsSent > 0 && this.running) this.schedule(peerId, 100)
    return summary
  }

  private account (peerId: string, s: SyncSummary): void {
    this.totals.bytesIn += s.bytesReceived
    this.totals.bytesOut += s.bytesSent
    this.totals.recordsIn += s.recordsReceived
    this.totals.recordsOut += s.recordsSent
    this.c.peers.recordSync(peerId, s)
    this.c.peers.count(peerId, { bytesIn: s.bytesReceived, bytesOut: s.bytesSent, syncBytesIn: s.bytesReceived, syncBytesOut: s.bytesSent, syncRecordsIn: s.recordsReceived, syncRecordsOut: s.recordsSent })
  }

  private async initiate (f: FramedStream, peer: Member, deadline: number, stats: SessionStats): Promise<void> {
    const self = this.c.roster.self.peerId
    const scopes = scopesBetween(self, peer.peerId)
    const sessions: ReconInitiator[] = scopes.map(s => createInitiator(this.indexes.view(s, peer.peerId), this.reconOptions))
    const have = scopes.map(() => [] as Uint8Array[])
    const need = scopes.map(() => [] as Uint8Array[])
    let outgoing: ScopedMessage[] = sessions.map((s, i) => ({ scope: i, message: s.initiate() }))
    await f.write(encodeOpen(scopes, outgoing))
    while (outgoing.length > 0) {
      if (Date.now() > deadline) throw new DragnetError('DRAGNET_BAD_REQUEST', 'reconciliation exceeded the session time limit')
      const reply = await this.read(f, scopes.length, deadline)
      if (reply.type !== RECON) throw new DragnetError('DRAGNET_BAD_REQUEST', `expected RECON, got frame ${reply.type}`)
      stats.roundTrips++
      const answered = new Map(reply.messages.map(m => [m.scope, m.message]))
      const next: ScopedMessage[] = []
      for (const m of outgoing) {
        const answer = answered.get(m.scope)
        answered.delete(m.scope)
        if (answer == null) {
          if (!sessions[m.scope].done) throw new DragnetError('DRAGNET_BAD_REQUEST', `peer left scope ${scopes[m.scope]} unanswered`)
          continue
        }
        const step = sessions[m.scope].consume(answer)
        have[m.scope].push(...step.have)
        need[m.scope].push(...step.need)
        if (step.message != null) next.push({ scope: m.scope, message: step.message })
      }
      if (answered.size > 0) throw new DragnetError('DRAGNET_BAD_REQUEST', 'peer answered a scope it was not asked about')
      outgoing = next
      if (next.length > 0) await f.write(encodeRecon(next))
    }
    await this.pull(f, scopes, need, peer, deadline, stats)
    await this.push(f, scopes, have, peer, stats)
    await f.write(encodeDone())
    // The responder closes once it has ingested everything we pushed.
    const end = await f.read(AbortSignal.timeout(Math.max(1, Math.min(this.init.ioTimeoutMs * 4, deadline - Date.now()))))
    if (end != null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'responder sent data after DONE')
    await f.close()
  }

  /** Asks for what we lack, a few batches ahead, ingesting each answer while the next is on its way. */
  private async pull (f: FramedStream, scopes: string[], need: Uint8Array[][], peer: Member, deadline: number, stats: SessionStats): Promise<void> {
    const wanted = need.flat()
    if (wanted.length === 0) return
    const requested = new Set<string>()
    const batch = this.init.maxRecordsPerBatch
    const ingesting: Array<Promise<void>> = []
    let next = 0
    let outstanding = 0
    const sendWant = async (): Promise<void> => {
      const slice = wanted.slice(next, next + batch)
      next += slice.length
      for (const d of slice) requested.add(Buffer.from(d).toString('hex'))
      outstanding++
      await f.write(encodeWant(slice))
    }
    const AHEAD = 3
    while (next < wanted.length && outstanding < AHEAD) await sendWant()
    while (outstanding > 0) {
      if (Date.now() > deadline) throw new DragnetError('DRAGNET_BAD_REQUEST', 'sync exceeded the session time limit')
      // One answer is RECORDS frames and then exactly one DECLINE frame, which closes it.
      const frame = await this.read(f, scopes.length, deadline)
      if (frame.type === RECORDS) {
        stats.recordsReceived += frame.records.length
        ingesting.push(this.ingestBatch(frame.records, peer.peerId, requested))
        while (ingesting.length > 2) await ingesting.shift()
        continue
      }
      if (frame.type !== DECLINE) throw new DragnetError('DRAGNET_BAD_REQUEST', `expected RECORDS or DECLINE, got frame ${frame.type}`)
      this.declined(peer.peerId, scopes, frame.declined, stats)
      outstanding--
      if (next < wanted.length) await sendWant()
    }
    await Promise.all(ingesting)
  }

  /** Ingests a batch; with `requested`, every record must answer one of our WANTs (checked on the ids ingest computes anyway). */
  private async ingestBatch (records: Uint8Array[], from: string, requested?: Set<string>): Promise<void> {
    for (const r of records) this.totals.payloadBytesIn += r.length
    const verdicts = await this.c.ingest.receive(records.map(bytes => ({ bytes, from, source: 'sync' as const })))
    let stored = 0
    for (const v of verdicts) {
      if (requested != null && v.id != null && !requested.delete(v.id.slice(4))) {
        this.c.peers.penalize(from, 'sync: sent a record that was not asked for', 'DRAGNET_BAD_REQUEST')
        throw new DragnetError('DRAGNET_BAD_REQUEST', 'peer sent a record that was not asked for')
      }
      if (v.status === 'stored') stored++
      else if (v.status === 'rejected') {
        this.c.peers.count(from, { rejected: 1 })
        if (v.penalize) {
          this.c.peers.penalize(from, `sent a bad record by sync: ${v.reason}`, v.code)
          throw new DragnetError('DRAGNET_FORBIDDEN', `peer ${from} sent a bad record`)
        }
      }
    }
    if (stored > 0) this.c.peers.count(from, { recordsIn: stored })
  }

  private declined (peerId: string, scopes: string[], list: Declined[], stats: SessionStats): void {
    if (list.length === 0) return
    const known = []
    for (const d of list) {
      const id = idOfDigest(d.digest)
      if (this.indexes.addDeclined(peerId, scopes[d.scope], d.ts, id)) known.push({ peer: peerId, scope: scopes[d.scope], ts: d.ts, id, why: 'declined by peer' })
    }
    stats.declinedReceived += list.length
    if (known.length > 0) void this.c.store.writeDecisions([], known).catch(() => {})
  }

  /** Sends what the other side lacks and we may give it; declines the rest by id. */
  private async push (f: FramedStream, scopes: string[], have: Uint8Array[][], peer: Member, stats: SessionStats): Promise<void> {
    const items = have.flat()
    for (let i = 0; i < items.length; i += this.init.maxRecordsPerBatch) {
      const { records, declined } = await this.serve(items.slice(i, i + this.init.maxRecordsPerBatch), scopes, peer)
      for (const frame of this.recordFrames(records)) await f.write(frame)
      if (declined.length > 0) await f.write(encodeDecline(declined))
      stats.recordsSent += records.length
      stats.declinedSent += declined.length
      this.c.peers.count(peer.peerId, { recordsOut: records.length })
    }
  }

  private recordFrames (records: Uint8Array[]): Uint8Array[] {
    const frames: Uint8Array[] = []
    let cur: Uint8Array[] = []
    let size = 16
    for (const r of records) {
      if (cur.length > 0 && size + r.length + 8 > this.init.maxFrameBytes) {
        frames.push(encodeRecords(cur))
        cur = []
        size = 16
      }
      cur.push(r)
      size += r.length + 8
    }
    if (cur.length > 0) frames.push(encodeRecords(cur))
    return frames
  }

  /**
   * Which of these ids may go to `peer`: held records its outbound policy (and the TLP floor)
   * lets through are returned whole; the rest — withheld, or ids we only count as known — are
   * declined with their scope and ts. Ids we know nothing of are left out.
   */
  private async serve (digests: Uint8Array[], scopes: string[], peer: Member): Promise<{ records: Uint8Array[], declined: Declined[] }> {
    const ids = digests.map(d => idOfDigest(d))
    const bytes = await this.c.store.getManyBytes(ids)
    const policy = this.c.policy()
    const self = this.c.roster.self
    const now = Date.now()
    const records: Uint8Array[] = []
    const declined: Declined[] = []
    for (let i = 0; i < ids.length; i++) {
      const b = bytes[i]
      if (b == null) {
        const p = this.indexes.phantom(peer.peerId, ids[i])
        const scopeIdx = p != null ? scopes.indexOf(p.scope) : -1
        if (p != null && scopeIdx >= 0) declined.push({ scope: scopeIdx, ts: p.ts, digest: digests[i] })
        continue
      }
      const signed = decodeRecord(b, { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 })
      const scope = scopeOf(signed.record)
      const scopeIdx = scope != null ? scopes.indexOf(scope) : -1
      // A record outside the scopes we share with this peer (red, someone else's amber) is never
      // named to it, not even by a decline.
      if (scopeIdx < 0) continue
      const subject = this.c.ingest.subjectOf(signed)
      const d = policy.outbound(subject, { self, peer, author: this.c.roster.get(signed.record.author), now, peerOnRoster: true })
      if (d.verdict === 'send') {
        records.push(b)
      } else {
        declined.push({ scope: scopeIdx, ts: signed.record.ts, digest: digests[i] })
        this.c.peers.count(peer.peerId, { withheld: 1 })
        this.c.audit({ at: now, direction: 'outbound', verdict: 'withhold', rule: d.rule, reason: d.reason, record: ids[i], peer: peer.peerId, source: 'sync' })
      }
    }
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
    const deadline = started + this.init.maxSessionMs
    const f = this.framed(stream, peerId)
    const stats: SessionStats = { roundTrips: 0, recordsSent: 0, recordsReceived: 0, declinedSent: 0, declinedReceived: 0 }
    let ok = true
    let error: string | undefined
    try {
      await this.answer(f, member, deadline, stats)
    } catch (err) {
      const e = toDragnetError(err)
      ok = false
      error = `${e.code}: ${e.message}`
      f.abort(e)
      this.c.log.debug({ peer: peerId, err: e.message }, 'sync session (responder) failed')
      if (e.code === 'DRAGNET_BAD_REQUEST' || e.code === 'DRAGNET_TOO_LARGE') this.c.peers.penalize(peerId, `sync protocol violation: ${e.message}`, e.code)
    } finally {
      this.active.delete(peerId)
    }
    this.account(peerId, { at: started, ms: Date.now() - started, ok, ...(error != null ? { error } : {}), roundTrips: stats.roundTrips, bytesSent: f.bytesOut, bytesReceived: f.bytesIn, recordsSent: stats.recordsSent, recordsReceived: stats.recordsReceived })
  }

  private async answer (f: FramedStream, peer: Member, deadline: number, stats: SessionStats): Promise<void> {
    let frame = await this.read(f, 0, deadline)
    if (frame.type !== OPEN) throw new DragnetError('DRAGNET_BAD_REQUEST', `expected OPEN, got frame ${frame.type}`)
    const allowed = new Set(scopesBetween(this.c.roster.self.peerId, peer.peerId))
    for (const s of frame.scopes) if (!allowed.has(s)) throw new DragnetError('DRAGNET_BAD_REQUEST', `scope ${s} is not shared between us`)
    const scopes = frame.scopes
    const sessions: ReconSession[] = scopes.map(s => createResponder(this.indexes.view(s, peer.peerId), this.reconOptions))
    const ingesting: Array<Promise<void>> = []
    while (true) {
      if (frame.type === OPEN || frame.type === RECON) {
        // Every reconciliation frame gets an answer, empty when all its ranges matched.
        const replies: ScopedMessage[] = []
        for (const m of frame.messages) {
          const step = sessions[m.scope].consume(m.message)
          if (step.message != null) replies.push({ scope: m.scope, message: step.message })
        }
        await f.write(encodeRecon(replies))
        stats.roundTrips++
      } else if (frame.type === WANT) {
        const { records, declined } = await this.serve(frame.digests, scopes, peer)
        for (const out of this.recordFrames(records)) await f.write(out)
        await f.write(encodeDecline(declined))
        stats.recordsSent += records.length
        stats.declinedSent += declined.length
        this.c.peers.count(peer.peerId, { recordsOut: records.length })
      } else if (frame.type === RECORDS) {
        stats.recordsReceived += frame.records.length
        ingesting.push(this.ingestBatch(frame.records, peer.peerId))
        while (ingesting.length > 2) await ingesting.shift()
      } else if (frame.type === DECLINE) {
        this.declined(peer.peerId, scopes, frame.declined, stats)
      } else {
        await Promise.all(ingesting)
        await f.close()
        return
      }
      frame = await this.read(f, scopes.length, Math.max(deadline, Date.now() + this.init.ioTimeoutMs))
    }
  }


}
