import { compareBounds, compareItems, type Bound, type ReconItem } from './recon/item.js'
import { accAddSum, fingerprintOf, newAcc, summaryOf, type RangeSummary } from './recon/sum.js'
import type { ReconView } from './recon/view.js'

/**
 * Several disjoint views seen as one set: the node's replica of a scope plus the ids one peer
 * declined to hand over. Counts and id sums are additive, so every range costs one query per
 * part; the sync service keeps the parts disjoint (an id leaves the declined set when the record
 * is stored).
 */
export class UnionView implements ReconView {
  private readonly parts: ReconView[]

  constructor (parts: ReconView[]) {
    this.parts = parts
  }

  get size (): number {
    let n = 0
    for (const p of this.parts) n += p.size
    return n
  }

  has (item: ReconItem): boolean {
    return this.parts.some(p => p.has(item))
  }

  count (lo: Bound, hi: Bound): number {
    let n = 0
    for (const p of this.parts) n += p.count(lo, hi)
    return n
  }

  summary (lo: Bound, hi: Bound): RangeSummary {
    if (this.parts.length === 1) return this.parts[0].summary(lo, hi)
    const acc = newAcc()
    for (const p of this.parts) {
      const s = p.summary(lo, hi)
      accAddSum(acc, s.count, s.sum, 0, 1)
    }
    return summaryOf(acc)
  }

  fingerprint (lo: Bound, hi: Bound): Uint8Array {
    return fingerprintOf(this.summary(lo, hi))
  }

  items (lo: Bound, hi: Bound, limit = Number.POSITIVE_INFINITY): ReconItem[] {
    const lists = this.parts.map(p => p.items(lo, hi, limit)).filter(l => l.length > 0)
    if (lists.length === 0) return []
    if (lists.length === 1) return lists[0]
    const merged = lists.flat().sort(compareItems)
    return merged.length > limit ? merged.slice(0, limit) : merged
  }

  splitPoints (lo: Bound, hi: Bound, parts: number): Bound[] {
    const live = this.parts.filter(p => p.count(lo, hi) > 0)
    if (live.length <= 1) return live.length === 1 ? live[0].splitPoints(lo, hi, parts) : []
    // Candidates from every part, then the ones nearest to equal shares of the union's count.
    const candidates = live.flatMap(p => p.splitPoints(lo, hi, parts)).sort(compareBounds)
    const unique: Bound[] = []
    for (const c of candidates) if (unique.length === 0 || compareBounds(unique[unique.length - 1], c) < 0) unique.push(c)
    const total = this.count(lo, hi)
    const out: Bound[] = []
    let k = 1
    for (const c of unique) {
      if (k >= parts) break
      if (this.count(lo, c) >= (total * k) / parts) {
        if (out.length === 0 || compareBounds(out[out.length - 1], c) < 0) out.push(c)
        k++
      }
    }
    return out
  }
}
