import { DragnetError } from '../../errors.js'
import { malformed, MAX_BOUND_BYTES, readBound, Reader, writeBound, Writer } from './codec.js'
import { diffAgainst, ItemCursor } from './diff.js'
import { compareBounds, ID_BYTES, MAX_BOUND, MIN_BOUND, separator, type Bound, type ReconItem } from './item.js'
import { SessionBase, type ReconInitiator, type ReconOptions, type ReconSession, type ReconStep } from './session.js'
import type { ReconView } from './view.js'

/*
 * The baseline that range reconciliation is measured against: the initiator sends every item it
 * holds, the responder answers with the difference. Same session interface, same frame limit:
 * the list goes out in chunks, one round trip each.
 *
 *   chunk  = 0x81 lo:bound(prev 0) hi:bound(prev lo.ts) n n*(tsDelta, id[32])
 *            every initiator item in [lo, hi); chunks start at MIN and end at MAX
 *   answer = 0x81 hi:bound(prev 0) k k*indexDelta m m*id[32]
 *            for [lo, hi') with hi' <= hi: the chunk items the responder lacks (indexes, as in
 *            ID_DIFF) and the responder's ids the chunk lacks; the next chunk starts at hi'
 */

const NAIVE_VERSION = 0x81
const CHUNK_OVERHEAD = 1 + 2 * MAX_BOUND_BYTES + 9
const ANSWER_OVERHEAD = 1 + MAX_BOUND_BYTES + 2 * 9

class NaiveSession extends SessionBase {
  /** where the next chunk starts */
  private cursor: Bound = MIN_BOUND
  private chunk: ReconItem[] = []
  private chunkHi: Bound = MAX_BOUND

  protected first (): Uint8Array {
    return this.nextChunk()
  }

  protected handle (message: Uint8Array): ReconStep {
    return this.role === 'initiator' ? this.onAnswer(message) : this.onChunk(message)
  }

  private send (w: Writer): Uint8Array {
    return this.sent(w.finish())
  }

  private nextChunk (): Uint8Array {
    const room = this.opts.maxMessageBytes - CHUNK_OVERHEAD
    const max = Math.max(1, Math.floor(room / (9 + ID_BYTES)))
    const items = this.view.items(this.cursor, MAX_BOUND, max + 1)
    const hi = items.length > max ? separator(items[max - 1], items[max]) : MAX_BOUND
    this.chunk = items.slice(0, max)
    this.chunkHi = hi
    const w = new Writer()
    w.u8(NAIVE_VERSION)
    writeBound(w, 0, this.cursor)
    writeBound(w, this.cursor.ts, hi)
    w.varint(this.chunk.length)
    let prev = this.cursor.ts
    for (const x of this.chunk) {
      w.varint(x.ts - prev)
      w.bytes(x.id)
      prev = x.ts
    }
    return this.send(w)
  }

  private onAnswer (msg: Uint8Array): ReconStep {
    const r = new Reader(msg)
    if (r.u8() !== NAIVE_VERSION) throw malformed('not a naive answer')
    const hi = readBound(r, 0)
    if (compareBounds(hi, this.cursor) <= 0 || compareBounds(hi, this.chunkHi) > 0) throw malformed('answer does not cover a prefix of the chunk')
    let slice = this.chunk.length
    while (slice > 0 && compareBounds(this.chunk[slice - 1], hi) >= 0) slice--
    const k = r.varint()
    if (k > slice) throw malformed(`answer claims ${k} indexes`)
    const have: Uint8Array[] = []
    let at = -1
    for (let i = 0; i < k; i++) {
      at += r.varint() + 1
      if (at >= slice) throw malformed('index outside the chunk')
      have.push(this.chunk[at].id)
    }
    const m = r.varint()
    if (m * ID_BYTES !== r.remaining) throw malformed(`answer claims ${m} ids`)
    const need: Uint8Array[] = []
    for (let i = 0; i < m; i++) need.push(r.bytes(ID_BYTES).slice())
    this.cursor = hi
    if (hi.ts === Number.POSITIVE_INFINITY) {
      this.state = 'done'
      return { have, need, done: true }
    }
    return { message: this.nextChunk(), have, need, done: false }
  }

  private onChunk (msg: Uint8Array): ReconStep {
    const r = new Reader(msg)
    if (r.u8() !== NAIVE_VERSION) throw malformed('not a naive chunk')
    const lo = readBound(r, 0)
    if (compareBounds(lo, this.cursor) !== 0) throw malformed('chunk does not start where the last answer ended')
    const hi = readBound(r, lo.ts)
    if (compareBounds(hi, lo) <= 0) throw malformed('chunk bounds do not increase')
    const n = r.varint()
    if (n * (1 + ID_BYTES) > r.remaining) throw malformed(`chunk claims ${n} items`)
    const theirs: ReconItem[] = new Array(n)
    let ts = lo.ts
    for (let i = 0; i < n; i++) {
      ts += r.varint()
      if (!Number.isSafeInteger(ts)) throw malformed('item ts out of range')
      const item = { ts, id: r.bytes(ID_BYTES).slice() }
      if ((i > 0 ? compareBounds(item, theirs[i - 1]) <= 0 : compareBounds(item, lo) < 0) || compareBounds(item, hi) >= 0) {
        throw malformed('chunk items not strictly ascending inside the chunk')
      }
      theirs[i] = item
    }
    if (r.remaining !== 0) throw malformed('trailing bytes')
    const mine = new ItemCursor((a, b, lim) => this.view.items(a, b, lim), lo, hi)
    const { lacking, extras, last, stop } = diffAgainst(theirs, mine, this.opts.maxMessageBytes - ANSWER_OVERHEAD)
    let end = hi
    if (stop != null) {
      if (last == null) throw new DragnetError('DRAGNET_INTERNAL', 'naive answer cannot make progress')
      end = separator(last, stop)
    }
    const w = new Writer()
    w.u8(NAIVE_VERSION)
    writeBound(w, 0, end)
    w.varint(lacking.length)
    const need: Uint8Array[] = []
    let prev = -1
    for (const i of lacking) {
      w.varint(i - prev - 1)
      prev = i
      need.push(theirs[i].id)
    }
    w.varint(extras.length)
    const have: Uint8Array[] = []
    for (const x of extras) {
      w.bytes(x.id)
      have.push(x.id)
    }
    this.cursor = end
    const done = end.ts === Number.POSITIVE_INFINITY
    if (done) this.state = 'done'
    return { message: this.send(w), have, need, done }
  }
}

export function createNaiveInitiator (view: ReconView, opts: ReconOptions = {}): ReconInitiator {
  return new NaiveSession('initiator', view, opts)
}

export function createNaiveResponder (view: ReconView, opts: ReconOptions = {}): ReconSession {
  return new NaiveSession('responder', view, opts)
}
