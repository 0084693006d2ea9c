import { DragnetError } from '../../errors.js'
import { canonicalPrefix, compareBounds, ID_BYTES, MIN_BOUND, type Bound, type ReconItem } from './item.js'
import { FINGERPRINT_BYTES } from './sum.js'

/*
 * Wire format of a reconciliation message (version 1). All integers are unsigned LEB128
 * varints, minimal length, at most 2^53.
 *
 *   message  = version:u8(=1) range*
 *   range    = bound mode:u8 payload
 *   bound    = tsCode prefixLen prefix[prefixLen]
 *      tsCode  0 for Infinity (the top of the order), else ts - prevTs + 1, where prevTs is the
 *              ts of the previous range's upper bound (0 for the first range)
 *      prefix  0..32 id bytes, no trailing zero byte (trailing zeros would not move the point)
 *
 * A message is a list of consecutive ranges: each range's lower bound is the previous range's
 * upper bound (the first starts at (0, "")), and upper bounds strictly increase. The space after
 * the last range is skipped. Modes and payloads:
 *
 *   0 SKIP         nothing to do here (only to jump to the next range; never two in a row,
 *                  never last)
 *   1 FINGERPRINT  count, fp[16]: the sender's item count and fingerprint of the range; the
 *                  receiver answers if its own fingerprint differs
 *   2 ID_LIST      n, n * (tsDelta, id[32]): every item the sender holds in the range, ascending;
 *                  tsDelta is from the previous item's ts (the first from the range's lower ts).
 *                  The receiver must answer with ID_DIFF.
 *   3 ID_DIFF      k, k * indexDelta, m, m * id[32]: the answer to an ID_LIST over a range that
 *                  starts where that list's range starts and ends at or before its end. The k
 *                  indexes (first absolute, then gap-1) name the listed items inside this range
 *                  that the answerer lacks; the m ids are the answerer's items in this range that
 *                  the list lacks. Nothing answers an ID_DIFF.
 *
 * The decoder below checks everything a single message can be checked for on its own; the
 * session checks the rest (an ID_DIFF must answer one of its lists, lists must not be left
 * unanswered, sizes and rounds stay within the limits).
 */

export const WIRE_VERSION = 1
export const MODE_SKIP = 0
export const MODE_FINGERPRINT = 1
export const MODE_ID_LIST = 2
export const MODE_ID_DIFF = 3

const MAX_VARINT = 2 ** 53
/** largest possible encoding of a bound: 8-byte tsCode, 1-byte length, 32-byte prefix */
export const MAX_BOUND_BYTES = 8 + 1 + ID_BYTES

export function malformed (message: string): DragnetError {
  return new DragnetError('DRAGNET_BAD_REQUEST', `malformed reconciliation message: ${message}`)
}

export function varintSize (v: number): number {
  let n = 1
  while (v >= 128) {
    v = Math.floor(v / 128)
    n++
  }
  return n
}

export class Writer {
  private buf: Uint8Array
  length = 0

  constructor (initial = 256) {
    this.buf = new Uint8Array(initial)
  }

  private ensure (extra: number): void {
    if (this.length + extra <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.length + extra) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }

  u8 (v: number): void {
    this.ensure(1)
    this.buf[this.length++] = v
  }

  varint (v: number): void {
    this.ensure(9)
    while (v >= 128) {
      this.buf[this.length++] = (v % 128) | 0x80
      v = Math.floor(v / 128)
    }
    this.buf[this.length++] = v
  }

  bytes (b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }

  finish (): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

export class Reader {
  pos = 0
  constructor (readonly buf: Uint8Array) {}

  get remaining (): number {
    return this.buf.length - this.pos
  }

  u8 (): number {
    if (this.pos >= this.buf.length) throw malformed('truncated')
    return this.buf[this.pos++]
  }

  varint (): number {
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      v += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw malformed('overlong varint')
        if (v > MAX_VARINT) throw malformed('varint out of range')
        return v
      }
      scale *= 128
    }
    throw malformed('varint too long')
  }

  /** a view into the message; copy before keeping it */
  bytes (n: number): Uint8Array {
    if (n > this.remaining) throw malformed('truncated')
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}

export function writeBound (w: Writer, prevTs: number, b: Bound): void {
  if (b.ts === Number.POSITIVE_INFINITY) {
    w.varint(0)
    w.varint(0)
    return
  }
  w.varint(b.ts - prevTs + 1)
  const prefix = canonicalPrefix(b.id)
  w.varint(prefix.length)
  w.bytes(prefix)
}

export function boundSize (prevTs: number, b: Bound): number {
  if (b.ts === Number.POSITIVE_INFINITY) return 2
  const prefix = canonicalPrefix(b.id)
  return varintSize(b.ts - prevTs + 1) + 1 + prefix.length
}

