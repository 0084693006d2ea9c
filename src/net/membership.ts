import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import { DragnetError } from '../errors.js'
import type { Roster } from '../identity/index.js'
import type { Logger } from '../log.js'
import { describe, failureKind, protocolViolation } from '../replication/faults.js'
import { throttle, type PeerGuard } from '../replication/peer-guard.js'
import { FramedStream } from './framing.js'
import type { DragnetLibp2p } from './libp2p.js'
import type { PeerManager } from './peers.js'
import { MEMBERSHIP_PROTOCOL } from './protocols.js'

/*
 * Membership documents travel in their own scope, to every member, whatever the record
 * policies say: a jurisdiction may withhold records, but not the news of who is a member.
 *
 * The set is small (a few per member) and every node should hold all of it, so one exchange
 * reconciles it in full, without ranges:
 *
 *   initiator → HAVE  { t: 'have', ids }          every id it holds
 *   responder → WANT  { t: 'want', ids }          the ids it lacks
 *   responder → DOCS* { t: 'docs', docs } … END   what the initiator lacks
 *   initiator → DOCS* { t: 'docs', docs } … END   what the responder asked for
 *
 * A session runs with each member on connect, every sync interval, and with every connected
 * member as soon as this node learns a new document (that is the gossip: each node that learns
 * something passes it on once). Nothing received is believed before its signatures verify
 * (`offer`); a document that does not verify is audited and dropped, never passed on.
 *
 * A peer pays for what it sends: every frame is charged to its PeerGuard (frames, bytes, ids,
 * and a document as a record), and reading waits while it is over its rates. A document that
 * does not verify (forged, under-signed, by a non-root, malformed, oversized) is a strike
 * against the peer, one per document; past the strike budget the peer is penalised (cut off,
 * refused for the cool-down), as is any protocol violation. A credential that is well signed
 * but expired is no strike: an honest relay may hand on one that expired in flight.
 */

const MAX_FRAME_BYTES = 4 * 1024 * 1024
const DOCS_PER_FRAME = 64
const MAX_IDS = 20_000
const ID = /^[0-9a-f]{64}$/
/** Refusals that are no fault of the sender: expired in flight, or this node's own limits. */
const NOT_THE_SENDERS_FAULT = new Set(['membership:expired', 'membership:full', 'membership:no-federation'])

export interface MembershipComponents {
  registrar: Pick<DragnetLibp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  peers: Pick<PeerManager, 'onConnect' | 'connectedPeers'>
  roster: Pick<Roster, 'self' | 'get'>
  /** the documents held now, by id */
  ids: () => string[]
  doc: (id: string) => unknown
  /** verifies and keeps a document received from `from` (audited either way); the refusal rule, if refused */
  offer: (doc: unknown, from: string) => Promise<{ refused?: { rule: string, reason: string } }>
  /** the peer's rate limits and strikes, shared with gossip and sync */
  guard: (peerId: string) => PeerGuard
  /** cuts a peer off for the cool-down */
  penalize: (peerId: string, reason: string, code?: string) => void
  log: Logger
}

export interface MembershipInit {
  intervalMs: number
  ioTimeoutMs: number
}

type Frame = { t: 'have', ids: string[] } | { t: 'want', ids: string[] } | { t: 'docs', docs: unknown[] } | { t: 'end' }

function decode (raw: Uint8Array): Frame {
  let v: any
  try {
    v = JSON.parse(new TextDecoder().decode(raw))
  } catch {
    throw protocolViolation('membership frame is not JSON')
  }
  if (v?.t === 'have' || v?.t === 'want') {
    if (!Array.isArray(v.ids) || v.ids.length > MAX_IDS || !v.ids.every((i: unknown) => typeof i === 'string' && ID.test(i))) throw protocolViolation('membership frame: ids must be at most 20000 hex ids')
    return { t: v.t, ids: v.ids }
  }
  if (v?.t === 'docs') {
    if (!Array.isArray(v.docs) || v.docs.length > DOCS_PER_FRAME) throw protocolViolation(`membership frame: at most ${DOCS_PER_FRAME} documents a frame`)
    return { t: 'docs', docs: v.docs }
  }
  if (v?.t === 'end') return { t: 'end' }
  throw protocolViolation('membership frame of an unknown type')
}

