/**
 * Aho-Corasick automaton: finds every stored pattern occurring in a text in one pass over the
 * text, however many patterns there are. A substring warninglist with thousands of entries would
 * otherwise cost thousands of `includes` calls per observable.
 */
export class AhoCorasick {
  private readonly next: Array<Map<number, number>> = [new Map()]
  private fail: Int32Array = new Int32Array(0)
  // Patterns ending at a node, and the nearest node on the fail chain that ends one (-1: none).
  private readonly out: number[][] = [[]]
  private outLink: Int32Array = new Int32Array(0)
  private readonly patterns: string[] = []
  private built = false

  get size (): number {
    return this.patterns.length
  }

  add (pattern: string): number {
    if (this.built) throw new Error('AhoCorasick: add after build')
    const id = this.patterns.length
    this.patterns.push(pattern)
    let node = 0
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charCodeAt(i)
      let n = this.next[node].get(c)
      if (n == null) {
        n = this.next.length
        this.next.push(new Map())
        this.out.push([])
        this.next[node].set(c, n)
      }
      node = n
    }
    this.out[node].push(id)
    return id
  }

  build (): void {
    const n = this.next.length
    this.fail = new Int32Array(n)
    this.outLink = new Int32Array(n).fill(-1)
    const queue: number[] = []
    for (const child of this.next[0].values()) queue.push(child)
    for (let qi = 0; qi < queue.length; qi++) {
      const node = queue[qi]
      for (const [c, child] of this.next[node]) {
        let f = this.fail[node]
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f]
        const target = this.next[f].get(c)
        this.fail[child] = target != null && target !== child ? target : 0
        const fc = this.fail[child]
        this.outLink[child] = this.out[fc].length > 0 ? fc : this.outLink[fc]
        queue.push(child)
      }
    }
    this.built = true
  }

  /** Appends the id of every pattern occurring in `text` to `out`, once per occurrence. */
  searchInto (text: string, out: number[]): void {
    if (!this.built) this.build()
    let node = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      let n = this.next[node].get(c)
      while (n == null && node !== 0) {
        node = this.fail[node]
        n = this.next[node].get(c)
      }
      node = n ?? 0
      for (let o = node; o > 0; o = this.outLink[o]) {
        const ids = this.out[o]
        for (let j = 0; j < ids.length; j++) out.push(ids[j])
      }
    }
  }

  pattern (id: number): string {
    return this.patterns[id]
  }
}
