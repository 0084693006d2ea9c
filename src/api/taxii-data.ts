import type { Tlp } from '../record/index.js'
import { arrivalBefore, arrivalPage, type VersionIndex } from '../store/reads.js'
import type { RecordInfo, Store } from '../store/store.js'
import { taxiiTimestamp, timestampMicros, type TaxiiQuery, type VersionFilter } from './taxii-query.js'

/*
 * What a TAXII collection holds, read from the store: the records at its TLP, in local arrival
 * order (the order of date_added), with versions chosen per `match[version]`.
 */

export interface Hit {
  id: string
  arrival: number
  info: RecordInfo
  /** the envelope, when the scan read it along with the info */
  bytes?: Uint8Array
}

/** One stored record of an object within a collection, with its version. */
export interface Member {
  id: string
  arrival: number
  addedAt: number
  /** version in microseconds; -1 for objects that carry no modified/created (SCOs) */
  versionUs: number
  /** the version as the object writes it; for unversioned objects, its date_added */
  version: string
}

export function memberOf (id: string, arrival: number, info: RecordInfo): Member {
  if (info.modified === '') return { id, arrival, addedAt: info.addedAt, versionUs: -1, version: taxiiTimestamp(info.addedAt) }
  return { id, arrival, addedAt: info.addedAt, versionUs: timestampMicros(info.modified) ?? 0, version: info.modified }
}

/**
 * Every record of one STIX id in the collection at `tlp`, oldest arrival first. Copies of one
 * version by several members are all listed; selectMembers keeps the first of them.
 */
export async function collectionMembers (store: Store, stixId: string, tlp: Tlp): Promise<Member[]> {
  const versions = await store.versions(stixId)
  const infos = await store.getManyInfo(versions.map(v => v.id))
  const out: Member[] = []
  versions.forEach((v, i) => {
    const info = infos[i]
    if (info != null && info.tlp === tlp) out.push(memberOf(v.id, info.arrival, info))
  })
  return out.sort((a, b) => a.arrival - b.arrival)
}

/** One member per version (the first to arrive), oldest version first. */
export function representatives (members: Member[]): Member[] {
  const byVersion = new Map<number, Member>()
  for (const m of members) {
    const r = byVersion.get(m.versionUs)
    if (r == null || m.arrival < r.arrival) byVersion.set(m.versionUs, m)
  }
  return [...byVersion.values()].sort((a, b) => a.versionUs - b.versionUs || a.arrival - b.arrival)
}

function matchUs (m: Member): number {
  return m.versionUs >= 0 ? m.versionUs : m.addedAt * 1000
}

/** The records `match[version]` selects among one object's members. */
export function selectMembers (members: Member[], f: VersionFilter): Set<string> {
  const reps = representatives(members)
  const out = new Set<string>()
  if (reps.length === 0) return out
  if (f.all) for (const r of reps) out.add(r.id)
  if (f.first) out.add(reps[0].id)
  if (f.last) out.add(reps[reps.length - 1].id)
  if (f.at.size > 0) for (const r of reps) if (f.at.has(matchUs(r))) out.add(r.id)
  return out
}

export interface ScanResult {
  hits: Hit[]
  more: boolean
  /** arrival to continue after, when more */
  next?: number
}

export interface ScanInit {
  store: Store
  index: VersionIndex
  tlp: Tlp
  query: TaxiiQuery
  /** records read per LevelDB round */
  chunk?: number
  /** records examined per request at most; a sparse filter then returns a short page with `next` */
  budget?: number
  /** the caller will read the hits' envelopes (objects, not manifest) */
  wantBytes?: boolean
}

/**
 * The next page of a collection for the objects and manifest endpoints. Walks the arrival index
 * from the cursor (or from the first record added after `added_after`), keeps records at the
 * collection's TLP that pass the filters and the version selection, and reads one record past
 * the page to tell whether there is more.
 */
export async function scanCollection (init: ScanInit): Promise<ScanResult> {
  const { store, index, tlp, query } = init
  const chunk = init.chunk ?? Math.min(Math.max(query.limit + 1, 256), 2000)
  const budget = init.budget ?? 200_000
  const hits: Hit[] = []
  if (!query.specVersionOk) return { hits, more: false }
  let after = query.next?.position ?? 0
  // Records at or below this arrival were all added at or before added_after: skip them unread.
  if (query.addedAfterUs != null) after = Math.max(after, await arrivalBefore(store, Math.floor(query.addedAfterUs / 1000)))
  const selections = new Map<string, Set<string>>()
  const v = query.versions
  const singleOk = (info: RecordInfo): boolean => {
    if (v.all || v.first || v.last) return true
    if (v.at.size === 0) return false
    return v.at.has(info.modified === '' ? info.addedAt * 1000 : (timestampMicros(info.modified) ?? -2))
  }
  // When most records pass the filters (the collection holds most of the store, no id or type
  // filter), read envelopes together with infos: two LevelDB reads at once instead of one after
  // the other. With sparse filters the envelopes are read for the hits only.
  const counts = store.counts()
  const speculate = init.wantBytes === true && query.ids == null && query.types == null && counts.byTlp[tlp] * 2 >= counts.records
  let scanned = 0
  while (true) {
    const entries = await arrivalPage(store, after, chunk)
    if (entries.length === 0) return { hits, more: false }
    const ids = entries.map(e => e.id)
    const [infos, envelopes] = await Promise.all([store.getManyInfo(ids), speculate ? store.getManyBytes(ids) : undefined])
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]
      const info = infos[k]
      after = e.arrival
      if (info == null) continue
      if (info.tlp !== tlp) continue
      if (query.types != null && !query.types.has(info.type)) continue
      if (query.ids != null && !query.ids.has(info.stixId)) continue
      if (query.addedAfterUs != null && info.addedAt * 1000 <= query.addedAfterUs) continue
      let selected: boolean
      if (!index.maybeSeveral(info.stixId)) {
        selected = singleOk(info)
      } else {
        let sel = selections.get(info.stixId)
        if (sel == null) {
          sel = selectMembers(await collectionMembers(store, info.stixId, tlp), v)
          selections.set(info.stixId, sel)
        }
        selected = sel.has(e.id)
      }
      if (!selected) continue
      if (hits.length === query.limit) return { hits, more: true, next: hits[hits.length - 1].arrival }
      const hit: Hit = { id: e.id, arrival: e.arrival, info }
      const b = envelopes?.[k]
      if (b != null) hit.bytes = b
      hits.push(hit)
    }
    scanned += entries.length
    if (scanned >= budget) return { hits, more: true, next: after }
  }
}
