import { IdBloom, StringBloom } from './bloom.js'
import { LruMap } from '../util/lru.js'

/*
 * "Was this id purged here?" is asked for every record that arrives, and tombstones are never
 * dropped, so the answer cannot come from a set of every purged id held in memory. A Bloom
 * filter (about 1.2 bytes per tombstone) answers the usual "no" at once; a "maybe" is confirmed
 * on disk, and recent confirmations are kept in a small LRU.
 */

/** Confirmed answers kept (ids and STIX ids each); a miss costs one LevelDB read. */
const ANSWERS = 4096

export interface TombstoneLookup {
  /** which of these record ids have a tombstone on disk */
  ids: (ids: string[]) => Promise<boolean[]>
  /** whether a record of this STIX object has a tombstone on disk */
  stixId: (stixId: string) => Promise<boolean>
}

export class TombstoneIndex {
  private readonly ids = new IdBloom(1024)
  private readonly stixIds = new StringBloom(new IdBloom(1024))
  private readonly idAnswers = new LruMap<string, boolean>(ANSWERS)
  private readonly stixAnswers = new LruMap<string, boolean>(ANSWERS)
  private readonly lookup: TombstoneLookup
  private n = 0

  constructor (lookup: TombstoneLookup) {
    this.lookup = lookup
  }

  /** Tombstones held (this store's, since it was made). */
  get count (): number {
    return this.n
  }

  /** A tombstone now on disk (at open, or just written). */
  note (t: { id: string, stixId?: string }, fresh: boolean): void {
    this.ids.add(t.id)
    this.n++
    if (fresh) this.idAnswers.set(t.id, true)
    if (t.stixId == null) return
    this.stixIds.add(t.stixId)
    if (fresh) this.stixAnswers.set(t.stixId, true)
  }

  async has (ids: string[]): Promise<boolean[]> {
    const out = ids.map(() => false)
    const ask: number[] = []
    ids.forEach((id, i) => {
      if (!this.ids.mightHave(id)) return
      const known = this.idAnswers.get(id)
      if (known != null) out[i] = known
      else ask.push(i)
    })
    if (ask.length === 0) return out
    const found = await this.lookup.ids(ask.map(i => ids[i]))
    ask.forEach((i, j) => {
      out[i] = found[j]
      this.idAnswers.set(ids[i], found[j])
    })
    return out
  }

  async hasStixId (stixId: string): Promise<boolean> {
    if (!this.stixIds.mightHave(stixId)) return false
    const known = this.stixAnswers.get(stixId)
    if (known != null) return known
    const found = await this.lookup.stixId(stixId)
    this.stixAnswers.set(stixId, found)
    return found
  }
}
