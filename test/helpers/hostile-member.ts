import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { NodeIdentity } from '../../src/identity/index.js'
import { FramedStream } from '../../src/net/framing.js'
import { GRAFT, IHAVE, encodeIdFrames, encodePrune, encodeRecords } from '../../src/net/gossip-wire.js'
import { createNodeLibp2p, type DragnetLibp2p } from '../../src/net/libp2p.js'
import { GOSSIP_PROTOCOL, SYNC_PROTOCOL } from '../../src/net/protocols.js'
import type { DragnetNode } from '../../src/node.js'
import { createRecord, type SignedRecord, type Tlp } from '../../src/record/index.js'
import type { StixObject } from '../../src/stix/types.js'
import { DONE, OPEN, RECON, decodeFrame, encodeRecon } from '../../src/sync/protocol.js'
import { ReconIndex, createResponder, type ReconSession } from '../../src/sync/recon/index.js'

/*
 * A compromised roster member for tests: its own libp2p node holding a key on the victims'
 * rosters, speaking dragnet's gossip and sync protocols directly, frame by frame, so a test can
 * send whatever an attacker would — forged, replayed, non-owner, equivocating, gapped and
 * unknown-author records, unasked-for declines, control-frame floods — and read slowly. It only
 * uses the project's wire encoders (so what it sends is exactly what the wire allows) and never
 * reads a node's private state.
 */

/** One stream to a victim, frame by frame. */
export class Link {
  readonly framed: FramedStream
  /** settles when the victim closes or resets the stream (a penalty does) */
  readonly ended: Promise<void>

  constructor (readonly stream: Stream) {
    this.framed = new FramedStream(stream, { maxFrameBytes: 16 << 20, ioTimeoutMs: 60_000 })
    this.ended = new Promise(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
  }

  /** Sends frames; false once the victim has cut the stream (what a penalty does). */
  async send (...frames: Uint8Array[]): Promise<boolean> {
    try {
      for (const f of frames) await this.framed.write(f, AbortSignal.timeout(10_000))
      return true
    } catch {
      return false
    }
  }

  async read (ms = 30_000): Promise<Uint8Array | null> {
    return await this.framed.read(AbortSignal.timeout(ms))
  }

  get open (): boolean {
    return this.stream.status === 'open'
  }

  close (): void {
    this.framed.abort(new Error('hostile member closed the link'))
  }
}

export interface HostileInit {
  /** never consume what victims push on streams they open to us (gossip, sync) */
  slowReader?: boolean
  /** reset every gossip stream a victim opens to us (we still send on ours) */
  refuseGossip?: boolean
}

export class HostileMember {
  /** gossip frames victims pushed to us, by sender */
  readonly gossipFrames: Array<{ from: string, frame: Uint8Array }> = []
  /** sync sessions victims opened to us, as they ended: how many frames each sent before it closed */
  readonly syncSessions: Array<{ from: string, frames: number, closedBy: 'victim' | 'us' }> = []
  slowReader: boolean
  refuseGossip: boolean
  private readonly held: Stream[] = []

  private constructor (readonly identity: NodeIdentity, readonly libp2p: DragnetLibp2p, init: HostileInit) {
    this.slowReader = init.slowReader ?? false
    this.refuseGossip = init.refuseGossip ?? false
  }

  static async start (identity: NodeIdentity, init: HostileInit = {}): Promise<HostileMember> {
    const libp2p = await createNodeLibp2p({ identity, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], admission: { admits: () => true } })
    await libp2p.start()
    const m = new HostileMember(identity, libp2p, init)
    await libp2p.handle(GOSSIP_PROTOCOL, (stream, conn) => { void m.onGossip(stream, conn.remotePeer.toString()) })
    await libp2p.handle(SYNC_PROTOCOL, (stream, conn) => { void m.onSync(stream, conn.remotePeer.toString()) })
    return m
  }

  get peerId (): string {
    return this.identity.peerId
  }

  async connect (victim: DragnetNode): Promise<void> {
    await this.libp2p.dial(victim.listenAddrs().map(a => multiaddr(a)), { signal: AbortSignal.timeout(10_000) })
  }

  /** Our own gossip stream to the victim (what we send it). */
  async gossip (victim: DragnetNode): Promise<Link> {
    return new Link(await this.libp2p.dialProtocol(peerIdFromString(victim.peerId), GOSSIP_PROTOCOL, { signal: AbortSignal.timeout(10_000) }))
  }

