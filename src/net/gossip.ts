import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { DragnetError } from '../errors.js'
import type { Member } from '../identity/index.js'
import type { Stored, Verdict } from '../ingest/index.js'
import type { PolicySubject } from '../policy/index.js'
import { publicKeyOfPeerId, authorOfEnvelope } from '../record/index.js'
import { LruSet } from '../util/lru.js'
import { TokenBucket } from '../util/token-bucket.js'
import { Reader, Writer } from '../util/varint.js'
import type { NetComponents } from './components.js'
import { FramedStream } from './framing.js'
import { GOSSIP_PROTOCOL } from './protocols.js'

/*
 * Policy-aware epidemic broadcast in the shape of Plumtree (epidemic broadcast trees), one tree
 * per author as in Scuttlebutt's EBT:
 *  - a new record is pushed whole ("eager") to the peers on the author's tree and announced by
 *    id ("lazy") to the other peers;
 *  - a peer that sends us a record we already hold is taken off that author's tree (PRUNE);
 *  - an id announced to us that does not arrive whole within `treeRepairMs` is requested from the
 *    announcer, which joins the tree again (GRAFT).
 * Before anything crosses an edge the sender asks its outbound policy (TLP floor included)
 * whether that peer may have the record; announcements go only to peers that may. Amber records
 * are pushed by their author straight to each entitled peer and never relayed.
 *
 * Wire: each side opens one stream per peer for what it sends; frames are length-prefixed:
 *   RECORDS 0x01  count, (len, envelope)*
 *   IHAVE   0x02  groups, (author key 32B, count, digest 32B *)*
 *   GRAFT   0x03  same shape as IHAVE: send me these, and push me this author's records again
 *   PRUNE   0x04  count, author key 32B *: stop pushing these authors' records to me
 */

const RECORDS = 0x01
const IHAVE = 0x02
const GRAFT = 0x03
const PRUNE = 0x04

export interface GossipInit {
  maxFrameBytes: number
  maxBatchRecords: number
  lazyFlushMs: number
  treeRepairMs: number
  seenCacheSize: number
  ioTimeoutMs: number
  peerRecordsPerSec: number
  peerBytesPerSec: number
  queueRecords: number
  /** simulated per-link latency (simulations only) */
  linkDelay?: (peerId: string) => number
}

export type GossipComponents = NetComponents

export interface GossipStats {
  payloadBytesIn: number
  payloadBytesOut: number
  protocolBytesIn: number
  protocolBytesOut: number
  recordsIn: number
  recordsOut: number
  duplicatesIn: number
  ihaveOut: number
  graftsOut: number
  prunesOut: number
}

function digestOf (id: string): Uint8Array {
  return Buffer.from(id.slice(4), 'hex')
}

function idOfDigest (d: Uint8Array): string {
  return '1220' + Buffer.from(d).toString('hex')
}

class Session {
  readonly peerId: string
  member: Member
  out: FramedStream | null = null
  /** authors whose records this peer gets lazily (off our tree for that author) */
  readonly lazyAuthors = new Set<string>()
  /** ids this peer has or was sent: never offered again */
  readonly knows: LruSet<string>
  readonly pushQueue: Uint8Array[] = []
  readonly announceQueue = new Map<string, string[]>()
  announceCount = 0
  readonly recordsBucket: TokenBucket
  readonly bytesBucket: TokenBucket
  writing = false
  flushScheduled = false
  closed = false

  constructor (member: Member, init: GossipInit) {
    this.peerId = member.peerId
    this.member = member
    this.knows = new LruSet(Math.max(1000, init.seenCacheSize >> 2))
    this.recordsBucket = new TokenBucket(init.peerRecordsPerSec, init.peerRecordsPerSec * 2)
    this.bytesBucket = new TokenBucket(init.peerBytesPerSec, init.peerBytesPerSec * 2)
  }
}

interface Missing {
  author: string
  announcers: string[]
  timer: ReturnType<typeof setTimeout> | null
}

