import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { NodeIdentity } from '../../src/identity/index.js'
import { FramedStream } from '../../src/net/framing.js'
import { createNodeLibp2p, type DragnetLibp2p } from '../../src/net/libp2p.js'
import { GOSSIP_PROTOCOL, SYNC_PROTOCOL } from '../../src/net/protocols.js'
import { Writer } from '../../src/util/varint.js'

/**
 * A bare libp2p peer speaking just enough of dragnet's wire to play the attacker or the spy in
 * tests: it keeps every frame any node sends it, and can send frames of its own choosing.
 */
export class RawPeer {
  readonly libp2p: DragnetLibp2p
  readonly frames: Array<{ protocol: string, from: string, frame: Uint8Array }> = []
  readonly rawBytes: Array<{ protocol: string, from: string, bytes: Uint8Array }> = []

  private constructor (libp2p: DragnetLibp2p) {
    this.libp2p = libp2p
  }

  static async start (identity: NodeIdentity, admits: (peerId: string) => boolean = () => true): Promise<RawPeer> {
    const libp2p = await createNodeLibp2p({ identity, transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], admission: { admits } })
    await libp2p.start()
    const peer = new RawPeer(libp2p)
    for (const protocol of [GOSSIP_PROTOCOL, SYNC_PROTOCOL]) {
      await libp2p.handle(protocol, (stream, conn) => { void peer.record(protocol, stream, conn.remotePeer.toString()) })
    }
    return peer
  }

  private async record (protocol: string, stream: Stream, from: string): Promise<void> {
    stream.addEventListener('message', (evt) => { this.rawBytes.push({ protocol, from, bytes: evt.data.subarray() }) })
    const framed = new FramedStream(stream, { maxFrameBytes: 16 << 20, ioTimeoutMs: 30_000 })
    try {
      while (true) {
        const f = await framed.next()
        if (f == null) break
        this.frames.push({ protocol, from, frame: f.slice() })
      }
    } catch { /* the node hung up on us: what we got is what we keep */ }
  }

  async dial (addrs: string[]): Promise<void> {
    await this.libp2p.dial(addrs.map(a => multiaddr(a)), { signal: AbortSignal.timeout(10_000) })
  }

  /** Opens a gossip stream to `peerId` and sends RECORDS frames holding these envelopes. */
  async sendRecords (addrs: string[], envelopes: Uint8Array[]): Promise<void> {
    const stream = await this.libp2p.dialProtocol(addrs.map(a => multiaddr(a)), GOSSIP_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const framed = new FramedStream(stream, { maxFrameBytes: 1 << 20, ioTimeoutMs: 10_000 })
    const w = new Writer(1024)
    w.byte(0x01).varint(envelopes.length)
    for (const e of envelopes) w.varint(e.length).bytes(e)
    await framed.write(w.finish())
  }

  /** Every byte any node sent this peer, concatenated per stream chunk: a spy's haul. */
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
