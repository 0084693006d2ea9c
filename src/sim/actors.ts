import { randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { NodeIdentity } from '../identity/index.js'
import { FramedStream } from '../net/framing.js'
import { createNodeLibp2p, type DragnetLibp2p } from '../net/libp2p.js'
import { GOSSIP_PROTOCOL, SYNC_PROTOCOL } from '../net/protocols.js'
import { createRecord, idOfEnvelope, type Tlp } from '../record/index.js'
import type { StixObject } from '../stix/types.js'
import { scopesBetween } from '../sync/indexes.js'
import { DECLINE, RECON, RECORDS, decodeFrame, encodeDone, encodeOpen, encodeRecon, encodeWant, type ScopedMessage } from '../sync/protocol.js'
import { ReconIndex, createInitiator } from '../sync/recon/index.js'
import { Writer } from '../util/varint.js'

/*
 * Members that do not follow the rules, for simulations and tests. Each is a bare libp2p peer
 * speaking just enough of dragnet's wire to play its part: the spy keeps every record any node
 * hands it (by gossip, by sync sessions the nodes open, and by sync sessions it opens itself to
 * pull everything it can get); the forger sends forged, tampered and unknown-author records and
 * stages an equivocation; the flooder sends valid and junk records as fast as it can.
 */

export interface Received { id: string, from: string, protocol: 'gossip' | 'sync', at: number }

export class RawPeer {
  readonly identity: NodeIdentity
  readonly libp2p: DragnetLibp2p
  /** every frame any node sent this peer */
  readonly frames: Array<{ protocol: string, from: string, frame: Uint8Array }> = []
  /** every chunk of bytes any node sent this peer, before framing */
  readonly rawBytes: Array<{ protocol: string, from: string, bytes: Uint8Array }> = []
  /** every record envelope received, by id */
  readonly received = new Map<string, Received>()

  protected constructor (identity: NodeIdentity, libp2p: DragnetLibp2p) {
    this.identity = identity
    this.libp2p = libp2p
  }

  static async start (identity: NodeIdentity, opts: { transport?: 'tcp' | 'memory', admits?: (peerId: string) => boolean } = {}): Promise<RawPeer> {
    const libp2p = await RawPeer.makeLibp2p(identity, opts)
    const peer = new RawPeer(identity, libp2p)
    await peer.listen()
    return peer
  }

  protected static async makeLibp2p (identity: NodeIdentity, opts: { transport?: 'tcp' | 'memory', admits?: (peerId: string) => boolean }): Promise<DragnetLibp2p> {
    const transport = opts.transport ?? 'tcp'
    const libp2p = await createNodeLibp2p({
      identity,
      transport,
      listen: [transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/actor-${identity.peerId}-${process.pid}`],
      admission: { admits: opts.admits ?? (() => true) }
    })
    await libp2p.start()
    return libp2p
  }

  protected async listen (): Promise<void> {
    await this.libp2p.handle(GOSSIP_PROTOCOL, (stream, conn) => { void this.keep('gossip', stream, conn.remotePeer.toString()) })
    await this.libp2p.handle(SYNC_PROTOCOL, (stream, conn) => { void this.answerSync(stream, conn.remotePeer.toString()) })
  }

  private note (records: Uint8Array[], from: string, protocol: 'gossip' | 'sync'): void {
    for (const r of records) {
      try {
        const id = idOfEnvelope(r)
        if (!this.received.has(id)) this.received.set(id, { id, from, protocol, at: Date.now() })
      } catch { /* not an envelope: kept in frames anyway */ }
    }
  }

  private async keep (protocol: 'gossip' | 'sync', stream: Stream, from: string): Promise<void> {
    stream.addEventListener('message', (evt) => { this.rawBytes.push({ protocol, from, bytes: evt.data.subarray() }) })
    const framed = new FramedStream(stream, { maxFrameBytes: 16 << 20, ioTimeoutMs: 60_000 })
    try {
      while (true) {
        const f = await framed.next()
        if (f == null) break
        this.frames.push({ protocol, from, frame: f.slice() })
        if (protocol === 'gossip' && f[0] === 0x01) {
          try {
            // Gossip's RECORDS body has the same layout as sync's: reuse that decoder.
            const asSync = f.slice()
            asSync[0] = RECORDS
            const decoded = decodeFrame(asSync, { maxItems: 1 << 20, scopes: 0 })
            if (decoded.type === RECORDS) this.note(decoded.records, from, 'gossip')
          } catch { /* malformed: the frame is kept raw */ }
        }
      }
    } catch { /* the node hung up on us: what we got is what we keep */ }
  }

  /** Sync sessions nodes open to us: we hold nothing, so they push us whatever they may. */
  private async answerSync (stream: Stream, from: string): Promise<void> {
    stream.addEventListener('message', (evt) => { this.rawBytes.push({ protocol: 'sync', from, bytes: evt.data.subarray() }) })
    const framed = new FramedStream(stream, { maxFrameBytes: 16 << 20, ioTimeoutMs: 30_000 })
    const { createResponder } = await import('../sync/recon/index.js')
    try {
      let scopes = 0
      let sessions: Array<ReturnType<typeof createResponder>> = []
      while (true) {
        const f = await framed.next()
        if (f == null) break
        this.frames.push({ protocol: 'sync', from, frame: f.slice() })
        const frame = decodeFrame(f, { maxItems: 1 << 20, scopes: scopes > 0 ? scopes : 6 })
        if (frame.type === 0x10) {
          scopes = frame.scopes.length
          sessions = frame.scopes.map(() => createResponder(new ReconIndex()))
        }
        if (frame.type === 0x10 || frame.type === RECON) {
          const replies: ScopedMessage[] = []
          for (const m of frame.messages) {
            const step = sessions[m.scope].consume(m.message)
            if (step.message != null) replies.push({ scope: m.scope, message: step.message })
          }
          await framed.write(encodeRecon(replies))
        } else if (frame.type === RECORDS) {
          this.note(frame.records, from, 'sync')
        } else if (frame.type === 0x15) {
          await framed.close()
          return
        }
      }
    } catch { /* a session the node gave up on */ }
  }

  /**
   * Opens a sync session to `peerId` holding nothing and asks for every id the node counts:
   * the node's outbound policy alone decides what it hands over.
   */
  async pullAll (peerId: string): Promise<number> {
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peerId), SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const f = new FramedStream(stream, { maxFrameBytes: 1 << 20, ioTimeoutMs: 30_000 })
    const scopes = scopesBetween(this.identity.peerId, peerId)
    const sessions = scopes.map(() => createInitiator(new ReconIndex(), { maxMessageBytes: (1 << 20) - 1024 }))
    let outgoing: ScopedMessage[] = sessions.map((s, i) => ({ scope: i, message: s.initiate() }))
    const need: Uint8Array[] = []
    await f.write(encodeOpen(scopes.map((_, i) => i), outgoing))
    while (outgoing.length > 0) {
      const raw = await f.read(AbortSignal.timeout(30_000))
      if (raw == null) return 0
      const reply = decodeFrame(raw, { maxItems: 1 << 20, scopes: scopes.length })
      if (reply.type !== RECON) return 0
      const answered = new Map(reply.messages.map(m => [m.scope, m.message]))
      const next: ScopedMessage[] = []
      for (const m of outgoing) {
        const a = answered.get(m.scope)
        if (a == null) continue
        const step = sessions[m.scope].consume(a)
        need.push(...step.need)
        if (step.message != null) next.push({ scope: m.scope, message: step.message })
      }
      outgoing = next
      if (next.length > 0) await f.write(encodeRecon(next))
    }
    let got = 0
    for (let i = 0; i < need.length; i += 500) {
      await f.write(encodeWant(need.slice(i, i + 500)))
      while (true) {
        const raw = await f.read(AbortSignal.timeout(30_000))
        if (raw == null) return got
        this.frames.push({ protocol: 'sync', from: peerId, frame: raw.slice() })
        const frame = decodeFrame(raw, { maxItems: 1 << 20, scopes: scopes.length })
        if (frame.type === RECORDS) { this.note(frame.records, peerId, 'sync'); got += frame.records.length; continue }
        if (frame.type === DECLINE) break
      }
    }
    await f.write(encodeDone())
    await f.read(AbortSignal.timeout(10_000)).catch(() => null)
    return got
  }

  async dial (addrs: string[]): Promise<void> {
    await this.libp2p.dial(addrs.map(a => multiaddr(a)), { signal: AbortSignal.timeout(10_000) })
  }

  /** Opens a gossip stream and sends one RECORDS frame holding these envelopes (valid or not). */
  async sendRecords (addrs: string[], envelopes: Uint8Array[]): Promise<void> {
    const stream = await this.libp2p.dialProtocol(addrs.map(a => multiaddr(a)), GOSSIP_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const framed = new FramedStream(stream, { maxFrameBytes: 4 << 20, ioTimeoutMs: 10_000 })
    for (let i = 0; i < envelopes.length; i += 256) {
      const w = new Writer(1024)
      const batch = envelopes.slice(i, i + 256)
      w.byte(0x01).varint(batch.length)
      for (const e of batch) w.varint(e.length).bytes(e)
      await framed.write(w.finish())
    }
    await framed.close()
  }

  /** Whether any byte string sent to this peer contains `needle` (a signature, an id). */
  sawBytes (needle: Uint8Array): boolean {
    const n = Buffer.from(needle)
    return this.rawBytes.some(c => Buffer.from(c.bytes).includes(n)) || this.frames.some(f => Buffer.from(f.frame).includes(n))
  }

  addrs (): string[] {
    return this.libp2p.getMultiaddrs().map(m => m.toString())
  }

  async stop (): Promise<void> {
    await this.libp2p.stop()
  }
}

export interface ForgeryPlan {
  badSignature: number
  tampered: number
  unknownAuthor: number
  equivocate: boolean
}

export interface Forgeries {
  /** ids of records no node may store */
  forged: string[]
  /** the two records of the staged equivocation (valid signatures, same author and seq) */
  equivocation: string[]
}

/** Forged, tampered and unknown-author records, and a valid equivocating pair, all from `identity`. */
export async function forgeRecords (identity: NodeIdentity, bodies: StixObject[], plan: ForgeryPlan, tlp: Tlp = 'green'): Promise<{ sets: Array<{ target: number, envelopes: Uint8Array[] }>, forgeries: Forgeries }> {
  const forged: string[] = []
  const bad: Uint8Array[] = []
  let b = 0
  const next = (): StixObject => bodies[b++ % bodies.length]
  let seq = 100
  for (let i = 0; i < plan.badSignature; i++) {
    const r = createRecord(identity, { seq: seq++, ts: Date.now(), tlp, body: next() })
    const x = r.bytes.slice()
    x[40] ^= 0x01
    bad.push(x)
    forged.push(idOfEnvelope(x))
  }
  for (let i = 0; i < plan.tampered; i++) {
    const r = createRecord(identity, { seq: seq++, ts: Date.now(), tlp, body: next() })
    const x = r.bytes.slice()
    // Change a character inside the payload: still JSON, still the same shape, not what was signed.
    const at = x.lastIndexOf(0x61)
    x[at] = 0x62
    bad.push(x)
    forged.push(idOfEnvelope(x))
  }
  const stranger = await NodeIdentity.generate()
  for (let i = 0; i < plan.unknownAuthor; i++) {
    const r = createRecord(stranger, { seq: i + 1, ts: Date.now(), tlp, body: next() })
    bad.push(r.bytes)
    forged.push(r.id)
  }
  const equivocation: string[] = []
  const sets: Array<{ target: number, envelopes: Uint8Array[] }> = []
  if (plan.equivocate) {
    const one = createRecord(identity, { seq: 1, ts: Date.now(), tlp, body: next() })
    const two = createRecord(identity, { seq: 1, ts: Date.now() + 1, tlp, body: next() })
    equivocation.push(one.id, two.id)
    sets.push({ target: 0, envelopes: [one.bytes] }, { target: 1, envelopes: [two.bytes] })
  }
  sets.push({ target: 0, envelopes: bad })
  return { sets, forgeries: { forged, equivocation } }
}

/** Valid records from `identity`, seq 1..n, for the flooder. */
export function floodRecords (identity: NodeIdentity, bodies: StixObject[], n: number, tlp: Tlp = 'green'): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) out.push(createRecord(identity, { seq: i + 1, ts: Date.now(), tlp, body: bodies[i % bodies.length] }).bytes)
  return out
}

/** Junk: random bytes shaped loosely like envelopes (right version byte, random rest). */
export function junkRecords (n: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const x = randomBytes(200 + (i % 300))
    x[0] = 1
    out.push(x)
  }
  return out
}