  /** A sync session we open to the victim (we are the initiator, whatever the PeerIds say). */
  async sync (victim: DragnetNode): Promise<Link> {
    return new Link(await this.libp2p.dialProtocol(peerIdFromString(victim.peerId), SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) }))
  }

  /** A record signed by this member. */
  record (seq: number, body: StixObject | Record<string, unknown>, opts: { tlp?: Tlp, ts?: number, to?: string[] } = {}): SignedRecord {
    return createRecord(this.identity, { seq, ts: opts.ts ?? Date.now(), tlp: opts.tlp ?? 'green', body: body as StixObject, ...(opts.to != null ? { to: opts.to } : {}) })
  }

  static records (envelopes: Uint8Array[], perFrame = 256): Uint8Array[] {
    const frames: Uint8Array[] = []
    for (let i = 0; i < envelopes.length; i += perFrame) frames.push(encodeRecords(envelopes.slice(i, i + perFrame)))
    return frames
  }

  static ihave (groups: Array<{ key: Uint8Array, digests: Uint8Array[] }>): Uint8Array[] {
    return encodeIdFrames(IHAVE, groups)
  }

  static graft (groups: Array<{ key: Uint8Array, digests: Uint8Array[] }>): Uint8Array[] {
    return encodeIdFrames(GRAFT, groups)
  }

  static prune (keys: Uint8Array[]): Uint8Array[] {
    return encodePrune(keys)
  }

  private async onGossip (stream: Stream, from: string): Promise<void> {
    if (this.refuseGossip) { stream.abort(new Error('refused')); return }
    const framed = new FramedStream(stream, { maxFrameBytes: 16 << 20, ioTimeoutMs: 600_000 })
    if (this.slowReader) {
      // Not read until resume(): the muxer stops granting the victim window, and its writes back up.
      stream.pause()
      this.held.push(stream)
    }
    try {
      while (true) {
        const f = await framed.next()
        if (f == null) break
        this.gossipFrames.push({ from, frame: f.slice() })
      }
    } catch { /* the victim hung up */ }
  }

  /**
   * Sessions a victim opens to us: we claim to hold nothing, so it pushes us what it may. A slow
   * reader stops reading once reconciliation is done, so the victim's pushes back up.
   */
  private async onSync (stream: Stream, from: string): Promise<void> {
    const framed = new FramedStream(stream, { maxFrameBytes: 16 << 20, ioTimeoutMs: 600_000 })
    let frames = 0
    let sessions: ReconSession[] = []
    try {
      while (true) {
        const f = await framed.next()
        if (f == null) break
        frames++
        const frame = decodeFrame(f, { maxItems: 1 << 20, scopes: sessions.length > 0 ? sessions.length : 6 })
        if (frame.type === DONE) { await framed.close(); break }
        if (frame.type === OPEN) sessions = frame.scopes.map(() => createResponder(new ReconIndex()))
        if (frame.type === OPEN || frame.type === RECON) {
          const replies = []
          for (const m of frame.messages) {
            const step = sessions[m.scope].consume(m.message)
            if (step.message != null) replies.push({ scope: m.scope, message: step.message })
          }
          await framed.write(encodeRecon(replies))
          if (this.slowReader && replies.length === 0) {
            stream.pause()
            this.held.push(stream)
            await new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
            this.syncSessions.push({ from, frames, closedBy: 'victim' })
            return
          }
        }
      }
      this.syncSessions.push({ from, frames, closedBy: 'victim' })
    } catch {
      this.syncSessions.push({ from, frames, closedBy: 'victim' })
    }
  }

  /** Starts reading again everything held back. */
  resume (): void {
    this.slowReader = false
    for (const s of this.held.splice(0)) if (s.status === 'open') s.resume()
  }

  async stop (): Promise<void> {
    await this.libp2p.stop()
  }
}

/** Random-key identities: authors nobody's roster knows. */
export async function strangers (n: number): Promise<NodeIdentity[]> {
  return await Promise.all(Array.from({ length: n }, async () => await NodeIdentity.generate()))
}

/** Resident memory of this process, in MB (the victims run in it too). */
export function rssMb (): number {
  return process.memoryUsage().rss / 1048576
}