export class Gossip {
  private readonly c: GossipComponents
  private readonly init: GossipInit
  private readonly sessions = new Map<string, Session>()
  private readonly missing = new Map<string, Missing>()
  private readonly seen: LruSet<string>
  private lazyTimer: ReturnType<typeof setInterval> | null = null
  private running = false
  readonly stats: GossipStats = { payloadBytesIn: 0, payloadBytesOut: 0, protocolBytesIn: 0, protocolBytesOut: 0, recordsIn: 0, recordsOut: 0, duplicatesIn: 0, ihaveOut: 0, graftsOut: 0, prunesOut: 0 }

  constructor (components: GossipComponents, init: GossipInit) {
    this.c = components
    this.init = init
    this.seen = new LruSet(init.seenCacheSize)
  }

  async start (): Promise<void> {
    this.running = true
    await this.c.libp2p.handle(GOSSIP_PROTOCOL, (stream, conn) => { void this.onInbound(stream, conn) }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.c.peers.onConnect((peerId) => { void this.openSession(peerId) })
    this.c.peers.onDisconnect((peerId) => { this.closeSession(peerId) })
    this.c.ingest.onStored((v) => { this.forward(v) })
    this.c.ingest.onVerdict((v) => { if (v.status !== 'rejected' && v.id != null) this.seen.add(v.id) })
    this.lazyTimer = setInterval(() => { this.flushAnnouncements() }, Math.max(1, this.init.lazyFlushMs))
    this.lazyTimer.unref?.()
    for (const p of this.c.peers.connectedPeers()) void this.openSession(p)
  }

  async stop (): Promise<void> {
    this.running = false
    if (this.lazyTimer != null) clearInterval(this.lazyTimer)
    for (const m of this.missing.values()) if (m.timer != null) clearTimeout(m.timer)
    this.missing.clear()
    await this.c.libp2p.unhandle(GOSSIP_PROTOCOL).catch(() => {})
    await Promise.all([...this.sessions.values()].map(async s => {
      s.closed = true
      await s.out?.close()
    }))
    this.sessions.clear()
  }

  private session (peerId: string): Session | undefined {
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
      s = new Session(member, this.init)
      this.sessions.set(peerId, s)
    }
    const session = s
    try {
      const stream = await this.c.libp2p.dialProtocol(peerIdFromString(peerId), GOSSIP_PROTOCOL, { signal: AbortSignal.timeout(this.init.ioTimeoutMs) })
      if (session.closed || !this.running) { stream.abort(new Error('session closed')); return }
      session.out = new FramedStream(stream, { maxFrameBytes: this.init.maxFrameBytes, ioTimeoutMs: this.init.ioTimeoutMs })
      stream.addEventListener('close', () => { if (this.sessions.get(peerId) === session) this.closeSession(peerId) })
      this.schedule(session)
    } catch (err: any) {
      this.c.log.debug({ peer: peerId, err: err.message }, 'cannot open gossip stream')
      if (this.sessions.get(peerId) === session && session.out == null) this.sessions.delete(peerId)
    }
  }

  private closeSession (peerId: string): void {
    const s = this.sessions.get(peerId)
    if (s == null) return
    s.closed = true
    this.sessions.delete(peerId)
    s.out?.abort(new Error('peer disconnected'))
  }

  // ------------------------------------------------------------------ sending

  /** Called for every stored record, whatever its source: decide per edge, then push or announce. */
  private forward (v: Stored): void {
    if (!this.running) return
    const r = v.record.record
    const author = r.author
    const amber = r.tlp === 'amber' || r.tlp === 'amber+strict'
    const policy = this.c.policy()
    const self = this.c.roster.self
    const authorMember = this.c.roster.get(author)
    const now = Date.now()
    this.seen.add(v.id)
    const m = this.missing.get(v.id)
    if (m != null) { if (m.timer != null) clearTimeout(m.timer); this.missing.delete(v.id) }
    for (const s of this.sessions.values()) {
      if (s.closed || s.peerId === v.from || s.knows.has(v.id)) continue
      const d = policy.outbound(v.subject, { self, peer: s.member, author: authorMember, now, peerOnRoster: true })
      if (d.verdict !== 'send') {
        this.withheld(v.subject, s, d.rule, d.reason)
        continue
      }
      s.knows.add(v.id)
      if (amber || !s.lazyAuthors.has(author)) this.push(s, v.record.bytes, author, v.id)
      else this.announce(s, author, v.id)
    }
  }

