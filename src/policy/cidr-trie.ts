/**
 * Binary trie over address bits, used for IPv6 networks (IPv4 ones go to the denser
 * `Ipv4Ranges`). Nodes live in typed arrays (two child slots and a terminal slot per node)
 * rather than objects, so even a few thousand /128 entries cost little memory and no pointer
 * chasing through objects. A lookup walks at most 128 bits and reports every stored prefix on
 * the path.
 */
export class CidrTrie<T> {
  private child: Int32Array
  private term: Int32Array
  private nodes = 1
  private readonly payloads: T[][] = []
  readonly maxBits: number
  private count = 0

  constructor (maxBits: 32 | 128, initialNodes = 1024) {
    this.maxBits = maxBits
    this.child = new Int32Array(initialNodes * 2)
    this.term = new Int32Array(initialNodes).fill(-1)
  }

  get size (): number {
    return this.count
  }

  get nodeCount (): number {
    return this.nodes
  }

  private grow (): void {
    const child = new Int32Array(this.child.length * 2)
    child.set(this.child)
    const term = new Int32Array(this.term.length * 2).fill(-1)
    term.set(this.term)
    this.child = child
    this.term = term
  }

  /** Stores `payload` under the first `prefix` bits of `bytes` (host bits are ignored). */
  insert (bytes: Uint8Array, prefix: number, payload: T): void {
    let node = 0
    for (let i = 0; i < prefix; i++) {
      const bit = (bytes[i >> 3] >> (7 - (i & 7))) & 1
      const slot = node * 2 + bit
      let next = this.child[slot]
      if (next === 0) {
        if (this.nodes >= this.term.length) this.grow()
        next = this.nodes++
        this.child[slot] = next
      }
      node = next
    }
    let t = this.term[node]
    if (t < 0) {
      t = this.payloads.length
      this.payloads.push([])
      this.term[node] = t
    }
    this.payloads[t].push(payload)
    this.count++
  }

  /**
   * Appends to `out` every payload stored under a prefix of the first `bits` bits of `bytes`,
   * shortest prefix first. `bits` below the maximum looks up a network: only stored networks that
   * contain all of it are reported. (An output array rather than a callback: lookups are hot, and
   * a closure per lookup costs more than the walk.)
   */
  lookup (bytes: Uint8Array, bits: number, out: T[]): void {
    let node = 0
    for (let i = 0; ; i++) {
      const t = this.term[node]
      if (t >= 0) {
        const ps = this.payloads[t]
        for (let j = 0; j < ps.length; j++) out.push(ps[j])
      }
      if (i >= bits) return
      node = this.child[node * 2 + ((bytes[i >> 3] >> (7 - (i & 7))) & 1)]
      if (node === 0) return
    }
  }
}