function encode (f: Frame): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(f))
}

export class MembershipExchange {
  private stopping: AbortController | null = null
  private timer: ReturnType<typeof setInterval> | null = null
  private readonly active = new Map<string, { again: boolean }>()
  private readonly unlisten: Array<() => void> = []
  private readonly running$ = new Set<Promise<void>>()
  /** numbers each bad document, so every one counts as its own strike */
  private strikes = 0

  constructor (private readonly c: MembershipComponents, private readonly init: MembershipInit) {}

  private get running (): boolean {
    return this.stopping != null && !this.stopping.signal.aborted
  }

  async start (): Promise<void> {
    this.stopping = new AbortController()
    await this.c.registrar.handle(MEMBERSHIP_PROTOCOL, (stream, conn) => { this.track(this.respond(stream, conn)) }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.unlisten.push(this.c.peers.onConnect((p) => { this.exchangeWith(p) }))
    this.timer = setInterval(() => { for (const p of this.c.peers.connectedPeers()) this.exchangeWith(p) }, this.init.intervalMs)
    this.timer.unref?.()
    for (const p of this.c.peers.connectedPeers()) this.exchangeWith(p)
  }

  async stop (): Promise<void> {
    this.stopping?.abort(new DragnetError('DRAGNET_STOPPED', 'membership exchange stopped'))
    for (const off of this.unlisten.splice(0)) off()
    if (this.timer != null) clearInterval(this.timer)
    await this.c.registrar.unhandle(MEMBERSHIP_PROTOCOL).catch(() => {})
    await Promise.allSettled([...this.running$])
  }

  /** Passes what this node holds to every connected member (after learning something new). */
  spread (except?: string): void {
    for (const p of this.c.peers.connectedPeers()) if (p !== except) this.exchangeWith(p)
  }

  private track (p: Promise<void>): void {
    this.running$.add(p)
    void p.finally(() => this.running$.delete(p))
  }

  /** One session at a time per peer; a request while one runs runs once more after it. */
  exchangeWith (peerId: string): void {
    if (!this.running) return
    const a = this.active.get(peerId)
    if (a != null) { a.again = true; return }
    const state = { again: false }
    this.active.set(peerId, state)
    this.track((async () => {
      try {
        do {
          state.again = false
          await this.initiate(peerId)
        } while (state.again && this.running)
      } catch (err) {
        this.failed(peerId, err, 'membership exchange failed')
      } finally {
        this.active.delete(peerId)
      }
    })())
  }

  /** A violation is penalised; a timeout or a closed stream is tried again next interval. */
  private failed (peerId: string, err: unknown, what: string): void {
    const { code, message } = describe(err)
    if (failureKind(err) !== 'violation') { this.c.log.debug({ peer: peerId, err: message }, what); return }
    this.c.log.warn({ peer: peerId, err: message }, what)
    this.c.penalize(peerId, `membership: ${message}`, code)
  }

  private framed (stream: Stream): FramedStream {
    return new FramedStream(stream, { maxFrameBytes: MAX_FRAME_BYTES, ioTimeoutMs: this.init.ioTimeoutMs })
  }

  /** Reads one frame from `peerId`, charged to its guard; waits first while it is over its rates. */
  private async read (f: FramedStream, peerId: string): Promise<Frame> {
    const guard = this.c.guard(peerId)
    await throttle(guard, this.stopping!.signal)
    const raw = await f.read(AbortSignal.any([this.stopping!.signal, AbortSignal.timeout(this.init.ioTimeoutMs)]))
    if (raw == null) throw new DragnetError('DRAGNET_NODE_UNREACHABLE', 'membership stream ended early')
    guard.frame(raw.byteLength)
    const frame = decode(raw)
    if (frame.t === 'have' || frame.t === 'want') guard.ids.take(frame.ids.length)
    if (frame.t === 'docs') guard.records.take(frame.docs.length)
    return frame
  }

  private async write (f: FramedStream, frame: Frame): Promise<void> {
    await f.write(encode(frame), AbortSignal.any([this.stopping!.signal, AbortSignal.timeout(this.init.ioTimeoutMs)]))
  }

  private async sendDocs (f: FramedStream, ids: string[]): Promise<void> {
    const docs = ids.map(id => this.c.doc(id)).filter(d => d != null)
    for (let i = 0; i < docs.length; i += DOCS_PER_FRAME) await this.write(f, { t: 'docs', docs: docs.slice(i, i + DOCS_PER_FRAME) })
    await this.write(f, { t: 'end' })
  }

  /** Reads DOCS frames up to END, offering only documents with ids in `asked` (when given). */
  private async receiveDocs (f: FramedStream, from: string, budget: number): Promise<void> {
    let n = 0
    while (true) {
      const frame = await this.read(f, from)
      if (frame.t === 'end') return
      if (frame.t !== 'docs') throw protocolViolation(`expected documents, got ${frame.t}`)
      n += frame.docs.length
      if (n > budget) throw protocolViolation(`sent ${n} documents, more than the ${budget} the exchange called for`)
      for (const d of frame.docs) {
        const { refused } = await this.c.offer(d, from)
        if (refused == null || NOT_THE_SENDERS_FAULT.has(refused.rule)) continue
        const guard = this.c.guard(from)
        if (guard.strike(`membership:${this.strikes++}`)) throw protocolViolation(`sent membership documents that do not verify, ${guard.strikeCount} strikes within the strike window (last: ${refused.rule}: ${refused.reason.slice(0, 200)})`)
      }
    }
  }

  private async initiate (peerId: string): Promise<void> {
    if (this.c.roster.get(peerId) == null) return
    const stream = await this.c.registrar.dialProtocol(peerIdFromString(peerId), MEMBERSHIP_PROTOCOL, { signal: AbortSignal.any([this.stopping!.signal, AbortSignal.timeout(this.init.ioTimeoutMs)]) })
    const f = this.framed(stream)
    try {
      const mine = this.c.ids()
      await this.write(f, { t: 'have', ids: mine })
      const want = await this.read(f, peerId)
      if (want.t !== 'want') throw protocolViolation(`expected WANT, got ${want.t}`)
      const held = new Set(mine)
      await this.receiveDocs(f, peerId, MAX_IDS)
      await this.sendDocs(f, want.ids.filter(id => held.has(id)))
      await f.close()
    } catch (err) {
      f.abort(err as Error)
      throw err
    }
  }

  private async respond (stream: Stream, conn: Connection): Promise<void> {
    const peerId = conn.remotePeer.toString()
    if (this.c.roster.get(peerId) == null || !this.running) { stream.abort(new DragnetError('DRAGNET_FORBIDDEN', 'not a roster member')); return }
    const f = this.framed(stream)
    try {
      const have = await this.read(f, peerId)
      if (have.t !== 'have') throw protocolViolation(`expected HAVE, got ${have.t}`)
      const theirs = new Set(have.ids)
      const mine = this.c.ids()
      const held = new Set(mine)
      const want = have.ids.filter(id => !held.has(id))
      await this.write(f, { t: 'want', ids: want })
      await this.sendDocs(f, mine.filter(id => !theirs.has(id)))
      await this.receiveDocs(f, peerId, want.length)
      await f.close()
    } catch (err) {
      f.abort(err as Error)
      this.failed(peerId, err, 'membership exchange (answering) failed')
    }
  }
}
