/** A set that forgets its oldest members beyond `capacity` (Map keeps insertion order). */
export class LruSet<T> {
  private readonly items = new Map<T, true>()
  readonly capacity: number

  constructor (capacity: number) {
    this.capacity = capacity
  }

  add (item: T): void {
    if (this.items.has(item)) this.items.delete(item)
    this.items.set(item, true)
    if (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as T)
  }

  has (item: T): boolean {
    return this.items.has(item)
  }

  delete (item: T): void {
    this.items.delete(item)
  }

  get size (): number {
    return this.items.size
  }
}

/** A map with the same eviction rule. */
export class LruMap<K, V> {
  private readonly items = new Map<K, V>()
  readonly capacity: number

  constructor (capacity: number) {
    this.capacity = capacity
  }

  set (k: K, v: V): void {
    if (this.items.has(k)) this.items.delete(k)
    this.items.set(k, v)
    if (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as K)
  }

  get (k: K): V | undefined {
    return this.items.get(k)
  }

  has (k: K): boolean {
    return this.items.has(k)
  }

  delete (k: K): void {
    this.items.delete(k)
  }

  get size (): number {
    return this.items.size
  }
}