export function readBound (r: Reader, prevTs: number): Bound {
  const code = r.varint()
  const len = r.varint()
  if (len > ID_BYTES) throw malformed(`bound prefix of ${len} bytes`)
  if (code === 0) {
    if (len !== 0) throw malformed('the top bound carries an id prefix')
    return { ts: Number.POSITIVE_INFINITY, id: new Uint8Array(0) }
  }
  const ts = prevTs + code - 1
  if (!Number.isSafeInteger(ts)) throw malformed('bound ts out of range')
  const id = r.bytes(len).slice()
  if (len > 0 && id[len - 1] === 0) throw malformed('bound prefix ends in a zero byte')
  return { ts, id }
}

export interface WireRange {
  lo: Bound
  hi: Bound
  mode: number
  count?: number
  fingerprint?: Uint8Array
  items?: ReconItem[]
  lacking?: number[]
  extras?: Uint8Array[]
}

/**
 * Decodes and checks a message range by range, calling visit for each; visit may return false
 * to stop early. Payload ids are copied out of the message.
 */
export function decodeMessage (msg: Uint8Array, visit: (r: WireRange) => boolean | undefined): void {
  const r = new Reader(msg)
  const version = r.u8()
  if (version !== WIRE_VERSION) throw malformed(`unknown version ${version}`)
  let lo: Bound = MIN_BOUND
  let prevMode = -1
  while (r.remaining > 0) {
    if (lo.ts === Number.POSITIVE_INFINITY) throw malformed('range after the top bound')
    const hi = readBound(r, lo.ts)
    if (compareBounds(hi, lo) <= 0) throw malformed('bounds do not increase')
    const mode = r.u8()
    const range: WireRange = { lo, hi, mode }
    switch (mode) {
      case MODE_SKIP:
        if (prevMode === MODE_SKIP) throw malformed('two skip ranges in a row')
        if (r.remaining === 0) throw malformed('ends with a skip range')
        break
      case MODE_FINGERPRINT:
        range.count = r.varint()
        range.fingerprint = r.bytes(FINGERPRINT_BYTES).slice()
        break
      case MODE_ID_LIST: {
        const n = r.varint()
        // every listed item takes at least 33 bytes: refuse absurd counts before allocating
        if (n * (1 + ID_BYTES) > r.remaining) throw malformed(`id list claims ${n} items`)
        const items: ReconItem[] = new Array(n)
        let ts = lo.ts
        let prev: ReconItem | null = null
        for (let i = 0; i < n; i++) {
          ts += r.varint()
          if (!Number.isSafeInteger(ts)) throw malformed('item ts out of range')
          const item = { ts, id: r.bytes(ID_BYTES).slice() }
          if (prev != null ? compareBounds(item, prev) <= 0 : compareBounds(item, lo) < 0) {
            throw malformed('id list not strictly ascending inside its range')
          }
          if (compareBounds(item, hi) >= 0) throw malformed('id list item outside its range')
          items[i] = item
          prev = item
        }
        range.items = items
        break
      }
      case MODE_ID_DIFF: {
        const k = r.varint()
        if (k > r.remaining) throw malformed(`id diff claims ${k} indexes`)
        const lacking: number[] = new Array(k)
        let at = -1
        for (let i = 0; i < k; i++) {
          at += r.varint() + 1
          if (!Number.isSafeInteger(at)) throw malformed('index out of range')
          lacking[i] = at
        }
        const m = r.varint()
        if (m * ID_BYTES > r.remaining) throw malformed(`id diff claims ${m} ids`)
        const extras: Uint8Array[] = new Array(m)
        for (let i = 0; i < m; i++) extras[i] = r.bytes(ID_BYTES).slice()
        range.lacking = lacking
        range.extras = extras
        break
      }
      default:
        throw malformed(`unknown range mode ${mode}`)
    }
    prevMode = mode
    if (visit(range) === false) return
    lo = hi
  }
}

/** Encodes ranges in ascending order, filling SKIP ranges into gaps, with rollback. */
export class MessageWriter {
  readonly w = new Writer()
  private prev: Bound = MIN_BOUND

  constructor () {
    this.w.u8(WIRE_VERSION)
  }

  get length (): number {
    return this.w.length
  }

  mark (): { length: number, prev: Bound } {
    return { length: this.w.length, prev: this.prev }
  }

  reset (m: { length: number, prev: Bound }): void {
    this.w.length = m.length
    this.prev = m.prev
  }

  /** Starts a range [lo, hi) of `mode`; the caller writes the payload next. */
  range (lo: Bound, hi: Bound, mode: number): void {
    const c = compareBounds(lo, this.prev)
    if (c < 0 || compareBounds(hi, lo) <= 0) {
      throw new DragnetError('DRAGNET_INTERNAL', 'reconciliation ranges written out of order')
    }
    if (c > 0) {
      writeBound(this.w, this.prev.ts, lo)
      this.w.u8(MODE_SKIP)
      this.prev = lo
    }
    writeBound(this.w, this.prev.ts, hi)
    this.w.u8(mode)
    this.prev = hi
  }

  finish (): Uint8Array {
    return this.w.finish()
  }
}