  private withheld (subject: PolicySubject, s: Session, rule: string, reason: string): void {
    this.c.peers.count(s.peerId, { withheld: 1 })
    this.c.audit({ at: Date.now(), direction: 'outbound', verdict: 'withhold', rule, reason, record: subject.id, peer: s.peerId, source: 'gossip' })
  }

  private push (s: Session, bytes: Uint8Array, author: string, id: string): void {
    if (s.pushQueue.length >= this.init.queueRecords) {
      // A peer that cannot keep up gets ids instead of payload; anti-entropy covers what it misses.
      this.announce(s, author, id)
      return
    }
    s.pushQueue.push(bytes)
    this.schedule(s)
  }

  private announce (s: Session, author: string, id: string): void {
    if (s.announceCount >= this.init.queueRecords) return
    let list = s.announceQueue.get(author)
    if (list == null) { list = []; s.announceQueue.set(author, list) }
    list.push(id)
    s.announceCount++
  }

  private flushAnnouncements (): void {
    for (const s of this.sessions.values()) if (s.announceCount > 0) this.schedule(s)
  }

  private schedule (s: Session): void {
    if (s.flushScheduled || s.writing || s.out == null) return
    s.flushScheduled = true
    // Coalesce everything queued in this tick into as few frames as the limits allow.
    setImmediate(() => { s.flushScheduled = false; void this.drain(s) })
  }

  private async drain (s: Session): Promise<void> {
    if (s.writing || s.closed || s.out == null) return
    s.writing = true
    try {
      while (!s.closed && (s.pushQueue.length > 0 || s.announceCount > 0)) {
        if (s.pushQueue.length > 0) {
          const w = new Writer(4096)
          w.byte(RECORDS)
          const batch: Uint8Array[] = []
          let size = 16
          while (s.pushQueue.length > 0 && batch.length < this.init.maxBatchRecords) {
            const next = s.pushQueue[0]
            if (batch.length > 0 && size + next.length + 8 > this.init.maxFrameBytes) break
            batch.push(s.pushQueue.shift()!)
            size += next.length + 8
          }
          w.varint(batch.length)
          let payload = 0
          for (const b of batch) { w.varint(b.length).bytes(b); payload += b.length }
          const frame = w.finish()
          await s.out.write(frame)
          this.stats.payloadBytesOut += payload
          this.stats.protocolBytesOut += frame.length
          this.stats.recordsOut += batch.length
          this.c.peers.count(s.peerId, { recordsOut: batch.length, bytesOut: frame.length })
          continue
        }
        const frame = this.encodeIds(IHAVE, s.announceQueue)
        s.announceQueue.clear()
        this.stats.ihaveOut += s.announceCount
        s.announceCount = 0
        await s.out.write(frame)
        this.stats.protocolBytesOut += frame.length
        this.c.peers.count(s.peerId, { bytesOut: frame.length })
      }
    } catch (err: any) {
      this.c.log.debug({ peer: s.peerId, err: err.message }, 'gossip write failed')
      this.closeSession(s.peerId)
    } finally {
      s.writing = false
    }
  }

  private encodeIds (type: number, groups: Map<string, string[]>): Uint8Array {
    const w = new Writer(64)
    w.byte(type).varint(groups.size)
    for (const [author, ids] of groups) {
      w.bytes(publicKeyOfPeerId(author)).varint(ids.length)
      for (const id of ids) w.bytes(digestOf(id))
    }
    return w.finish()
  }

