import type { Stream } from '@libp2p/interface'
import { pEvent } from 'p-event'
import { Uint8ArrayList } from 'uint8arraylist'
import { DragnetError } from '../errors.js'
import { peerTimeout, protocolViolation } from '../replication/faults.js'
import { encodeVarint, readVarint } from '../util/varint.js'

export interface FramedInit {
  /** largest frame accepted or sent */
  maxFrameBytes: number
  /** a frame that has started must complete within this time; every write must drain within it */
  ioTimeoutMs: number
  /** decoded-but-unconsumed bytes above which the stream is paused (muxer stops granting window) */
  highWaterBytes?: number
  /** simulated link latency: each frame is handed over this many ms after it arrived (FIFO kept) */
  delay?: () => number
}

/**
 * Length-prefixed frames over a libp2p v3 stream, with the limits our protocols need: a maximum
 * frame size checked before buffering the frame, a deadline for a started frame, writes that wait
 * for drain (with a deadline), and real flow control — when the consumer falls behind, the stream
 * is paused so yamux stops granting the sender window, instead of queueing without bound.
 */
export class FramedStream {
  readonly stream: Stream
  private readonly init: Required<Omit<FramedInit, 'delay'>> & Pick<FramedInit, 'delay'>
  private readonly buf = new Uint8ArrayList()
  private readonly frames: Uint8Array[] = []
  private readonly due: number[] = []
  /** when each queued frame was complete (performance.now()) */
  private readonly completeAt: number[] = []
  private lastDue = 0
  private queuedBytes = 0
  private paused = false
  private ended = false
  private error: Error | null = null
  private waiter: (() => void) | null = null
  private partialTimer: ReturnType<typeof setTimeout> | null = null
  bytesIn = 0
  bytesOut = 0
  /** when the frame `next()` returned last was complete on the stream (performance.now()): its wait to be read shows in hop traces */
  lastCompleteAt = 0

  constructor (stream: Stream, init: FramedInit) {
    this.stream = stream
    this.init = { highWaterBytes: 2 * init.maxFrameBytes, ...init }
    stream.addEventListener('message', (evt) => { this.onData(evt.data) })
    stream.addEventListener('remoteCloseWrite', () => { this.finish(null) })
    stream.addEventListener('close', (evt: any) => { this.finish(evt?.error ?? null) })
  }

  private wake (): void {
    const w = this.waiter
    this.waiter = null
    w?.()
  }

  private finish (err: Error | null): void {
    if (this.ended) return
    this.ended = true
    if (err != null && this.error == null) this.error = err
    if (this.partialTimer != null) { clearTimeout(this.partialTimer); this.partialTimer = null }
    this.wake()
  }

  private fail (err: Error): void {
    if (this.error == null) this.error = err
    try { this.stream.abort(err) } catch { /* the stream is already closed */ }
    this.finish(err)
  }

  private onData (data: Uint8Array | Uint8ArrayList): void {
    if (this.ended) return
    this.bytesIn += data.byteLength
    this.buf.append(data)
    try {
      while (this.buf.byteLength > 0) {
        const head = this.buf.subarray(0, Math.min(9, this.buf.byteLength))
        const r = readVarint(head, 0, 'frame length')
        if (r == null) break
        const [len, hdr] = r
        if (len > this.init.maxFrameBytes) throw protocolViolation(`frame of ${len} bytes exceeds the limit of ${this.init.maxFrameBytes}`)
        if (this.buf.byteLength < hdr + len) break
        const frame = this.buf.subarray(hdr, hdr + len)
        this.buf.consume(hdr + len)
        this.frames.push(frame)
        this.completeAt.push(performance.now())
        if (this.init.delay != null) {
          this.lastDue = Math.max(this.lastDue, Date.now() + this.init.delay())
          this.due.push(this.lastDue)
        }
        this.queuedBytes += len
      }
    } catch (err) {
      this.fail(err as Error)
      return
    }
    if (this.buf.byteLength > 0) {
      if (this.partialTimer == null) {
        // A slow link is not a violation: the stream ends, the peer is not penalised.
        this.partialTimer = setTimeout(() => {
          this.fail(peerTimeout(`a frame did not complete within ${this.init.ioTimeoutMs} ms`))
        }, this.init.ioTimeoutMs)
        this.partialTimer.unref?.()
      }
    } else if (this.partialTimer != null) {
      clearTimeout(this.partialTimer)
      this.partialTimer = null
    }
    if (!this.paused && this.queuedBytes > this.init.highWaterBytes) {
      this.paused = true
      // Deferred: pausing inside a message dispatched by resume() would leave the muxer un-paused.
      queueMicrotask(() => { if (this.paused && this.stream.readStatus === 'readable') this.stream.pause() })
    }
    this.wake()
  }

