/** mulberry32: a small seeded PRNG, so a simulation is the same run given the same seed. */
export class Rng {
  private state: number

  constructor (seed: number | string) {
    let s = typeof seed === 'number' ? seed >>> 0 : 0
    if (typeof seed === 'string') for (let i = 0; i < seed.length; i++) s = (Math.imul(s ^ seed.charCodeAt(i), 2654435761) >>> 0)
    this.state = s === 0 ? 0x9e3779b9 : s
  }

  next (): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[items[i], items[j]] = [items[j], items[i]]
    }
    return items
  }
}
