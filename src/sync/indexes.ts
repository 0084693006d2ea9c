import { amberScope } from '../record/index.js'
import { digestOf, idOfDigest } from '../replication/index.js'
import { PURGED, type Store } from '../store/index.js'
import { readSnapshot, writeSnapshot } from '../util/snapshot.js'
import { ReconIndex, type ReconItem, type ReconView } from './recon/index.js'
import { UnionView } from './union-view.js'

export { digestOf, idOfDigest }

/** Growable (ts, id) columns for bulk loading. */
class Columns {
  private ts = new Float64Array(1024)
  private ids = Buffer.alloc(1024 * 32)
  n = 0

  /** Appends ts and the 64 hex characters of `key` from `at` (a sync key's id, past its 1220 prefix). */
  push (ts: number, key: string, at: number): void {
    if (this.n === this.ts.length) {
      const ts2 = new Float64Array(this.ts.length * 2)
      ts2.set(this.ts)
      this.ts = ts2
      const ids2 = Buffer.alloc(this.ids.length * 2)
      this.ids.copy(ids2)
      this.ids = ids2
    }
    this.ts[this.n] = ts
    this.ids.write(key.slice(at, at + 64), this.n * 32, 32, 'hex')
    this.n++
  }

  columns (): { ts: Float64Array, ids: Uint8Array } {
    return { ts: this.ts.subarray(0, this.n), ids: new Uint8Array(this.ids.buffer, this.ids.byteOffset, this.n * 32) }
  }
}

/** Declined ids are asked for again after this long by default (the peer's policy may have changed). */
export const DEFAULT_DECLINED_TTL_MS = 24 * 3600_000

/** Where a store's sync index snapshot lives (saved on a clean stop). */
export function syncSnapshotFile (store: Pick<Store, 'dir'>): string {
  return `${store.dir}.sync.snap`
}

export interface LoadedSyncIndexes {
  indexes: SyncIndexes
  loaded: { records: number, known: number, expired: number, snapshot: boolean }
  /** the store's generation once loaded: valid for a sync service started before it changes */
  generation: number
}

/**
 * Below this many sync keys read, the pages a scan maps are a few MB: not worth reopening
 * LevelDB for (a simulation starts hundreds of small nodes).
 */
const REOPEN_AFTER_KEYS = 50_000

/**
 * Loads the sync indexes before anything else uses the store (a node's first step in `start`).
 * Without a snapshot that means reading every sync key, after which the store is reopened so
 * the table pages that scan mapped leave this process (Store.releaseMappedTables).
 */
export async function preloadSyncIndexes (store: Store, opts: { declinedTtlMs?: number, reopenAfterKeys?: number } = {}): Promise<LoadedSyncIndexes> {
  const indexes = new SyncIndexes()
  const loaded = await indexes.load(store, { declinedTtlMs: opts.declinedTtlMs ?? DEFAULT_DECLINED_TTL_MS, snapshotFile: syncSnapshotFile(store) })
  if (!loaded.snapshot && loaded.records + loaded.known >= (opts.reopenAfterKeys ?? REOPEN_AFTER_KEYS)) await store.releaseMappedTables()
  return { indexes, loaded, generation: store.counts().generation }
}

/**
 * Scopes two members reconcile: what both may hold. Amber travels only author → recipient, so
 * of the amber scopes only those where one side is the author and the other a recipient are
 * shared (addressed to the other side, or to every roster peer). Amber addressed to anyone else
 * is in none of them: a non-recipient never sees its id, timestamp or count.
 */
export function scopesBetween (self: string, peer: string): string[] {
  return ['clear', 'green', amberScope(self, peer), amberScope(self, '*'), amberScope(peer, self), amberScope(peer, '*')]
}

/**
 * What reconciliation compares, kept current as records are stored so an in-sync check costs
 * a few index lookups, never a scan:
 *  - per scope, one index of the records held plus the ids this node rejected (known, `*`);
 *  - per peer and scope, the ids that peer declined to hand over (known for that peer only).
 * The two are kept disjoint: storing a record takes its id out of every declined set.
 */
export class SyncIndexes {
  private readonly main = new Map<string, ReconIndex>()
  private readonly declined = new Map<string, Map<string, ReconIndex>>()
  /** when each declined id was learned (`peer|id` → ms), for expiry and to answer for it */
  private readonly declinedAt = new Map<string, { at: number, scope: string, ts: number }>()
  /** ids this node rejected (id → scopes, ts): counted as held, but there is no record to send */
  private readonly rejected = new Map<string, { scopes: string[], ts: number }>()
  /** of those, the ids this node purged: no policy change brings them back, so they are never cleared */
  private readonly purged = new Set<string>()

