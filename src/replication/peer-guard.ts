import { TokenBucket } from '../util/token-bucket.js'

export interface PeerGuardInit {
  /** records per second read from one peer (a bucket of twice that) */
  recordsPerSec: number
  /** frame bytes per second read from one peer */
  bytesPerSec: number
  /** frames per second read from one peer, whatever their type */
  framesPerSec: number
  /** ids per second in a peer's announcements and requests (IHAVE, GRAFT, WANT) */
  idsPerSec: number
  /** distinct strikes a peer may collect within `strikeWindowMs` before it is penalised */
  strikesPerPeer: number
  strikeWindowMs: number
}

/** Longest a reader waits for a peer's buckets at once; it checks again after that. */
const MAX_WAIT_MS = 5000

/**
 * Limits for one peer, shared by every connection and stream it has: a peer that refuses our
 * stream, opens several, or reconnects finds the same buckets. Exceeding a rate is not a
 * violation: the reader simply waits (back-pressure through the stream window), so an honest
 * burst slows down instead of being cut off.
 *
 * Strikes count acts that an honest relay may commit now and then — a record or announcement
 * from an author this node does not know (yet), a relayed record contradicting another member's
 * object — but a hostile one commits in bulk. Each distinct strike key counts once per window;
 * more than `strikesPerPeer` of them in one window is a violation.
 */
export class PeerGuard {
  readonly records: TokenBucket
  readonly bytes: TokenBucket
  readonly frames: TokenBucket
  readonly ids: TokenBucket
  private readonly strikes = new Map<string, number>()
  private windowStart = 0

  constructor (private readonly init: PeerGuardInit, private readonly clock: () => number = Date.now) {
    this.records = new TokenBucket(init.recordsPerSec, init.recordsPerSec * 2, clock)
    this.bytes = new TokenBucket(init.bytesPerSec, init.bytesPerSec * 2, clock)
    this.frames = new TokenBucket(init.framesPerSec, init.framesPerSec * 2, clock)
    this.ids = new TokenBucket(init.idsPerSec, init.idsPerSec * 2, clock)
  }

  /** Charges one frame read from the peer. */
  frame (bytes: number): void {
    this.frames.take(1)
    this.bytes.take(bytes)
  }

  /** How long the reader should wait before reading the peer's next frame. */
  delay (): number {
    return Math.min(MAX_WAIT_MS, Math.max(this.records.delay(), this.bytes.delay(), this.frames.delay(), this.ids.delay()))
  }

  /** Counts a strike; true when the peer is now over its allowance (the caller penalises it). */
  strike (key: string): boolean {
    const now = this.clock()
    if (now - this.windowStart > this.init.strikeWindowMs) {
      this.strikes.clear()
      this.windowStart = now
    }
    if (!this.strikes.has(key)) this.strikes.set(key, now)
    return this.strikes.size > this.init.strikesPerPeer
  }

  get strikeCount (): number {
    return this.strikes.size
  }
}

/** One guard per roster peer, kept while the node runs (bounded by the roster, not by traffic). */
export class PeerGuards {
  private readonly guards = new Map<string, PeerGuard>()

  constructor (private readonly init: PeerGuardInit) {}

  get (peerId: string): PeerGuard {
    let g = this.guards.get(peerId)
    if (g == null) {
      g = new PeerGuard(this.init)
      this.guards.set(peerId, g)
    }
    return g
  }
}

/** Waits for the peer's buckets, or until `signal` aborts. */
export async function throttle (guard: PeerGuard, signal: AbortSignal): Promise<void> {
  const wait = guard.delay()
  if (wait <= 0 || signal.aborted) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, wait)
    function done (): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
