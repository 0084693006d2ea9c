import { DragnetError } from '../../errors.js'
import {
  assertBound, assertItem, compareAt, compareBounds, ID_BYTES, isValidTs, MAX_BOUND, separatorAt,
  type Bound, type ReconItem
} from './item.js'
import {
  accAddIds, accAddSum, fingerprintOf, idWords, LIMBS, newAcc, normalizeInto, sumAddInto, summaryOf,
  type RangeSummary
} from './sum.js'
import type { ReconView } from './view.js'

/*
 * ReconIndex: a B+tree over (ts, id) whose internal nodes keep, for every child, its item count
 * and its 256-bit id sum. Any range's count or fingerprint is then two root-to-leaf descents
 * (prefix(hi) - prefix(lo)), O(log n), whatever the range's size.
 *
 * Memory is what sets the shape. A leaf is one ArrayBuffer holding up to 128 items as a
 * Float64Array of ts and a packed 32-byte id array (with a Uint32Array view of the ids for
 * fast summing), so an item costs its 40 bytes of data plus about 3 bytes of per-leaf object
 * overhead at full leaves. Internal nodes (fanout 64) add about 1 byte per item.
 *
 * Fill: bulk load packs leaves to 120 of 128, leaving room for out-of-order inserts. New
 * records mostly arrive with the newest ts, i.e. at the right edge of the tree; a full rightmost
 * node that receives an append splits off a fresh node instead of halving, so an append-mostly
 * index stays near-full instead of settling at the ~70% fill of random inserts.
 *
 * Deletes merge a node that falls under a quarter full into a sibling when the two fit in one;
 * separators are never tightened after deletes (a separator only has to lie between its
 * neighbours, which stays true).
 */

const LEAF_CAP = 128
const INNER_CAP = 64
const LEAF_FILL = 120
const INNER_FILL = 60
const LEAF_MIN = LEAF_CAP >> 2
const INNER_MIN = INNER_CAP >> 2

class Leaf {
  n = 0
  readonly ts: Float64Array
  readonly ids: Uint8Array
  readonly words: Uint32Array

  constructor () {
    const buf = new ArrayBuffer(LEAF_CAP * (8 + ID_BYTES))
    this.ts = new Float64Array(buf, 0, LEAF_CAP)
    this.ids = new Uint8Array(buf, LEAF_CAP * 8, LEAF_CAP * ID_BYTES)
    this.words = new Uint32Array(buf, LEAF_CAP * 8, LEAF_CAP * LIMBS)
  }
}

// Arrays have one spare slot: an insert may overflow a node by one entry before it splits.
class Inner {
  n = 0
  /** keyTs/keyIds[i]: lower separator of child i (all of child i >= key i > all of child i-1) */
  readonly keyTs = new Float64Array(INNER_CAP + 1)
  readonly keyIds = new Uint8Array((INNER_CAP + 1) * ID_BYTES)
  readonly counts = new Float64Array(INNER_CAP + 1)
  readonly sums = new Uint32Array((INNER_CAP + 1) * LIMBS)
  readonly kids: Node[] = []
}

type Node = Leaf | Inner

function isLeaf (node: Node): node is Leaf {
  return node instanceof Leaf
}

