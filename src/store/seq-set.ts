import sortedBtree from 'sorted-btree'

// sorted-btree is CommonJS with `exports.default`: node's ESM loader hands over the module object,
// tsx (esModuleInterop) the class itself.
type BTreeClass = typeof sortedBtree.default
const BTree: BTreeClass = (sortedBtree as unknown as { default?: BTreeClass }).default ?? (sortedBtree as unknown as BTreeClass)
type Tree = InstanceType<typeof BTree<number, number>>

/** Intervals one author may occupy before its set turns approximate (see SeqIntervals). */
export const MAX_INTERVALS_PER_AUTHOR = 16_384

interface AuthorSeqs {
  /** interval start → inclusive end; starts are disjoint and non-adjacent */
  tree: Tree
  /** false once the cap forced a gap to be filled: `has` may then answer true for a seq not seen */
  exact: boolean
}

/**
 * The seqs seen per author, as disjoint intervals in a B+ tree keyed by interval start. Authors
 * number their records 1, 2, 3…, so an honest replica holds few intervals per author and
 * "is (author, seq) taken?" is answered in memory: a fresh record needs no database read to rule
 * out equivocation. Records arrive in any order (sync, red and amber records a node never
 * receives leave gaps), so every insert is O(log n): one lookup either side, at most one delete.
 *
 * A member that sends records with scattered seqs would otherwise grow its set without bound.
 * Past `maxIntervals` intervals for one author, a seq that would open a new interval extends the
 * nearer neighbour instead, so the gap between them counts as taken. The set stays a superset
 * of what was seen, `has` becomes "maybe" for that author (the caller then reads the store,
 * which is exact), `max` stays exact, and memory stays bounded. Honest records keep flowing;
 * they only cost that one read. `isExact` tells a caller that needs exact intervals (a seq
 * watermark fast path) that this author's are not.
 */
export class SeqIntervals {
  private readonly byAuthor = new Map<string, AuthorSeqs>()
  readonly maxIntervals: number

  constructor (maxIntervals = MAX_INTERVALS_PER_AUTHOR) {
    this.maxIntervals = Math.max(1, maxIntervals)
  }

  has (author: string, seq: number): boolean {
    const a = this.byAuthor.get(author)
    if (a == null) return false
    const p = a.tree.getPairOrNextLower(seq)
    return p != null && seq <= p[1]
  }

  add (author: string, seq: number): void {
    let a = this.byAuthor.get(author)
    if (a == null) {
      a = { tree: new BTree<number, number>(), exact: true }
      this.byAuthor.set(author, a)
    }
    const t = a.tree
    const left = t.getPairOrNextLower(seq)
    if (left != null && seq <= left[1]) return
    const right = t.nextHigherPair(seq)
    const joinsLeft = left != null && left[1] + 1 === seq
    const joinsRight = right != null && right[0] - 1 === seq
    if (joinsLeft && joinsRight) {
      t.delete(right[0])
      t.set(left[0], right[1])
    } else if (joinsLeft) {
      t.set(left[0], seq)
    } else if (joinsRight) {
      t.delete(right[0])
      t.set(seq, right[1])
    } else if (t.size < this.maxIntervals) {
      t.set(seq, seq)
    } else {
      this.fillNearerGap(a, seq, left, right)
    }
  }

  /** At the cap: the seq joins its nearer neighbour, and the gap between them counts as taken. */
  private fillNearerGap (a: AuthorSeqs, seq: number, left: [number, number] | undefined, right: [number, number] | undefined): void {
    a.exact = false
    const useLeft = right == null || (left != null && seq - left[1] <= right[0] - seq)
    if (useLeft) {
      a.tree.set(left![0], seq)
    } else {
      a.tree.delete(right[0])
      a.tree.set(seq, right[1])
    }
  }

  /** Highest seq seen for an author (0 if none); exact even past the cap. */
  max (author: string): number {
    const a = this.byAuthor.get(author)
    const last = a?.tree.maxKey()
    return last == null ? 0 : a!.tree.get(last)!
  }

  /** Whether `intervals(author)` are exactly the seqs seen (false once the author hit the cap). */
  isExact (author: string): boolean {
    return this.byAuthor.get(author)?.exact ?? true
  }

  intervalCount (author: string): number {
    return this.byAuthor.get(author)?.tree.size ?? 0
  }

  intervals (author: string): Array<[number, number]> {
    const a = this.byAuthor.get(author)
    if (a == null) return []
    const out: Array<[number, number]> = []
    a.tree.forEachPair((lo, hi) => { out.push([lo, hi]) })
    return out
  }

  authors (): string[] {
    return [...this.byAuthor.keys()]
  }

  toJSON (): { authors: Record<string, number[]>, approximate: string[] } {
    const authors: Record<string, number[]> = {}
    const approximate: string[] = []
    for (const [author, a] of this.byAuthor) {
      const flat: number[] = []
      a.tree.forEachPair((lo, hi) => { flat.push(lo, hi) })
      authors[author] = flat
      if (!a.exact) approximate.push(author)
    }
    return { authors, approximate }
  }

  /** Accepts what toJSON wrote (and the older plain `{ author: [lo, hi, …] }` form). */
  static fromJSON (o: unknown, maxIntervals = MAX_INTERVALS_PER_AUTHOR): SeqIntervals {
    const s = new SeqIntervals(maxIntervals)
    const rec = o as { authors?: Record<string, number[]>, approximate?: string[] }
    const authors = rec.authors ?? (o as Record<string, number[]>)
    const approximate = new Set(rec.approximate ?? [])
    for (const [author, flat] of Object.entries(authors)) {
      if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new TypeError(`seq intervals of ${author} are malformed`)
      const tree = new BTree<number, number>()
      for (let i = 0; i < flat.length; i += 2) tree.set(flat[i], flat[i + 1])
      s.byAuthor.set(author, { tree, exact: !approximate.has(author) })
    }
    return s
  }
}
