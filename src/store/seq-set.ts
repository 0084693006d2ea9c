/**
 * The seqs seen per author, as sorted disjoint intervals. Authors number their records 1, 2, 3…,
 * so a replica's holdings are a handful of intervals per author: "is (author, seq) taken?" is an
 * exact in-memory answer, and a fresh record needs no database read to rule out equivocation.
 */
export class SeqIntervals {
  private readonly byAuthor = new Map<string, number[]>()

  has (author: string, seq: number): boolean {
    const iv = this.byAuthor.get(author)
    if (iv == null) return false
    // iv = [lo0, hi0, lo1, hi1, ...], inclusive bounds; binary search on the interval starts.
    let lo = 0
    let hi = iv.length / 2 - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (seq < iv[2 * mid]) hi = mid - 1
      else if (seq > iv[2 * mid + 1]) lo = mid + 1
      else return true
    }
    return false
  }

  add (author: string, seq: number): void {
    let iv = this.byAuthor.get(author)
    if (iv == null) { this.byAuthor.set(author, [seq, seq]); return }
    const n = iv.length / 2
    // Fast path: the next seq of an author extends its last interval.
    if (seq === iv[2 * n - 1] + 1) { iv[2 * n - 1] = seq; return }
    if (this.has(author, seq)) return
    let i = 0
    while (i < n && iv[2 * i] < seq) i++
    iv.splice(2 * i, 0, seq, seq)
    // Merge with neighbours that now touch.
    const merged: number[] = []
    for (let j = 0; j < iv.length; j += 2) {
      const last = merged.length - 1
      if (merged.length > 0 && iv[j] <= merged[last] + 1) merged[last] = Math.max(merged[last], iv[j + 1])
      else merged.push(iv[j], iv[j + 1])
    }
    iv = merged
    this.byAuthor.set(author, iv)
  }

  /** Highest seq seen for an author (0 if none). */
  max (author: string): number {
    const iv = this.byAuthor.get(author)
    return iv == null ? 0 : iv[iv.length - 1]
  }

  intervals (author: string): Array<[number, number]> {
    const iv = this.byAuthor.get(author) ?? []
    const out: Array<[number, number]> = []
    for (let i = 0; i < iv.length; i += 2) out.push([iv[i], iv[i + 1]])
    return out
  }

  authors (): string[] {
    return [...this.byAuthor.keys()]
  }

  toJSON (): Record<string, number[]> {
    return Object.fromEntries(this.byAuthor)
  }

  static fromJSON (o: Record<string, number[]>): SeqIntervals {
    const s = new SeqIntervals()
    for (const [author, iv] of Object.entries(o)) s.byAuthor.set(author, [...iv])
    return s
  }
}