  /** Forgets everything (before loading again). */
  reset (): this {
    this.main.clear()
    this.declined.clear()
    this.declinedAt.clear()
    this.rejected.clear()
    this.purged.clear()
    return this
  }

  scopeIndex (scope: string): ReconIndex {
    let idx = this.main.get(scope)
    if (idx == null) {
      idx = new ReconIndex()
      this.main.set(scope, idx)
    }
    return idx
  }

  private declinedIndex (peer: string, scope: string): ReconIndex {
    let byScope = this.declined.get(peer)
    if (byScope == null) {
      byScope = new Map()
      this.declined.set(peer, byScope)
    }
    let idx = byScope.get(scope)
    if (idx == null) {
      idx = new ReconIndex()
      byScope.set(scope, idx)
    }
    return idx
  }

  /** The scope indexes and rejections as of a clean stop, for the next start (see loadSnapshot). */
  async saveSnapshot (file: string, generation: number): Promise<void> {
    const scopes: Array<{ scope: string, count: number }> = []
    const blobs: Uint8Array[] = []
    for (const [scope, idx] of this.main) {
      const cols = idx.toColumnar()
      scopes.push({ scope, count: cols.ts.length })
      blobs.push(new Uint8Array(cols.ts.buffer), cols.ids)
    }
    const rejected = [...this.rejected].map(([id, r]) => [id, r.scopes, r.ts])
    await writeSnapshot(file, { kind: 'sync', generation, scopes, rejected }, blobs)
  }

  /**
   * Loads the scope indexes saved by the last clean stop when the store has not changed since
   * (same generation): a million keys need not be read again (seconds, and hundreds of MB of
   * LevelDB's mapped files made resident).
   */
  private async loadSnapshot (file: string, generation: number): Promise<number | null> {
    const snap = await readSnapshot(file)
    if (snap == null || snap.header.kind !== 'sync' || snap.header.generation !== generation) return null
    let records = 0
    const scopes = snap.header.scopes as Array<{ scope: string, count: number }>
    scopes.forEach((s, i) => {
      const tsBlob = snap.blobs[2 * i]
      const ts = new Float64Array(tsBlob.buffer, tsBlob.byteOffset, s.count)
      this.scopeIndex(s.scope).bulkLoad({ ts, ids: snap.blobs[2 * i + 1] })
      records += s.count
    })
    for (const [id, scopes, ts] of snap.header.rejected as Array<[string, string[], number]>) this.rejected.set(id, { scopes: Array.isArray(scopes) ? scopes : [scopes], ts })
    let rejectedEntries = 0
    for (const r of this.rejected.values()) rejectedEntries += r.scopes.length
    return records - rejectedEntries
  }

  /** Rebuilds everything from the store's sync and known keyspaces (bulk-loaded, sorted already), or from a snapshot. */
  async load (store: Store, opts: { declinedTtlMs: number, now?: number, snapshotFile?: string }): Promise<{ records: number, known: number, expired: number, snapshot: boolean }> {
    const now = opts.now ?? Date.now()
    const fromSnapshot = opts.snapshotFile != null ? await this.loadSnapshot(opts.snapshotFile, store.counts().generation).catch(() => null) : null
    // Columns filled in place (hex decoded straight into one buffer per scope): a million small
    // buffers would raise the process's memory high-water mark for good.
    const perScope = new Map<string, Columns>()
    let records = fromSnapshot ?? 0
    if (fromSnapshot == null) {
      for await (const page of store.scanKeys('sync')) {
        for (const k of page) {
          const a = k.indexOf('!')
          const b = k.indexOf('!', a + 1)
          const scope = k.slice(0, a)
          let col = perScope.get(scope)
          if (col == null) { col = new Columns(); perScope.set(scope, col) }
          col.push(parseInt(k.slice(a + 1, b), 16), k, b + 5)
          records++
        }
      }
      // Keys sort by hex ts then hex id, which is exactly (ts, id) order.
      for (const [scope, col] of perScope) this.scopeIndex(scope).bulkLoad(col.columns())
    }
    let known = 0
    const expired: Array<{ peer: string, scope: string, ts: number, id: string }> = []
    for await (const k of store.knownEntries()) {
      if (k.peer === '*') {
        if (k.why === PURGED) this.purged.add(k.id)
        if (fromSnapshot == null) this.addRejected(k.scope, k.ts, k.id)
      } else if (now - k.at > opts.declinedTtlMs) {
        expired.push(k)
        continue
      } else {
        this.addDeclined(k.peer, k.scope, k.ts, k.id, k.at)
      }
      known++
    }
    await store.deleteKnown(expired)
    return { records, known, expired: expired.length, snapshot: fromSnapshot != null }
  }