/** first i in [1, n) whose key is >= b (strict=false) or > b (strict=true), minus one */
function childIndex (node: Inner, bts: number, bid: Uint8Array, strict: boolean): number {
  let lo = 1
  let hi = node.n
  const keys = node.keyIds
  const kts = node.keyTs
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const c = compareAt(kts[mid], keys, mid * ID_BYTES, bts, bid)
    if (strict ? c <= 0 : c < 0) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

/** first position in the leaf whose item is >= b */
function leafLowerBound (leaf: Leaf, bts: number, bid: Uint8Array): number {
  let lo = 0
  let hi = leaf.n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareAt(leaf.ts[mid], leaf.ids, mid * ID_BYTES, bts, bid) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

function leafInsertAt (leaf: Leaf, p: number, ts: number, id: Uint8Array): void {
  const n = leaf.n
  if (p < n) {
    leaf.ts.copyWithin(p + 1, p, n)
    leaf.ids.copyWithin((p + 1) * ID_BYTES, p * ID_BYTES, n * ID_BYTES)
  }
  leaf.ts[p] = ts
  leaf.ids.set(id, p * ID_BYTES)
  leaf.n = n + 1
}

function leafRemoveAt (leaf: Leaf, p: number): void {
  const n = leaf.n
  if (p < n - 1) {
    leaf.ts.copyWithin(p, p + 1, n)
    leaf.ids.copyWithin(p * ID_BYTES, (p + 1) * ID_BYTES, n * ID_BYTES)
  }
  leaf.n = n - 1
}

function firstKey (node: Node): { ts: number, ids: Uint8Array, off: number } {
  return isLeaf(node) ? { ts: node.ts[0], ids: node.ids, off: 0 } : { ts: node.keyTs[0], ids: node.keyIds, off: 0 }
}

/** Writes the node's count and sum into entry i of parent, and its first key as separator. */
function setEntry (parent: Inner, i: number, child: Node): void {
  const acc = newAcc()
  if (isLeaf(child)) accAddIds(acc, child.ids, child.words, 0, child.n, 1)
  else for (let k = 0; k < child.n; k++) accAddSum(acc, child.counts[k], child.sums, k * LIMBS, 1)
  parent.counts[i] = acc[0]
  normalizeInto(acc, parent.sums, i * LIMBS)
  const fk = firstKey(child)
  parent.keyTs[i] = fk.ts
  parent.keyIds.set(fk.ids.subarray(fk.off, fk.off + ID_BYTES), i * ID_BYTES)
  parent.kids[i] = child
}

function shiftEntries (node: Inner, from: number, by: number): void {
  const n = node.n
  node.keyTs.copyWithin(from + by, from, n)
  node.keyIds.copyWithin((from + by) * ID_BYTES, from * ID_BYTES, n * ID_BYTES)
  node.counts.copyWithin(from + by, from, n)
  node.sums.copyWithin((from + by) * LIMBS, from * LIMBS, n * LIMBS)
}

function removeEntry (node: Inner, i: number): void {
  shiftEntries(node, i + 1, -1)
  node.kids.splice(i, 1)
  node.n--
}

/** Moves entries [from, node.n) of `node` to the end of `dst`. */
function moveEntries (node: Inner, from: number, dst: Inner): void {
  const k = node.n - from
  const d = dst.n
  dst.keyTs.set(node.keyTs.subarray(from, node.n), d)
  dst.keyIds.set(node.keyIds.subarray(from * ID_BYTES, node.n * ID_BYTES), d * ID_BYTES)
  dst.counts.set(node.counts.subarray(from, node.n), d)
  dst.sums.set(node.sums.subarray(from * LIMBS, node.n * LIMBS), d * LIMBS)
  for (let i = 0; i < k; i++) dst.kids[d + i] = node.kids[from + i]
  dst.n = d + k
  node.kids.length = from
  node.n = from
}

function moveItems (leaf: Leaf, from: number, dst: Leaf): void {
  const k = leaf.n - from
  const d = dst.n
  dst.ts.set(leaf.ts.subarray(from, leaf.n), d)
  dst.ids.set(leaf.ids.subarray(from * ID_BYTES, leaf.n * ID_BYTES), d * ID_BYTES)
  dst.n = d + k
  leaf.n = from
}

export interface ColumnarItems {
  /** ts of item i */
  ts: ArrayLike<number>
  /** ids packed back to back: item i at [32*i, 32*i+32) */
  ids: Uint8Array
}

export class ReconIndex implements ReconView {
  private root: Node = new Leaf()
  private total = new Uint32Array(LIMBS)
  private n = 0

  /** O(n) build from items sorted strictly ascending; see bulkLoad. */
  static fromSorted (items: ReadonlyArray<ReconItem> | ColumnarItems): ReconIndex {
    const index = new ReconIndex()
    index.bulkLoad(items)
    return index
  }

  get size (): number {
    return this.n
  }

  /** Every item in order as columns — the inverse of bulkLoad, for snapshots. */
  toColumnar (): { ts: Float64Array, ids: Uint8Array } {
    const ts = new Float64Array(this.n)
    const ids = new Uint8Array(this.n * ID_BYTES)
    let at = 0
    const walk = (node: Node): void => {
      if (isLeaf(node)) {
        ts.set(node.ts.subarray(0, node.n), at)
        ids.set(node.ids.subarray(0, node.n * ID_BYTES), at * ID_BYTES)
        at += node.n
        return
      }
      for (let k = 0; k < node.n; k++) walk(node.kids[k])
    }
    walk(this.root)
    return { ts, ids }
  }

  /**
   * Replaces the whole content, O(n), from items in strictly ascending (ts, id) order: an array
   * of items, or columns (a ts array and one packed id array), which is what a node rebuilding
   * from LevelDB keys at start-up can fill without a million small objects.
   */
  bulkLoad (items: ReadonlyArray<ReconItem> | ColumnarItems): void {
    let count: number
    let tsAt: (i: number) => number
    let idsAt: (i: number) => { ids: Uint8Array, off: number }
    if (Array.isArray(items)) {
      const arr = items as ReadonlyArray<ReconItem>
      count = arr.length
      for (let i = 0; i < count; i++) assertItem(arr[i], `bulkLoad item ${i}`)
      tsAt = i => arr[i].ts
      idsAt = i => ({ ids: arr[i].id, off: 0 })
    } else {
      const cols = items as ColumnarItems
      count = cols.ts.length
      if (cols.ids.length !== count * ID_BYTES) {
        throw new DragnetError('DRAGNET_BAD_REQUEST', `bulkLoad: ids hold ${cols.ids.length} bytes, expected ${count * ID_BYTES}`)
      }
      for (let i = 0; i < count; i++) {
        if (!isValidTs(cols.ts[i])) throw new DragnetError('DRAGNET_BAD_REQUEST', `bulkLoad item ${i}: ts must be an integer in [0, 2^53)`)
      }
      tsAt = i => cols.ts[i]
      idsAt = i => ({ ids: cols.ids, off: i * ID_BYTES })
    }

    const nLeaves = Math.max(1, Math.ceil(count / LEAF_FILL))
    const leaves: Leaf[] = []
    const base = Math.floor(count / nLeaves)
    const extra = count % nLeaves
    let i = 0
    let prevLeaf: Leaf | null = null
    for (let l = 0; l < nLeaves; l++) {
      const leaf = new Leaf()
      const size = base + (l < extra ? 1 : 0)
      for (let k = 0; k < size; k++, i++) {
        const ts = tsAt(i)
        const src = idsAt(i)
        leaf.ts[k] = ts
        leaf.ids.set(src.ids.subarray(src.off, src.off + ID_BYTES), k * ID_BYTES)
        const p = k > 0 ? leaf : prevLeaf
        const pk = k > 0 ? k - 1 : (prevLeaf == null ? -1 : prevLeaf.n - 1)
        if (p != null && pk >= 0 && compareAt(p.ts[pk], p.ids, pk * ID_BYTES, ts, leaf.ids.subarray(k * ID_BYTES, (k + 1) * ID_BYTES)) >= 0) {
          throw new DragnetError('DRAGNET_BAD_REQUEST', `bulkLoad: item ${i} is not strictly after item ${i - 1}`)
        }
        leaf.n = k + 1
      }
      leaves.push(leaf)
      prevLeaf = leaf
    }

    let level: Node[] = leaves
    while (level.length > 1) {
      const groups = Math.ceil(level.length / INNER_FILL)
      const gBase = Math.floor(level.length / groups)
      const gExtra = level.length % groups
      const next: Inner[] = []
      let j = 0
      for (let g = 0; g < groups; g++) {
        const node = new Inner()
        const size = gBase + (g < gExtra ? 1 : 0)
        for (let k = 0; k < size; k++) setEntry(node, k, level[j++])
        node.n = size
        next.push(node)
      }
      level = next
    }
    this.root = level[0]
    this.n = count
    const acc = newAcc()
    const root = this.root
    if (isLeaf(root)) accAddIds(acc, root.ids, root.words, 0, root.n, 1)
    else for (let k = 0; k < root.n; k++) accAddSum(acc, root.counts[k], root.sums, k * LIMBS, 1)
    this.total = new Uint32Array(LIMBS)
    normalizeInto(acc, this.total, 0)
  }

  has (item: ReconItem): boolean {
    assertItem(item)
    let node = this.root
    while (!isLeaf(node)) node = node.kids[childIndex(node, item.ts, item.id, true)]
    const p = leafLowerBound(node, item.ts, item.id)
    return p < node.n && compareAt(node.ts[p], node.ids, p * ID_BYTES, item.ts, item.id) === 0
  }

  /** The path from the root to the leaf where `item` is or would go, and its position there. */
  private descend (item: ReconItem): { path: Inner[], idx: number[], leaf: Leaf, p: number, found: boolean } {
    assertItem(item)
    const { ts, id } = item
    const path: Inner[] = []
    const idx: number[] = []
    let node = this.root
    while (!isLeaf(node)) {
      const i = childIndex(node, ts, id, true)
      path.push(node)
      idx.push(i)
      node = node.kids[i]
    }
    const p = leafLowerBound(node, ts, id)
    return { path, idx, leaf: node, p, found: p < node.n && compareAt(node.ts[p], node.ids, p * ID_BYTES, ts, id) === 0 }
  }

  /** Adds the item; false when it was already there. O(log n). */
  insert (item: ReconItem): boolean {
    const { ts, id } = item
    const { path, idx, leaf, p, found } = this.descend(item)
    if (found) return false

    const words = idWords(id)
    for (let k = 0; k < path.length; k++) {
      path[k].counts[idx[k]] += 1
      sumAddInto(path[k].sums, idx[k] * LIMBS, words, 0, 1)
    }
    this.n++
    sumAddInto(this.total, 0, words, 0, 1)

    if (leaf.n < LEAF_CAP) {
      leafInsertAt(leaf, p, ts, id)
      return true
    }
    const appending = p === leaf.n && this.rightmost(path, idx, path.length)
    if (!appending && path.length > 0 && this.shareWithSibling(path[path.length - 1], idx[idx.length - 1], leaf, p, ts, id)) return true
    const right = new Leaf()
    if (appending) {
      leafInsertAt(right, 0, ts, id)
    } else {
      const h = LEAF_CAP >> 1
      moveItems(leaf, h, right)
      if (p <= h) leafInsertAt(leaf, p, ts, id)
      else leafInsertAt(right, p - h, ts, id)
    }
    this.addSibling(path, idx, path.length - 1, leaf, right)
    return true
  }

  /** Removes the item; false when it was not there. O(log n). */
  delete (item: ReconItem): boolean {
    const { id } = item
    const { path, idx, leaf, p, found } = this.descend(item)
    if (!found) return false
    leafRemoveAt(leaf, p)
    const words = idWords(id)
    for (let k = 0; k < path.length; k++) {
      path[k].counts[idx[k]] -= 1
      sumAddInto(path[k].sums, idx[k] * LIMBS, words, 0, -1)
    }
    this.n--
    sumAddInto(this.total, 0, words, 0, -1)

    let child: Node = leaf
    for (let level = path.length - 1; level >= 0; level--) {
      const parent = path[level]
      const i = idx[level]
      const leafChild = isLeaf(child)
      if (child.n >= (leafChild ? LEAF_MIN : INNER_MIN) || parent.n < 2) break
      const li = i > 0 ? i - 1 : i
      const left = parent.kids[li]
      const right = parent.kids[li + 1]
      if (left.n + right.n > (leafChild ? LEAF_CAP : INNER_CAP)) break
      if (isLeaf(left)) {
        moveItems(right as Leaf, 0, left)
      } else {
        const r = right as Inner
        // the right node's first separator lives in the parent, not in the node
        r.keyTs[0] = parent.keyTs[li + 1]
        r.keyIds.set(parent.keyIds.subarray((li + 1) * ID_BYTES, (li + 2) * ID_BYTES), 0)
        moveEntries(r, 0, left)
      }
      parent.counts[li] += parent.counts[li + 1]
      sumAddInto(parent.sums, li * LIMBS, parent.sums, (li + 1) * LIMBS, 1)
      removeEntry(parent, li + 1)
      child = parent
    }
    while (!isLeaf(this.root) && this.root.n === 1) this.root = this.root.kids[0]
    return true
  }

  count (lo: Bound, hi: Bound): number {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    if (compareBounds(lo, hi) >= 0) return 0
    return this.rank(hi) - this.rank(lo)
  }

  summary (lo: Bound, hi: Bound): RangeSummary {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    const acc = newAcc()
    if (compareBounds(lo, hi) < 0) {
      this.prefixInto(hi, acc, 1)
      this.prefixInto(lo, acc, -1)
    }
    return summaryOf(acc)
  }

  fingerprint (lo: Bound, hi: Bound): Uint8Array {
    return fingerprintOf(this.summary(lo, hi))
  }

  items (lo: Bound, hi: Bound, limit = Number.POSITIVE_INFINITY): ReconItem[] {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    const out: ReconItem[] = []
    if (!(limit > 0) || compareBounds(lo, hi) >= 0) return out
    const path: Inner[] = []
    const idx: number[] = []
    let node = this.root
    while (!isLeaf(node)) {
      const i = childIndex(node, lo.ts, lo.id, false)
      path.push(node)
      idx.push(i)
      node = node.kids[i]
    }
    let leaf: Leaf = node
    let p = leafLowerBound(leaf, lo.ts, lo.id)
    while (true) {
      for (; p < leaf.n; p++) {
        if (compareAt(leaf.ts[p], leaf.ids, p * ID_BYTES, hi.ts, hi.id) >= 0) return out
        out.push({ ts: leaf.ts[p], id: leaf.ids.slice(p * ID_BYTES, (p + 1) * ID_BYTES) })
        if (out.length >= limit) return out
      }
      let level = path.length - 1
      while (level >= 0 && idx[level] + 1 >= path[level].n) level--
      if (level < 0) return out
      idx[level]++
      path.length = level + 1
      idx.length = level + 1
      let next = path[level].kids[idx[level]]
      while (!isLeaf(next)) {
        path.push(next)
        idx.push(0)
        next = next.kids[0]
      }
      leaf = next
      p = 0
    }
  }

  splitPoints (lo: Bound, hi: Bound, parts: number): Bound[] {
    assertBound(lo, 'lo')
    assertBound(hi, 'hi')
    if (compareBounds(lo, hi) >= 0) return []
    const r0 = this.rank(lo)
    const c = this.rank(hi) - r0
    const k = Math.min(Math.floor(parts), c)
    const out: Bound[] = []
    for (let j = 1; j < k; j++) out.push(this.separatorBefore(r0 + Math.floor(j * c / k)))
    return out
  }

  /** All items in order; for tests and debugging, O(n) memory. */
  toArray (): ReconItem[] {
    return this.items({ ts: 0, id: new Uint8Array(0) }, MAX_BOUND)
  }

  /** Number of items strictly below b. */
  rank (b: Bound): number {
    if (b.ts === Number.POSITIVE_INFINITY) return this.n
    let r = 0
    let node = this.root
    while (!isLeaf(node)) {
      const j = childIndex(node, b.ts, b.id, false)
      for (let i = 0; i < j; i++) r += node.counts[i]
      node = node.kids[j]
    }
    return r + leafLowerBound(node, b.ts, b.id)
  }

  /** acc += sign * (count, sum) of the items strictly below b. */
  private prefixInto (b: Bound, acc: Float64Array, sign: number): void {
    if (b.ts === Number.POSITIVE_INFINITY) {
      accAddSum(acc, this.n, this.total, 0, sign)
      return
    }
    // Adds either the children left of the path or the node total minus those right of it,
    // whichever is fewer, so a descent costs at most half a node's entries per level.
    let node = this.root
    let tCount = this.n
    let tSums = this.total
    let tOff = 0
    while (!isLeaf(node)) {
      const j = childIndex(node, b.ts, b.id, false)
      if (j <= node.n >> 1) {
        for (let i = 0; i < j; i++) accAddSum(acc, node.counts[i], node.sums, i * LIMBS, sign)
      } else {
        accAddSum(acc, tCount, tSums, tOff, sign)
        for (let i = j; i < node.n; i++) accAddSum(acc, node.counts[i], node.sums, i * LIMBS, -sign)
      }
      tCount = node.counts[j]
      tSums = node.sums
      tOff = j * LIMBS
      node = node.kids[j]
    }
    const p = leafLowerBound(node, b.ts, b.id)
    if (p <= node.n >> 1) {
      accAddIds(acc, node.ids, node.words, 0, p, sign)
    } else {
      accAddSum(acc, tCount, tSums, tOff, sign)
      accAddIds(acc, node.ids, node.words, p, node.n, -sign)
    }
  }

  private select (r: number): { leaf: Leaf, i: number } {
    let node = this.root
    while (!isLeaf(node)) {
      let i = 0
      while (i < node.n - 1 && r >= node.counts[i]) r -= node.counts[i++]
      node = node.kids[i]
    }
    return { leaf: node, i: r }
  }

  /** The shortest bound between item r-1 and item r (0 < r < n). */
  private separatorBefore (r: number): Bound {
    const cur = this.select(r)
    const prev = cur.i > 0 ? { leaf: cur.leaf, i: cur.i - 1 } : this.select(r - 1)
    return separatorAt(
      prev.leaf.ts[prev.i], prev.leaf.ids, prev.i * ID_BYTES,
      cur.leaf.ts[cur.i], cur.leaf.ids, cur.i * ID_BYTES
    )
  }

  /**
   * A full leaf first tries to hand part of its items to a sibling with room (as in a B*-tree):
   * random inserts then leave leaves about 80% full instead of 70%, which is most of what keeps
   * an index grown by inserts near the memory of a bulk-loaded one.
   */
  private shareWithSibling (parent: Inner, i: number, leaf: Leaf, p: number, ts: number, id: Uint8Array): boolean {
    const left = i > 0 ? parent.kids[i - 1] as Leaf : null
    const right = i + 1 < parent.n ? parent.kids[i + 1] as Leaf : null
    const useRight = right != null && (left == null || right.n <= left.n)
    const sib = useRight ? right : left
    if (sib == null || sib.n > LEAF_CAP - 16) return false
    const m = (LEAF_CAP - sib.n) >> 1
    if (useRight) {
      sib.ts.copyWithin(m, 0, sib.n)
      sib.ids.copyWithin(m * ID_BYTES, 0, sib.n * ID_BYTES)
      sib.ts.set(leaf.ts.subarray(leaf.n - m, leaf.n), 0)
      sib.ids.set(leaf.ids.subarray((leaf.n - m) * ID_BYTES, leaf.n * ID_BYTES), 0)
      sib.n += m
      leaf.n -= m
      if (p <= leaf.n) leafInsertAt(leaf, p, ts, id)
      else leafInsertAt(sib, p - leaf.n, ts, id)
      setEntry(parent, i, leaf)
      setEntry(parent, i + 1, sib)
    } else {
      sib.ts.set(leaf.ts.subarray(0, m), sib.n)
      sib.ids.set(leaf.ids.subarray(0, m * ID_BYTES), sib.n * ID_BYTES)
      sib.n += m
      leaf.ts.copyWithin(0, m, leaf.n)
      leaf.ids.copyWithin(0, m * ID_BYTES, leaf.n * ID_BYTES)
      leaf.n -= m
      if (p < m) leafInsertAt(sib, sib.n - m + p, ts, id)
      else leafInsertAt(leaf, p - m, ts, id)
      setEntry(parent, i - 1, sib)
      setEntry(parent, i, leaf)
    }
    return true
  }

  private rightmost (path: Inner[], idx: number[], depth: number): boolean {
    for (let k = 0; k < depth; k++) if (idx[k] !== path[k].n - 1) return false
    return true
  }

  /** `right` was split off `left` (child idx[level] of path[level]); hook it in, split upwards. */
  private addSibling (path: Inner[], idx: number[], level: number, left: Node, right: Node): void {
    if (level < 0) {
      const root = new Inner()
      setEntry(root, 0, left)
      setEntry(root, 1, right)
      root.n = 2
      this.root = root
      return
    }
    const parent = path[level]
    const i = idx[level]
    setEntry(parent, i, left)
    shiftEntries(parent, i + 1, 1)
    parent.kids.splice(i + 1, 0, right)
    parent.n++
    setEntry(parent, i + 1, right)
    if (parent.n <= INNER_CAP) return
    const sibling = new Inner()
    const appended = i + 1 === parent.n - 1 && this.rightmost(path, idx, level)
    moveEntries(parent, appended ? parent.n - 1 : parent.n >> 1, sibling)
    this.addSibling(path, idx, level - 1, parent, sibling)
  }
}