  private async sendControl (s: Session, frame: Uint8Array): Promise<void> {
    if (s.out == null || s.closed) return
    try {
      await s.out.write(frame)
      this.stats.protocolBytesOut += frame.length
      this.c.peers.count(s.peerId, { bytesOut: frame.length })
    } catch (err: any) {
      this.c.log.debug({ peer: s.peerId, err: err.message }, 'gossip control write failed')
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
    try {
      while (this.running) {
        const frame = await framed.next()
        if (frame == null) break
        this.stats.protocolBytesIn += frame.length
        this.c.peers.count(peerId, { bytesIn: frame.length })
        const s = this.session(peerId) ?? this.sessions.get(peerId)
        await this.onFrame(peerId, s, frame)
        if (s != null) {
          const wait = Math.max(s.recordsBucket.delay(), s.bytesBucket.delay())
          if (wait > 0) await new Promise(resolve => setTimeout(resolve, Math.min(wait, 5000)))
        }
      }
      await framed.close()
    } catch (err: any) {
      const protocolViolation = err instanceof DragnetError && (err.code === 'DRAGNET_BAD_REQUEST' || err.code === 'DRAGNET_TOO_LARGE')
      if (protocolViolation) this.c.peers.penalize(peerId, `gossip protocol violation: ${err.message}`, err.code)
      else this.c.log.debug({ peer: peerId, err: err.message }, 'gossip stream ended')
      framed.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private async onFrame (peerId: string, s: Session | undefined, frame: Uint8Array): Promise<void> {
    const r = new Reader(frame, 'gossip frame')
    const type = r.byte()
    switch (type) {
      case RECORDS: {
        const n = r.varint()
        if (n > this.init.maxBatchRecords) throw new DragnetError('DRAGNET_BAD_REQUEST', `gossip batch of ${n} records exceeds ${this.init.maxBatchRecords}`)
        const items: Uint8Array[] = []
        for (let i = 0; i < n; i++) items.push(r.bytes(r.varint()).slice())
        r.end()
        let payload = 0
        for (const b of items) payload += b.length
        this.stats.payloadBytesIn += payload
        this.stats.recordsIn += items.length
        s?.recordsBucket.take(items.length)
        s?.bytesBucket.take(frame.length)
        await this.onRecords(peerId, s, items)
        return
      }
      case IHAVE:
      case GRAFT: {
        const groups = r.varint()
        if (groups > 4096) throw new DragnetError('DRAGNET_BAD_REQUEST', `gossip frame with ${groups} author groups`)
        const entries: Array<{ author: string, ids: string[] }> = []
        for (let g = 0; g < groups; g++) {
          const key = r.bytes(32)
          const count = r.varint()
          if (count * 32 > r.remaining) throw new DragnetError('DRAGNET_BAD_REQUEST', 'gossip frame: truncated id list')
          const ids: string[] = []
          for (let i = 0; i < count; i++) ids.push(idOfDigest(r.bytes(32)))
          const author = this.authorOfKey(key)
          if (author != null) entries.push({ author, ids })
        }
        r.end()
        if (type === IHAVE) await this.onIHave(peerId, s, entries)
        else await this.onGraft(peerId, s, entries)
        return
      }
      case PRUNE: {
        const n = r.varint()
        if (n * 32 > r.remaining) throw new DragnetError('DRAGNET_BAD_REQUEST', 'gossip frame: truncated prune')
        for (let i = 0; i < n; i++) {
          const author = this.authorOfKey(r.bytes(32))
          if (author != null && s != null) s.lazyAuthors.add(author)
        }
        r.end()
        return
      }
      default:
        throw new DragnetError('DRAGNET_BAD_REQUEST', `unknown gossip frame type ${type}`)
    }
  }

  private readonly keyToAuthor = new Map<string, string | null>()

  private authorOfKey (key: Uint8Array): string | undefined {
    const k = Buffer.from(key).toString('hex')
    let author = this.keyToAuthor.get(k)
    if (author === undefined) {
      author = null
      for (const m of this.c.roster.all()) {
        if (Buffer.from(publicKeyOfPeerId(m.peerId)).toString('hex') === k) { author = m.peerId; break }
      }
      this.keyToAuthor.set(k, author)
    }
    return author ?? undefined
  }

  private async onRecords (peerId: string, s: Session | undefined, items: Uint8Array[]): Promise<void> {
    const verdicts: Verdict[] = await this.c.ingest.receive(items.map(bytes => ({ bytes, from: peerId, source: 'gossip' as const })))
    const pruneAuthors = new Set<string>()
    let stored = 0
    for (let i = 0; i < verdicts.length; i++) {
      const v = verdicts[i]
      if (v.status === 'rejected') {
        this.c.peers.count(peerId, { rejected: 1 })
        if (v.penalize) {
          this.c.peers.penalize(peerId, `sent a bad record: ${v.reason}`, v.code)
          throw new DragnetError('DRAGNET_FORBIDDEN', `peer ${peerId} sent a bad record`)
        }
        if (v.id != null) s?.knows.add(v.id)
        continue
      }
      s?.knows.add(v.id)
      if (v.status === 'stored') { stored++; continue }
      // A duplicate pushed whole: this edge is redundant for the author's tree.
      this.stats.duplicatesIn++
      let author: string
      try { author = authorOfEnvelope(items[i]) } catch { continue }
      if (s != null && !s.lazyAuthors.has(author)) {
        s.lazyAuthors.add(author)
        pruneAuthors.add(author)
      }
    }
    if (stored > 0) this.c.peers.count(peerId, { recordsIn: stored })
    if (pruneAuthors.size > 0 && s != null) {
      const w = new Writer(8 + 32 * pruneAuthors.size)
      w.byte(PRUNE).varint(pruneAuthors.size)
      for (const a of pruneAuthors) w.bytes(publicKeyOfPeerId(a))
      this.stats.prunesOut += pruneAuthors.size
      await this.sendControl(s, w.finish())
    }
  }

  private async onIHave (peerId: string, s: Session | undefined, entries: Array<{ author: string, ids: string[] }>): Promise<void> {
    const all = entries.flatMap(e => e.ids.map(id => ({ author: e.author, id })))
    const unknown = all.filter(e => !this.seen.has(e.id))
    const present = await this.c.store.hasMany(unknown.map(e => e.id))
    for (const e of all) s?.knows.add(e.id)
    unknown.forEach((e, i) => {
      if (present[i]) { this.seen.add(e.id); return }
      let m = this.missing.get(e.id)
      if (m == null) {
        m = { author: e.author, announcers: [], timer: null }
        this.missing.set(e.id, m)
        this.armRepair(e.id, m)
      }
      if (!m.announcers.includes(peerId)) m.announcers.push(peerId)
    })
  }

  /** If the record does not arrive whole in time, ask an announcer for it and rejoin its tree. */
  private armRepair (id: string, m: Missing): void {
    m.timer = setTimeout(() => {
      m.timer = null
      if (!this.missing.has(id) || !this.running) return
      const announcer = m.announcers.shift()
      if (announcer == null) { this.missing.delete(id); return }
      const s = this.session(announcer)
      if (s != null) {
        s.lazyAuthors.delete(m.author)
        this.stats.graftsOut++
        void this.sendControl(s, this.encodeIds(GRAFT, new Map([[m.author, [id]]])))
      }
      this.armRepair(id, m)
    }, this.init.treeRepairMs)
    m.timer.unref?.()
  }

  private async onGraft (peerId: string, s: Session | undefined, entries: Array<{ author: string, ids: string[] }>): Promise<void> {
    if (s == null) return
    const policy = this.c.policy()
    const self = this.c.roster.self
    const now = Date.now()
    for (const e of entries) {
      s.lazyAuthors.delete(e.author)
      const ids = e.ids.slice(0, this.init.maxBatchRecords)
      const recs = await Promise.all(ids.map(async id => await this.c.store.getRecord(id).catch(() => undefined)))
      for (const rec of recs) {
        if (rec == null) continue
        const subject = this.c.ingest.subjectOf(rec.record)
        const d = policy.outbound(subject, { self, peer: s.member, author: this.c.roster.get(rec.record.record.author), now, peerOnRoster: true })
        if (d.verdict !== 'send') { this.withheld(subject, s, d.rule, d.reason); continue }
        s.knows.add(rec.record.id)
        this.push(s, rec.record.bytes, rec.record.record.author, rec.record.id)
      }
    }
  }

  peerSummary (): Array<{ peerId: string, lazyAuthors: number, queued: number }> {
    return [...this.sessions.values()].map(s => ({ peerId: s.peerId, lazyAuthors: s.lazyAuthors.size, queued: s.pushQueue.length }))
  }
}
