import { recordToJson } from '../record/index.js'
import { compareVersionNames } from '../stix/timestamp.js'
import type { Observable } from '../stix/types.js'
import type { RecordInfo, Store, VersionEntry } from './store.js'

/**
 * Which stored records of one STIX object are current: the owner's records of the newest
 * version the owner published, unless that version is revoked or an indicator past its
 * valid_until. Only the owner's records count: a copy by another member (kept by stores written
 * before such records were refused) can neither revoke nor supersede the object.
 */
export function currentIds (versions: VersionEntry[], owner: string | undefined, now: number): Set<string> {
  const out = new Set<string>()
  if (versions.length === 0) return out
  const own = owner != null ? versions.filter(v => v.author === owner) : versions
  const pool = own.length > 0 ? own : versions
  // By instant, not text: `…:00.500Z` is newer than `…:00Z`, and one instant written two ways is one version.
  let newest = pool[0].modified
  for (const v of pool) if (compareVersionNames(v.modified, newest) > 0) newest = v.modified
  const head = pool.filter(v => compareVersionNames(v.modified, newest) === 0)
  if (head.some(v => v.revoked)) return out
  for (const v of head) {
    if (v.validUntil != null && v.validUntil <= now) continue
    out.add(v.id)
  }
  return out
}

export async function isCurrent (store: Store, id: string, info: RecordInfo, now: number): Promise<boolean> {
  const [versions, owner] = await Promise.all([store.versions(info.stixId), store.owner(info.stixId)])
  return currentIds(versions, owner, now).has(id)
}

export interface LookupHit {
  id: string
  author: string
  tlp: string
  type: string
  stixId: string
  modified: string
  ts: number
  addedAt: number
  body: Record<string, unknown>
}

/** Every current record, any author, naming this observable (IPs also through CIDRs). */
export async function lookup (store: Store, o: Observable, now = Date.now()): Promise<LookupHit[]> {
  const ids = await store.lookupIds(o)
  const infos = await store.getManyInfo(ids)
  const currentByStix = new Map<string, Set<string>>()
  const hits: LookupHit[] = []
  for (let i = 0; i < ids.length; i++) {
    const info = infos[i]
    if (info == null) continue
    let current = currentByStix.get(info.stixId)
    if (current == null) {
      const [versions, owner] = await Promise.all([store.versions(info.stixId), store.owner(info.stixId)])
      current = currentIds(versions, owner, now)
      currentByStix.set(info.stixId, current)
    }
    if (!current.has(ids[i])) continue
    const rec = await store.getRecord(ids[i])
    if (rec == null) continue
    hits.push({ id: ids[i], author: info.author, tlp: info.tlp, type: info.type, stixId: info.stixId, modified: info.modified, ts: info.ts, addedAt: info.addedAt, body: rec.record.record.body })
  }
  hits.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1))
  return hits
}

/** A record as JSON for `get` and `GET /api/records/:id`: the signed fields plus local facts. */
export async function getRecordJson (store: Store, id: string, now = Date.now()): Promise<Record<string, unknown> | undefined> {
  const rec = await store.getRecord(id)
  if (rec == null) return undefined
  const out = recordToJson(rec.record)
  out.local = {
    arrival: rec.info.arrival,
    addedAt: new Date(rec.info.addedAt).toISOString(),
    source: rec.info.source,
    ...(rec.info.from != null ? { from: rec.info.from } : {}),
    current: await isCurrent(store, id, rec.info, now)
  }
  return out
}
