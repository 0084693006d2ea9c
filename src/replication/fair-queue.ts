/*
 * A send queue shared fairly by the authors whose records wait in it. First in, first out, a
 * member publishing (or relaying a flood) at its full rate would put every other author's
 * records behind thousands of its own, on every edge the flood crosses. Here:
 *  - each frame takes an equal quota from every author waiting (their own order kept), then
 *    fills up in arrival order: one honest record is in the next frame, however long the queue;
 *  - the queue is capped, but an author holding less than its fair share of the cap (the cap
 *    over the authors waiting) may still join past it, up to twice the cap in all: the author
 *    filling the queue falls back to announcements, the others do not.
 */

export interface Keyed { author: string }

export class FairQueue<T extends Keyed> {
  private items: T[] = []
  private readonly counts = new Map<string, number>()

  get length (): number {
    return this.items.length
  }

  [Symbol.iterator] (): Iterator<T> {
    return this.items[Symbol.iterator]()
  }

  /** Whether a record of `author` may join a queue capped at `cap` (see the rule above). */
  admits (author: string, cap: number): boolean {
    if (this.items.length < cap) return true
    if (this.items.length >= 2 * cap) return false
    const held = this.counts.get(author) ?? 0
    const authors = this.counts.size + (held === 0 ? 1 : 0)
    return held < Math.floor(cap / authors)
  }

  push (item: T): void {
    this.items.push(item)
    this.counts.set(item.author, (this.counts.get(item.author) ?? 0) + 1)
  }

  /**
   * Takes up to `max` items for one frame: an equal quota per author first, then in arrival
   * order; `fits(item, taken)` is asked for every item in the order taken, and false ends the
   * frame (the first item is taken regardless).
   * O(queue length) per frame.
   */
  take (max: number, fits: (item: T, taken: number) => boolean): T[] {
    const quota = Math.max(1, Math.floor(max / Math.max(1, this.counts.size)))
    const per = new Map<string, number>()
    const picked = new Uint8Array(this.items.length)
    const out: T[] = []
    const pick = (i: number): boolean => {
      const item = this.items[i]
      // The first item goes whatever its size (a frame holds at least one record).
      if (!fits(item, out.length) && out.length > 0) return false
      picked[i] = 1
      out.push(item)
      per.set(item.author, (per.get(item.author) ?? 0) + 1)
      return true
    }
    let full = false
    for (let i = 0; i < this.items.length && out.length < max && !full; i++) {
      if ((per.get(this.items[i].author) ?? 0) < quota) full = !pick(i)
    }
    for (let i = 0; i < this.items.length && out.length < max && !full; i++) {
      if (picked[i] === 0) full = !pick(i)
    }
    this.items = this.items.filter((_, i) => picked[i] === 0)
    for (const [author, n] of per) this.uncount(author, n)
    return out
  }

  /** Removes and returns the items `drop` selects, keeping the others in order. */
  remove (drop: (item: T) => boolean): T[] {
    const kept: T[] = []
    const gone: T[] = []
    for (const item of this.items) (drop(item) ? gone : kept).push(item)
    this.items = kept
    for (const item of gone) this.uncount(item.author, 1)
    return gone
  }

  private uncount (author: string, n: number): void {
    const left = (this.counts.get(author) ?? 0) - n
    if (left > 0) this.counts.set(author, left)
    else this.counts.delete(author)
  }
}
