import { compareItems, ID_BYTES, itemBound, type Bound, type ReconItem } from './item.js'
import { varintSize } from './codec.js'

/** Fetches items of [lo, hi) in order, at most `limit`. */
export type ItemSource = (lo: Bound, hi: Bound, limit: number) => ReconItem[]

const BATCH = 256

/** Steps through a source's items in [lo, hi) a batch at a time, so huge ranges stream. */
export class ItemCursor {
  private buf: ReconItem[] = []
  private i = 0
  private exhausted = false
  private from: Bound
  private last: ReconItem | null = null

  constructor (private readonly source: ItemSource, lo: Bound, private readonly hi: Bound) {
    this.from = lo
  }

  peek (): ReconItem | null {
    if (this.i < this.buf.length) return this.buf[this.i]
    if (this.exhausted) return null
    // refills start at the last item seen (bounds are inclusive below), which is dropped again
    const want = BATCH + (this.last == null ? 0 : 1)
    const batch = this.source(this.from, this.hi, want)
    if (batch.length < want) this.exhausted = true
    const skip = this.last != null && batch.length > 0 && compareItems(batch[0], this.last) === 0
    this.buf = skip ? batch.slice(1) : batch
    this.i = 0
    if (this.buf.length === 0) {
      this.exhausted = true
      return null
    }
    this.last = this.buf[this.buf.length - 1]
    this.from = itemBound(this.last)
    return this.buf[0]
  }

  next (): void {
    this.i++
  }
}

export interface DiffChunk {
  /** indexes into `theirs` of the items I lack */
  lacking: number[]
  /** my items they lack */
  extras: ReconItem[]
  /** the largest item dealt with, null if none */
  last: ReconItem | null
  /** the first item not dealt with when the budget ran out, null if everything was */
  stop: ReconItem | null
}

/**
 * Merges the other side's sorted list with my items, spending at most `budget` payload bytes on
 * the answer (an index varint per item I lack, 32 bytes per item they lack; shared items are
 * free). Stops at the first item that no longer fits.
 */
export function diffAgainst (theirs: ReconItem[], mine: ItemCursor, budget: number): DiffChunk {
  const lacking: number[] = []
  const extras: ReconItem[] = []
  let ti = 0
  let lastIndex = -1
  let last: ReconItem | null = null
  while (true) {
    const x = mine.peek()
    const t = ti < theirs.length ? theirs[ti] : null
    if (x == null && t == null) return { lacking, extras, last, stop: null }
    const c = x == null ? 1 : t == null ? -1 : compareItems(x, t)
    if (c === 0) {
      last = x
      mine.next()
      ti++
    } else if (c > 0) {
      const cost = varintSize(ti - lastIndex - 1)
      if (cost > budget) return { lacking, extras, last, stop: t }
      budget -= cost
      lacking.push(ti)
      lastIndex = ti
      last = t
      ti++
    } else {
      if (ID_BYTES > budget) return { lacking, extras, last, stop: x }
      budget -= ID_BYTES
      extras.push(x!)
      last = x
      mine.next()
    }
  }
}
