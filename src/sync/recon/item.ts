import { DragnetError } from '../../errors.js'

/*
 * Items and bounds. An item is (ts, id): ts a millisecond timestamp, id a 32-byte sha-256
 * digest. Items are ordered by ts, then by id bytes. A bound is (ts, prefix) with a prefix of
 * 0..32 id bytes; it stands for the point (ts, prefix padded with zero bytes), so ranges are
 * half-open intervals [lo, hi) of that one order. MAX_BOUND (ts = Infinity) lies above every
 * item; MIN_BOUND (0, empty prefix) lies at or below every item.
 */

export const ID_BYTES = 32

export interface ReconItem {
  readonly ts: number
  readonly id: Uint8Array
}

export interface Bound {
  readonly ts: number
  /** id prefix, 0..32 bytes; compared as if padded with zero bytes to 32 */
  readonly id: Uint8Array
}

const EMPTY = new Uint8Array(0)

export const MIN_BOUND: Bound = Object.freeze({ ts: 0, id: EMPTY })
export const MAX_BOUND: Bound = Object.freeze({ ts: Number.POSITIVE_INFINITY, id: EMPTY })

export function isValidTs (ts: unknown): ts is number {
  return typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0
}

export function assertItem (item: ReconItem, what = 'item'): void {
  if (item == null || !isValidTs(item.ts)) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `${what}: ts must be an integer in [0, 2^53)`)
  }
  if (!(item.id instanceof Uint8Array) || item.id.length !== ID_BYTES) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `${what}: id must be a ${ID_BYTES}-byte Uint8Array`)
  }
}

export function assertBound (b: Bound, what = 'bound'): void {
  if (b == null || !(isValidTs(b.ts) || b.ts === Number.POSITIVE_INFINITY)) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `${what}: ts must be an integer in [0, 2^53) or Infinity`)
  }
  if (!(b.id instanceof Uint8Array) || b.id.length > ID_BYTES) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `${what}: id prefix must be a Uint8Array of at most ${ID_BYTES} bytes`)
  }
}

/** Compares the 32-byte id at ids[off..off+32) with a zero-padded prefix. */
export function compareIdPrefix (ids: Uint8Array, off: number, prefix: Uint8Array): number {
  const m = prefix.length
  for (let i = 0; i < m; i++) {
    const d = ids[off + i] - prefix[i]
    if (d !== 0) return d
  }
  for (let i = m; i < ID_BYTES; i++) {
    if (ids[off + i] !== 0) return 1
  }
  return 0
}

/** Compares a stored item (ts, ids[off..off+32)) with a bound or item. */
export function compareAt (ts: number, ids: Uint8Array, off: number, bts: number, bid: Uint8Array): number {
  if (ts !== bts) return ts < bts ? -1 : 1
  return compareIdPrefix(ids, off, bid)
}

export function compareItems (a: ReconItem, b: ReconItem): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1
  const x = a.id
  const y = b.id
  for (let i = 0; i < ID_BYTES; i++) {
    const d = x[i] - y[i]
    if (d !== 0) return d
  }
  return 0
}

/** Bounds (and items, which are bounds with a full prefix) compared as zero-padded points. */
export function compareBounds (a: Bound, b: Bound): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1
  const x = a.id
  const y = b.id
  const n = Math.max(x.length, y.length)
  for (let i = 0; i < n; i++) {
    const d = (i < x.length ? x[i] : 0) - (i < y.length ? y[i] : 0)
    if (d !== 0) return d
  }
  return 0
}

export function itemInRange (item: ReconItem, lo: Bound, hi: Bound): boolean {
  return compareBounds(item, lo) >= 0 && compareBounds(item, hi) < 0
}

/**
 * The shortest bound b with prev < b <= next, for two stored items prev < next. Shortest,
 * because bounds go on the wire: a different ts needs no id bytes at all, and equal ts needs
 * only the id bytes up to the first one that differs. The last byte is never zero, which keeps
 * the encoding canonical.
 */
export function separatorAt (
  pts: number, pids: Uint8Array, poff: number,
  nts: number, nids: Uint8Array, noff: number
): Bound {
  if (pts !== nts) return { ts: nts, id: EMPTY }
  let i = 0
  while (i < ID_BYTES - 1 && pids[poff + i] === nids[noff + i]) i++
  return { ts: nts, id: nids.slice(noff, noff + i + 1) }
}

export function separator (prev: ReconItem, next: ReconItem): Bound {
  return separatorAt(prev.ts, prev.id, 0, next.ts, next.id, 0)
}

/** A bound equal to the item's own point, so that [itemBound(x), hi) starts at x. */
export function itemBound (item: ReconItem): Bound {
  return { ts: item.ts, id: canonicalPrefix(item.id) }
}

/** Drops trailing zero bytes: they do not move the point, and the wire form forbids them. */
export function canonicalPrefix (prefix: Uint8Array): Uint8Array {
  let n = prefix.length
  while (n > 0 && prefix[n - 1] === 0) n--
  return n === prefix.length ? prefix : prefix.subarray(0, n)
}

export function idHex (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')
}