  /** The next frame, or null when the remote closed its side. Throws on protocol violations. */
  async next (): Promise<Uint8Array | null> {
    while (true) {
      if (this.due.length > 0 && this.frames.length > 0) {
        const wait = this.due[0] - Date.now()
        if (wait > 0) { await new Promise(resolve => setTimeout(resolve, wait)); continue }
        this.due.shift()
      }
      const f = this.frames.shift()
      if (f != null) {
        this.lastCompleteAt = this.completeAt.shift() ?? 0
        this.queuedBytes -= f.length
        if (this.paused && this.queuedBytes <= this.init.highWaterBytes / 2) {
          this.paused = false
          if (this.stream.readStatus === 'paused') this.stream.resume()
        }
        return f
      }
      if (this.error != null) throw this.error
      if (this.ended) return null
      await new Promise<void>(resolve => { this.waiter = resolve })
    }
  }

  /** Reads one frame with a deadline (request/response protocols). */
  async read (signal: AbortSignal): Promise<Uint8Array | null> {
    if (signal.aborted) throw signal.reason
    let onAbort: (() => void) | undefined
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(asTimeout(signal.reason, 'read timed out')) }
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([this.next(), aborted])
    } finally {
      if (onAbort != null) signal.removeEventListener('abort', onAbort)
      this.wake()
    }
  }

  /**
   * Writes a frame; waits for drain when the stream's buffer is full. `signal` may be given as a
   * function: it is then made only if the write has to wait (a timer and an abort listener per
   * frame add up on a busy node, and most writes never wait).
   */
  async write (frame: Uint8Array, signal?: AbortSignal | (() => AbortSignal)): Promise<void> {
    if (frame.length > this.init.maxFrameBytes) throw new DragnetError('DRAGNET_TOO_LARGE', `frame of ${frame.length} bytes exceeds the limit of ${this.init.maxFrameBytes}`)
    const prefix = encodeVarint(frame.length)
    this.bytesOut += prefix.length + frame.length
    if (!this.stream.send(new Uint8ArrayList(prefix, frame))) {
      try {
        const deadline = typeof signal === 'function' ? signal() : signal
        await pEvent(this.stream, 'drain', { rejectionEvents: ['close'], signal: deadline ?? AbortSignal.timeout(this.init.ioTimeoutMs) })
      } catch (err: any) {
        // p-event rejects with the close Event, not an Error; a reader too slow to drain our
        // writes in time is a timeout, not a violation.
        if (err?.name === 'TimeoutError' || err?.name === 'AbortError') throw asTimeout(err, 'the peer did not read our frames in time')
        throw err instanceof Error ? err : (err?.error instanceof Error ? err.error : new DragnetError('DRAGNET_NODE_UNREACHABLE', 'stream closed while writing'))
      }
    }
  }

  async close (): Promise<void> {
    try {
      await this.stream.close({ signal: AbortSignal.timeout(this.init.ioTimeoutMs) })
    } catch (err) {
      this.stream.abort(err as Error)
    }
  }

  abort (err: Error): void {
    this.fail(err)
  }
}

/** An abort reason as an error: deadlines (AbortSignal.timeout) become DRAGNET_TIMEOUT, anything else passes as it is. */
function asTimeout (reason: unknown, message: string): Error {
  if (reason instanceof DragnetError) return reason
  if (reason == null || (reason as { name?: string }).name === 'TimeoutError') return peerTimeout(message)
  return reason instanceof Error ? reason : peerTimeout(message)
}
