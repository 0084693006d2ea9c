/*
 * Fair admission in front of ingest. Records handed over by peers are verified (worker pool)
 * and stored (group commit) by resources every peer shares; first come, first served, a peer that
 * pushes at its full rate — or opens several streams and sync sessions at once — fills them and
 * an honest member's records queue behind its batches. Here every hand-off first takes a
 * ticket for its records:
 *
 *  - at most `capacity` records are in verification or storage at once, over all peers;
 *  - a peer may hold at most its fair share of that: `capacity` divided by the peers holding or
 *    waiting for tickets, never less than one chunk;
 *  - when tickets come free, the waiting peer holding the fewest records goes first (max-min
 *    fairness) and nobody overtakes it, so a peer with nothing in flight is admitted as soon as
 *    its chunk's worth is released, however much another peer has queued.
 *
 * Waiting is the back-pressure: the gossip reader and the sync puller await their ticket before
 * reading on, so the stream window closes on that peer only. Nobody is penalised for waiting —
 * an honest slow or busy peer simply goes at its share.
 */

/**
 * Records one ticket covers: big enough that a chunk is worth posting to the verify workers
 * (ingest verifies fewer than 32 inline), small enough that the main thread's share of a chunk
 * (parse, policy, store batch) takes a few milliseconds.
 */
export const ADMISSION_CHUNK = 64

export interface AdmissionInit {
  /** records in verification and storage at once, over all peers */
  capacity: number
  /** most records one ticket covers; bigger hand-offs are split into chunks of this size */
  chunk: number
}

interface Waiter {
  n: number
  /** arrival order: ties go to the longest-waiting */
  seq: number
  grant: (release: () => void) => void
  fail: (err: unknown) => void
  signal?: AbortSignal
  onAbort?: () => void
}

interface PeerLoad {
  inFlight: number
  queue: Waiter[]
  /** when it was last granted a ticket (grant count; -1: never while it held or waited) */
  lastGrant: number
}

/** Grant order: fewer records held first; then served longest ago; then waiting longest. */
function before (a: PeerLoad, b: PeerLoad): boolean {
  if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight
  if (a.lastGrant !== b.lastGrant) return a.lastGrant < b.lastGrant
  return a.queue[0].seq < b.queue[0].seq
}

export interface AdmissionStats {
  /** records holding a ticket now */
  inFlight: number
  /** hand-offs waiting for one */
  waiting: number
  /** peers holding or waiting for tickets */
  peers: number
}

export class Admission {
  readonly capacity: number
  readonly chunk: number
  private readonly peers = new Map<string, PeerLoad>()
  private total = 0
  private arrivals = 0
  private grants = 0

  constructor (init: AdmissionInit) {
    if (!(init.chunk >= 1 && init.capacity >= init.chunk)) throw new TypeError('admission: need 1 <= chunk <= capacity')
    this.capacity = init.capacity
    this.chunk = init.chunk
  }

  /** A peer's fair share right now: the capacity split over the peers holding or waiting for tickets. */
  shareOf (peerId: string): number {
    const active = this.peers.size + (this.peers.has(peerId) ? 0 : 1)
    return Math.max(this.chunk, Math.floor(this.capacity / active))
  }

  /** Records `peerId` holds tickets for. */
  inFlightOf (peerId: string): number {
    return this.peers.get(peerId)?.inFlight ?? 0
  }

  stats (): AdmissionStats {
    let waiting = 0
    for (const p of this.peers.values()) waiting += p.queue.length
    return { inFlight: this.total, waiting, peers: this.peers.size }
  }

  /**
   * A ticket for `n` records (1..chunk) from `peerId`; resolves with its release once the peer
   * is within its share and there is room. Rejects with the signal's reason if it aborts first.
   */
  async acquire (peerId: string, n: number, signal?: AbortSignal): Promise<() => void> {
    if (!(n >= 1 && n <= this.chunk)) throw new TypeError(`admission: a ticket covers 1..${this.chunk} records, asked ${n}`)
    signal?.throwIfAborted()
    const load = this.load(peerId)
    return await new Promise<() => void>((resolve, reject) => {
      const w: Waiter = { n, seq: this.arrivals++, grant: resolve, fail: reject }
      if (signal != null) {
        w.signal = signal
        w.onAbort = () => { this.withdraw(peerId, w) }
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
      load.queue.push(w)
      this.pump()
    })
  }

  private load (peerId: string): PeerLoad {
    let l = this.peers.get(peerId)
    if (l == null) {
      l = { inFlight: 0, queue: [], lastGrant: -1 }
      this.peers.set(peerId, l)
    }
    return l
  }

  private withdraw (peerId: string, w: Waiter): void {
    const l = this.peers.get(peerId)
    const i = l?.queue.indexOf(w) ?? -1
    if (l == null || i < 0) return
    l.queue.splice(i, 1)
    this.forget(peerId, l)
    w.fail(w.signal?.reason ?? new Error('aborted'))
    // A peer fewer shares the capacity: the others' shares grow.
    this.pump()
  }

  private forget (peerId: string, l: PeerLoad): void {
    if (l.inFlight === 0 && l.queue.length === 0) this.peers.delete(peerId)
  }

  /**
   * Grants waiting tickets in strict order — the peer holding the fewest records first, among
   * equals the one served longest ago — while the first in that order fits. Nobody overtakes it, so
   * a peer holding nothing is admitted as soon as its chunk's worth is released.
   */
  private pump (): void {
    while (true) {
      let best: [string, PeerLoad] | undefined
      for (const e of this.peers) {
        const [peerId, l] = e
        const head = l.queue[0]
        if (head == null || l.inFlight + head.n > this.shareOf(peerId)) continue
        if (best == null || before(l, best[1])) best = e
      }
      if (best == null || this.total + best[1].queue[0].n > this.capacity) return
      this.grant(best[0], best[1])
    }
  }

  private grant (peerId: string, l: PeerLoad): void {
    const w = l.queue.shift()!
    if (w.onAbort != null) w.signal?.removeEventListener('abort', w.onAbort)
    l.inFlight += w.n
    l.lastGrant = this.grants++
    this.total += w.n
    let released = false
    w.grant(() => {
      if (released) return
      released = true
      l.inFlight -= w.n
      this.total -= w.n
      this.forget(peerId, l)
      this.pump()
    })
  }
}

/** Lets timers, I/O and other peers' work run before the next chunk (a macrotask, not a microtask). */
export async function yieldToLoop (): Promise<void> {
  await new Promise<void>(resolve => setImmediate(resolve))
}
