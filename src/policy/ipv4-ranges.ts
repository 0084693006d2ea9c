/**
 * IPv4 networks as a sorted table of boundaries, searched by bisection. CIDR blocks are either
 * nested or disjoint, so the address space splits into runs that each have one innermost block;
 * a run's block links to the block around it. With the 60,000-odd host entries of the public
 * resolver list this is two flat arrays of about half a megabyte, where a bit-per-level trie
 * needs 770,000 nodes (9 MB): lookups then stay in cache instead of chasing cold nodes.
 */
export class Ipv4Ranges<T> {
  private pending: Array<{ start: number, prefix: number, payload: T }> | null = []
  private starts = new Uint32Array(0)
  private innermost = new Int32Array(0)
  private blockPrefix = new Uint8Array(0)
  private blockParent = new Int32Array(0)
  private blockPayloads: T[][] = []
  private count = 0

  get size (): number {
    return this.count
  }

  /** Stores `payload` under the network of the first `prefix` bits of the 4-byte address. */
  insert (bytes: Uint8Array, prefix: number, payload: T): void {
    if (this.pending == null) throw new Error('Ipv4Ranges: insert after build')
    this.pending.push({ start: maskedStart(toUint32(bytes), prefix), prefix, payload })
    this.count++
  }

  /** Turns what was inserted into the lookup table (the first lookup does it otherwise); no inserts after. */
  build (): void {
    if (this.pending == null) return
    const items = this.pending.sort((a, b) => a.start - b.start || a.prefix - b.prefix)
    this.pending = null
    // One block per distinct network, outer blocks before the blocks they contain.
    const starts: number[] = []
    const prefixes: number[] = []
    const payloads: T[][] = []
    for (const it of items) {
      const last = starts.length - 1
      if (last >= 0 && starts[last] === it.start && prefixes[last] === it.prefix) payloads[last].push(it.payload)
      else {
        starts.push(it.start)
        prefixes.push(it.prefix)
        payloads.push([it.payload])
      }
    }
    const n = starts.length
    const ends = starts.map((s, i) => s + blockSize(prefixes[i]) - 1)
    const parent = new Int32Array(n).fill(-1)
    // Sweep: every block start and every first address after a block end is a boundary; the
    // block innermost there is the one opened last and not yet closed.
    const bStarts: number[] = []
    const bBlock: number[] = []
    const mark = (addr: number, block: number): void => {
      if (addr > 0xffffffff) return
      if (bStarts.length > 0 && bStarts[bStarts.length - 1] === addr) bBlock[bBlock.length - 1] = block
      else {
        bStarts.push(addr)
        bBlock.push(block)
      }
    }
    const open: number[] = []
    const closeUpTo = (addr: number): void => {
      while (open.length > 0 && ends[open[open.length - 1]] < addr) {
        const done = open.pop()!
        mark(ends[done] + 1, open.length > 0 ? open[open.length - 1] : -1)
      }
    }
    for (let i = 0; i < n; i++) {
      closeUpTo(starts[i])
      parent[i] = open.length > 0 ? open[open.length - 1] : -1
      mark(starts[i], i)
      open.push(i)
    }
    closeUpTo(Infinity)
    this.starts = Uint32Array.from(bStarts)
    this.innermost = Int32Array.from(bBlock)
    this.blockPrefix = Uint8Array.from(prefixes)
    this.blockParent = parent
    this.blockPayloads = payloads
  }

  /**
   * Appends to `out` every payload of a stored network that contains the first `bits` bits of
   * `bytes` (an address for 32, a network below that), shortest prefix first.
   */
  lookup (bytes: Uint8Array, bits: number, out: T[]): void {
    if (this.pending != null) this.build()
    const starts = this.starts
    if (starts.length === 0) return
    const addr = maskedStart(toUint32(bytes), bits)
    // Last boundary at or below addr.
    let lo = 0
    let hi = starts.length - 1
    if (starts[0] > addr) return
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (starts[mid] <= addr) lo = mid
      else hi = mid - 1
    }
    const first = out.length
    for (let b = this.innermost[lo]; b >= 0; b = this.blockParent[b]) {
      // A block holding the network's first address holds all of it when it is no longer.
      if (this.blockPrefix[b] > bits) continue
      const ps = this.blockPayloads[b]
      for (let j = ps.length - 1; j >= 0; j--) out.push(ps[j])
    }
    // Collected innermost first; callers want the outermost first.
    for (let i = first, j = out.length - 1; i < j; i++, j--) {
      const t = out[i]
      out[i] = out[j]
      out[j] = t
    }
  }
}

function toUint32 (b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0
}

function blockSize (prefix: number): number {
  return 2 ** (32 - prefix)
}

function maskedStart (addr: number, prefix: number): number {
  return prefix === 0 ? 0 : (addr & ~(blockSize(prefix) - 1)) >>> 0
}
