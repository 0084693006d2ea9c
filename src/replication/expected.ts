import type { ReplicationSource } from './edge.js'

/*
 * Ids a replication path on this node expects to arrive soon: gossip, for ids announced to it
 * (IHAVE) whose record is on its way down the tree or was asked for (GRAFT); sync, for ids a
 * session asked for (WANT). The other path leaves them alone until the expectation lapses, so
 * one record is fetched along one path at a time instead of crossing the edge twice and being
 * verified twice. An expectation always ends (its deadline), so a path that fails to deliver
 * only delays the other, never starves it. Bounded: the oldest expectations are forgotten
 * first, and a forgotten one only costs a redundant copy.
 */
export class ExpectedIds {
  private readonly items = new Map<string, { by: ReplicationSource, until: number }>()

  constructor (private readonly capacity = 100_000, private readonly clock: () => number = Date.now) {}

  /** `by` expects `id` until `until` (ms, same clock); a later deadline replaces an earlier one. */
  expect (id: string, by: ReplicationSource, until: number): void {
    this.items.delete(id)
    this.items.set(id, { by, until })
    if (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as string)
  }

  /** The path that expects `id` right now, if any. */
  expectedBy (id: string): ReplicationSource | undefined {
    const e = this.items.get(id)
    if (e == null) return undefined
    if (e.until > this.clock()) return e.by
    this.items.delete(id)
    return undefined
  }

  /** Ends `by`'s expectation of `id` (it arrived, or `by` gave up); another path's stays. */
  settle (id: string, by?: ReplicationSource): void {
    const e = this.items.get(id)
    if (e != null && (by == null || e.by === by)) this.items.delete(id)
  }

  get size (): number {
    return this.items.size
  }
}
