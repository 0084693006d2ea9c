import { DragnetError } from '../../errors.js'
import {
  assertBound, assertItem, compareBounds, compareItems, separator,
  type Bound, type ReconItem
} from './item.js'
import { accAddId, accAddSum, fingerprintOf, newAcc, summaryOf, type RangeSummary } from './sum.js'
import type { ReconView } from './view.js'

/*
 * OverlayView: (base ∪ add) \ remove, computed on the fly. One ReconIndex holds the node's
 * replica; each peer sees it through its own overlay:
 *
 *   node A reconciling with peer P uses  new OverlayView(mainIndex, knownForP, withheldFromP)
 *
 *   - add: ids A counts as known for P although it does not hold them: records A rejected by
 *     inbound policy, or records P offered and A declined. Reconciliation then never asks P for
 *     them again.
 *   - remove: ids A holds but outbound policy withholds from P. A never offers them; should P
 *     hold one of them anyway, it shows up in A's `need` and the caller drops it (already stored).
 *
 * Fingerprints are additive, so a range costs the base's O(log n) plus O(log n) per add/remove
 * item inside the range. The overlay keeps no copy of the base and reads it live: an add item
 * that later lands in the base is counted once, a remove item that leaves the base is ignored.
 * add and remove are meant to be small (thousands, not millions); they are sorted once here.
 */

/** Ranges at most this large (in items) are split exactly from their materialised items. */
const EXACT_SPLIT_LIMIT = 4096

function sortedUnique (items: Iterable<ReconItem>, what: string): ReconItem[] {
  const out: ReconItem[] = []
  for (const item of items) {
    assertItem(item, what)
    out.push({ ts: item.ts, id: item.id.slice() })
  }
  out.sort(compareItems)
  let w = 0
  for (let i = 0; i < out.length; i++) {
    if (w === 0 || compareItems(out[w - 1], out[i]) !== 0) out[w++] = out[i]
  }
  out.length = w
  return out
}

/** first index whose item is >= b */
function lowerIndex (arr: ReconItem[], b: Bound): number {
  let lo = 0
  let hi = arr.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBounds(arr[mid], b) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

function contains (arr: ReconItem[], item: ReconItem): boolean {
  const i = lowerIndex(arr, item)
  return i < arr.length && compareItems(arr[i], item) === 0
}

export class OverlayView implements ReconView {
  readonly base: ReconView
  private readonly add: ReconItem[]
  private readonly remove: ReconItem[]

  constructor (base: ReconView, add: Iterable<ReconItem> = [], remove: Iterable<ReconItem> = []) {
    if (base == null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'OverlayView needs a base view')
    this.base = base
    this.add = sortedUnique(add, 'overlay add')
    this.remove = sortedUnique(remove, 'overlay remove')
  }

  get size (): number {
    return this.base.size + this.adjustment(this.add, 0, this.add.length) - this.removedPresent(0, this.remove.length)
  }

  has (item: ReconItem): boolean {
    assertItem(item)
    if (contains(this.remove, item)) return false
    return this.base.has(item) || contains(this.add, item)
  }

  count (lo: Bound, hi: Bound): number {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    if (compareBounds(lo, hi) >= 0) return 0
    const [a0, a1] = this.span(this.add, lo, hi)
    const [r0, r1] = this.span(this.remove, lo, hi)
    return this.base.count(lo, hi) + this.adjustment(this.add, a0, a1) - this.removedPresent(r0, r1)
  }

  summary (lo: Bound, hi: Bound): RangeSummary {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    const acc = newAcc()
    if (compareBounds(lo, hi) >= 0) return summaryOf(acc)
    const s = this.base.summary(lo, hi)
    accAddSum(acc, s.count, s.sum, 0, 1)
    const [a0, a1] = this.span(this.add, lo, hi)
    for (let i = a0; i < a1; i++) {
      const x = this.add[i]
      if (!this.base.has(x) && !contains(this.remove, x)) accAddId(acc, x.id, 1)
    }
    const [r0, r1] = this.span(this.remove, lo, hi)
    for (let i = r0; i < r1; i++) {
      const x = this.remove[i]
      if (this.base.has(x)) accAddId(acc, x.id, -1)
    }
    return summaryOf(acc)
  }

  fingerprint (lo: Bound, hi: Bound): Uint8Array {
    return fingerprintOf(this.summary(lo, hi))
  }

  items (lo: Bound, hi: Bound, limit = Number.POSITIVE_INFINITY): ReconItem[] {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    if (!(limit > 0) || compareBounds(lo, hi) >= 0) return []
    const [r0, r1] = this.span(this.remove, lo, hi)
    // Each removed item can hide at most one base item, so limit + (removes in range) base
    // items are enough; adds past the last fetched base item rank after `limit` others.
    const base = this.base.items(lo, hi, limit + (r1 - r0))
    const [a0, a1] = this.span(this.add, lo, hi)
    const extra: ReconItem[] = []
    for (let i = a0; i < a1; i++) {
      const x = this.add[i]
      if (!this.base.has(x) && !contains(this.remove, x)) extra.push({ ts: x.ts, id: x.id.slice() })
    }
    const out: ReconItem[] = []
    let i = 0
    let j = 0
    while (out.length < limit && (i < base.length || j < extra.length)) {
      if (j >= extra.length || (i < base.length && compareItems(base[i], extra[j]) < 0)) {
        const x = base[i++]
        if (r1 > r0 && contains(this.remove, x)) continue
        out.push(x)
      } else {
        out.push(extra[j++])
      }
    }
    return out
  }

  splitPoints (lo: Bound, hi: Bound, parts: number): Bound[] {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    const c = this.count(lo, hi)
    if (c > EXACT_SPLIT_LIMIT) return this.base.splitPoints(lo, hi, parts)
    const k = Math.min(Math.floor(parts), c)
    if (k < 2) return []
    const all = this.items(lo, hi)
    const out: Bound[] = []
    for (let j = 1; j < k; j++) {
      const r = Math.floor(j * c / k)
      out.push(separator(all[r - 1], all[r]))
    }
    return out
  }

  private span (arr: ReconItem[], lo: Bound, hi: Bound): [number, number] {
    if (arr.length === 0) return [0, 0]
    return [lowerIndex(arr, lo), lowerIndex(arr, hi)]
  }

  /** adds in [a0, a1) that are neither in the base nor removed */
  private adjustment (arr: ReconItem[], a0: number, a1: number): number {
    let n = 0
    for (let i = a0; i < a1; i++) if (!this.base.has(arr[i]) && !contains(this.remove, arr[i])) n++
    return n
  }

  /** removes in [r0, r1) that the base holds */
  private removedPresent (r0: number, r1: number): number {
    let n = 0
    for (let i = r0; i < r1; i++) if (this.base.has(this.remove[i])) n++
    return n
  }
}