  /** A stored record joins its scope and leaves every peer's declined set. */
  addRecord (scope: string, ts: number, id: string): void {
    const item: ReconItem = { ts, id: digestOf(id) }
    this.scopeIndex(scope).insert(item)
    for (const [peer, byScope] of this.declined) {
      if (byScope.get(scope)?.delete(item) === true) this.declinedAt.delete(`${peer}|${id}`)
    }
  }

  /** An id this node rejected: counted as held in that scope, in every peer's view. */
  addRejected (scope: string, ts: number, id: string): void {
    this.scopeIndex(scope).insert({ ts, id: digestOf(id) })
    const r = this.rejected.get(id)
    if (r == null) this.rejected.set(id, { scopes: [scope], ts })
    else if (!r.scopes.includes(scope)) r.scopes.push(scope)
  }

  /**
   * A record this node purged: it stays counted where it was (peers that hold it stay in
   * agreement, and never send it back), with no record to send; a peer missing it is told "declined".
   */
  addPurged (scope: string, ts: number, id: string): void {
    this.addRejected(scope, ts, id)
    this.purged.add(id)
  }

  /**
   * Where an id we count but do not hold lives, as presented to `peer`: one we rejected, or one
   * that peer declined to us. Undefined when we know nothing of it.
   */
  phantom (peer: string, id: string): { scopes: string[], ts: number } | undefined {
    const r = this.rejected.get(id)
    if (r != null) return r
    const d = this.declinedAt.get(`${peer}|${id}`)
    return d == null ? undefined : { scopes: [d.scope], ts: d.ts }
  }

  /** Forgets every rejection (after a policy change the records may be acceptable now). */
  clearRejected (): Array<{ peer: string, scope: string, ts: number, id: string }> {
    const out: Array<{ peer: string, scope: string, ts: number, id: string }> = []
    for (const [id, r] of this.rejected) {
      if (this.purged.has(id)) continue
      for (const scope of r.scopes) {
        this.scopeIndex(scope).delete({ ts: r.ts, id: digestOf(id) })
        out.push({ peer: '*', scope, ts: r.ts, id })
      }
    }
    for (const id of [...this.rejected.keys()]) if (!this.purged.has(id)) this.rejected.delete(id)
    return out
  }

  /** An id `peer` declined to give us; ignored if we hold the record already. */
  addDeclined (peer: string, scope: string, ts: number, id: string, at = Date.now()): boolean {
    const item: ReconItem = { ts, id: digestOf(id) }
    if (this.scopeIndex(scope).has(item)) return false
    const added = this.declinedIndex(peer, scope).insert(item)
    if (added) this.declinedAt.set(`${peer}|${id}`, { at, scope, ts })
    return added
  }

  /** Declined entries older than the TTL are dropped, so a peer whose policy changed is asked again. */
  expireDeclined (ttlMs: number, now = Date.now()): Array<{ peer: string, scope: string, ts: number, id: string }> {
    const out: Array<{ peer: string, scope: string, ts: number, id: string }> = []
    for (const [k, v] of this.declinedAt) {
      if (now - v.at <= ttlMs) continue
      const [peer, id] = k.split('|')
      this.declined.get(peer)?.get(v.scope)?.delete({ ts: v.ts, id: digestOf(id) })
      this.declinedAt.delete(k)
      out.push({ peer, scope: v.scope, ts: v.ts, id })
    }
    return out
  }

  /** The set this node presents to `peer` for one scope. */
  view (scope: string, peer: string): ReconView {
    const main = this.scopeIndex(scope)
    const extra = this.declined.get(peer)?.get(scope)
    return extra != null && extra.size > 0 ? new UnionView([main, extra]) : main
  }

  /** Whether `id` is in this node's replica index for the scope (held or rejected). */
  holdsOrRejected (scope: string, ts: number, id: string): boolean {
    return this.scopeIndex(scope).has({ ts, id: digestOf(id) })
  }

  size (scope: string): number {
    return this.main.get(scope)?.size ?? 0
  }

  declinedCount (peer: string): number {
    let n = 0
    for (const idx of this.declined.get(peer)?.values() ?? []) n += idx.size
    return n
  }
}
