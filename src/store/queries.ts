import { createHash } from 'node:crypto'
import { DragnetError } from '../errors.js'
import { recordToJson, type Tlp } from '../record/index.js'
import { analyzeStixObject } from '../stix/index.js'
import { compareVersionNames } from '../stix/timestamp.js'
import type { Observable } from '../stix/types.js'
import { mergeOpinions, type FeedbackSummary, type TlpShare } from './feedback.js'
import type { LookupSummary } from './summary.js'
import { indexKeysOf, lookupPlan, phaseOf, type IndexEntry, type IndexRange, type RecordInfo, type ScanPosition, type Store, type VersionEntry } from './store.js'

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
  const out: LookupHit[] = []
  let cursor: string | undefined
  do {
    const page = await lookupPage(store, o, { limit: 10_000, now, ...(cursor != null ? { cursor } : {}) })
    out.push(...page.records)
    cursor = page.next
  } while (cursor != null)
  return out.sort(byTs)
}

function byTs (a: LookupHit, b: LookupHit): number {
  return a.ts - b.ts || (a.id < b.id ? -1 : 1)
}

export const LOOKUP_DEFAULT_LIMIT = 1000
export const LOOKUP_MAX_LIMIT = 10_000
/** Index entries one lookup request reads at most before it answers with a cursor. */
const LOOKUP_SCAN_BUDGET = 50_000

export interface LookupOptions {
  /** records per page (default 1000) */
  limit?: number
  /** the `next` of the previous page */
  cursor?: string
  /** a domain also finds its subdomains (default true) */
  subdomains?: boolean
  /** only records at these TLPs (a reader's ceiling) */
  tlps?: ReadonlySet<Tlp>
  now?: number
}

export interface LookupPage {
  records: LookupHit[]
  /** present when more records may follow: pass it back as `cursor` */
  next?: string
}

/** The query a cursor belongs to, so a cursor cannot be replayed against another lookup. */
function queryTag (o: Observable, subdomains: boolean, tlps: ReadonlySet<Tlp> | undefined): string {
  return createHash('sha256').update(`${o.kind}\n${o.value}\n${String(subdomains)}\n${[...tlps ?? []].sort().join(',')}`).digest('base64url').slice(0, 12)
}

function encodeCursor (tag: string, pos: ScanPosition): string {
  return Buffer.from(JSON.stringify({ v: 1, q: tag, p: pos.phase, k: pos.key })).toString('base64url')
}

function decodeCursor (text: string, tag: string): ScanPosition {
  let c: any
  try {
    c = /^[A-Za-z0-9_-]{1,4000}$/.test(text) ? JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) : undefined
  } catch {
    c = undefined
  }
  if (c == null || c.v !== 1 || typeof c.p !== 'number' || !Number.isInteger(c.p) || c.p < 0 || typeof c.k !== 'string') {
    throw new DragnetError('DRAGNET_BAD_REQUEST', 'cursor is not one this node issued; start again without it', { property: 'cursor' })
  }
  if (c.q !== tag) throw new DragnetError('DRAGNET_BAD_REQUEST', 'cursor belongs to another lookup (value, subdomains or access); start again without it', { property: 'cursor' })
  return { phase: c.p, key: c.k }
}

/**
 * One page of a lookup, bounded: at most `limit` records, and at most a fixed number of index
 * entries read. The scan walks the lookup's index ranges in key order (IPs by address, domains
 * by reversed name) and the cursor is the position of the last entry read, so paging through
 * visits every matching record exactly once: a record found under several keys (an indicator
 * naming two addresses in the range) counts at the first of them in scan order only.
 */
export async function lookupPage (store: Store, o: Observable, opts: LookupOptions = {}): Promise<LookupPage> {
  const limit = opts.limit ?? LOOKUP_DEFAULT_LIMIT
  const subdomains = opts.subdomains ?? true
  const now = opts.now ?? Date.now()
  const plan = lookupPlan(o, { subdomains })
  const tag = queryTag(o, subdomains, opts.tlps)
  let pos = opts.cursor != null ? decodeCursor(opts.cursor, tag) : undefined
  const records: LookupHit[] = []
  const current = new Map<string, Set<string>>()
  let budget = LOOKUP_SCAN_BUDGET
  while (budget > 0) {
    // Read about as many entries as the page still needs (plus one to learn whether more follow).
    const want = Math.max(16, 2 * (limit + 1 - records.length))
    const entries = await store.scanIndex(plan, pos, Math.min(1000, budget, want))
    if (entries.length === 0) return { records: records.sort(byTs) }
    budget -= entries.length
    const hits = await resolveEntries(store, plan, entries, { tlps: opts.tlps, now, current })
    for (let i = 0; i < entries.length; i++) {
      const hit = hits[i]
      if (hit != null) {
        // One more than asked for: there is a next page, starting at this entry.
        if (records.length === limit) return { records: records.sort(byTs), next: encodeCursor(tag, pos!) }
        records.push(hit)
      }
      pos = entries[i]
    }
  }
  return { records: records.sort(byTs), next: encodeCursor(tag, pos!) }
}

/** The current record ids of a STIX object, worked out once per scan. */
async function currentOf (store: Store, stixId: string, ctx: { now: number, current: Map<string, Set<string>> }): Promise<Set<string>> {
  let cur = ctx.current.get(stixId)
  if (cur == null) {
    const [versions, owner] = await Promise.all([store.versions(stixId), store.owner(stixId)])
    cur = currentIds(versions, owner, ctx.now)
    ctx.current.set(stixId, cur)
  }
  return cur
}

/**
 * For each index entry, the hit it contributes: none when the record is gone, above the
 * caller's TLP, not current, or counted at an earlier entry of the same scan.
 */
async function resolveEntries (store: Store, plan: IndexRange[], entries: IndexEntry[], ctx: { tlps?: ReadonlySet<Tlp>, now: number, current: Map<string, Set<string>> }): Promise<Array<LookupHit | undefined>> {
  const infos = await store.getManyInfo(entries.map(e => e.id))
  const out: Array<LookupHit | undefined> = entries.map(() => undefined)
  const candidates: number[] = []
  for (let i = 0; i < entries.length; i++) {
    const info = infos[i]
    if (info == null || (ctx.tlps != null && !ctx.tlps.has(info.tlp))) continue
    if ((await currentOf(store, info.stixId, ctx)).has(entries[i].id)) candidates.push(i)
  }
  const earlier = await earlierEntries(store, plan, candidates.map(i => entries[i]))
  for (let j = 0; j < candidates.length; j++) {
    const i = candidates[j]
    const rec = earlier[j].record
    if (earlier[j].counted || rec == null) continue
    const info = infos[i]!
    out[i] = { id: entries[i].id, author: info.author, tlp: info.tlp, type: info.type, stixId: info.stixId, modified: info.modified, ts: info.ts, addedAt: info.addedAt, body: rec.record.record.body }
  }
  return out
}

/**
 * Whether each entry's record also sits under an index key that comes earlier in the scan (then
 * it was counted there), with the record itself. The record's keys are derived again from its
 * body, and only keys that exist in the index count.
 */
async function earlierEntries (store: Store, plan: IndexRange[], entries: IndexEntry[]): Promise<Array<{ counted: boolean, record?: Awaited<ReturnType<Store['getRecord']>> }>> {
  const out: Array<{ counted: boolean, record?: Awaited<ReturnType<Store['getRecord']>> }> = []
  const probes: Array<{ at: number, key: string }> = []
  for (const e of entries) {
    const record = await store.getRecord(e.id)
    out.push({ counted: false, ...(record != null ? { record } : {}) })
    if (record == null) continue
    let observables: Observable[]
    try {
      observables = analyzeStixObject(record.record.record.body).observables
    } catch {
      continue
    }
    for (const k of indexKeysOf(observables, e.id)) {
      const phase = phaseOf(plan, k)
      if (phase == null || k === e.key) continue
      if (phase < e.phase || (phase === e.phase && k < e.key)) probes.push({ at: out.length - 1, key: k })
    }
  }
  const exist = await store.keysExist(probes.map(p => p.key))
  probes.forEach((p, i) => { if (exist[i]) out[p.at].counted = true })
  return out
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

/** The federation view of a lookup answer (binding JSON keys under `summary`). */
export type { LookupSummary } from './summary.js'

const DAY_MS = 86_400_000

/**
 * Federation confidence, 0-100:
 *   base    = the highest STIX `confidence` among the reported records (50 when none has one)
 *   support = members that sighted the value or agree with it, unless they also disagree (each once)
 *   against = members that disagree
 *   idle    = days since the latest of last_seen and the newest report
 *   confidence = (base + (100 - base) * (1 - 2^-support)) * 2^-against * 2^-(max(0, idle - 30) / 90)
 * Each supporting member halves the remaining doubt, each disagreeing member halves the
 * result, and after 30 quiet days the value halves every further 90 days.
 */
export function federationConfidence (f: { base: number, support: number, against: number, idleDays: number }): number {
  const raised = f.base + (100 - f.base) * (1 - Math.pow(2, -f.support))
  const c = raised * Math.pow(2, -f.against) * Math.pow(2, -Math.max(0, f.idleDays - 30) / 90)
  return Math.max(0, Math.min(100, Math.round(c)))
}

/**
 * The federation view of some lookup hits: one feedback summary read per STIX object however
 * many sightings it has, restricted to the TLPs the reader may see.
 */
export async function lookupSummary (store: Store, hits: LookupHit[], opts: { tlps?: ReadonlySet<Tlp>, now?: number } = {}): Promise<LookupSummary> {
  const now = opts.now ?? Date.now()
  const stixIds = [...new Set(hits.map(h => h.stixId))]
  const summaries = (await store.feedbackSummaries(stixIds)).filter((s): s is FeedbackSummary => s != null)
  let sightings = 0
  const sighters = new Set<string>()
  let first: string | undefined
  let last: string | undefined
  const opinions = new Map<string, { opinion: 'agree' | 'disagree', reason?: string }>()
  for (const s of summaries) {
    for (const [tlp, t] of Object.entries(s.byTlp) as Array<[Tlp, TlpShare]>) {
      if (opts.tlps != null && !opts.tlps.has(tlp)) continue
      sightings += t.sightings
      for (const m of Object.keys(t.sighters)) sighters.add(m)
      if (t.first != null && (first == null || compareVersionNames(t.first, first) < 0)) first = t.first
      if (t.last != null && (last == null || compareVersionNames(t.last, last) > 0)) last = t.last
    }
    for (const [member, o] of mergeOpinions(s, opts.tlps)) {
      if (o.stance === 'neutral') continue
      opinions.set(member, { opinion: o.stance, ...(o.reason != null ? { reason: o.reason } : {}) })
    }
  }
  const reasons = [...opinions].map(([member, o]) => ({ member, ...o }))
  const against = reasons.filter(r => r.opinion === 'disagree').length
  const support = new Set([...sighters, ...reasons.filter(r => r.opinion === 'agree').map(r => r.member)])
  for (const r of reasons) if (r.opinion === 'disagree') support.delete(r.member)
  const confidences = hits.map(h => h.body.confidence).filter((c): c is number => typeof c === 'number' && c >= 0 && c <= 100)
  const newest = Math.max(0, ...hits.map(h => h.ts), ...(last != null ? [Date.parse(last)] : []))
  return {
    reporters: [...new Set(hits.filter(h => h.type !== 'sighting' && h.type !== 'opinion').map(h => h.author))],
    sightings,
    sighted_by: [...sighters],
    first_seen: first ?? null,
    last_seen: last ?? null,
    opinions: { agree: reasons.length - against, disagree: against, reasons },
    confidence: hits.length === 0 ? 0 : federationConfidence({ base: confidences.length > 0 ? Math.max(...confidences) : 50, support: support.size, against, idleDays: (now - newest) / DAY_MS })
  }
}

/** Index entries a lookup summary reads at most; past that it covers what it read and says `partial`. */
export const SUMMARY_SCAN_BUDGET = 200_000

/**
 * The federation view of every record a lookup matches, not only the page answered. When the
 * page holds them all (a first page with no `next`) it is summarised as it is; otherwise the
 * lookup's index ranges are walked again: index entries, then record infos, and only for current
 * records in the reader's TLPs the record itself (for its STIX confidence). Sightings and
 * opinions still come from the per-object feedback index, one read per STIX object.
 */
export async function lookupSummaryAll (store: Store, o: Observable, page: LookupPage, opts: LookupOptions = {}): Promise<LookupSummary> {
  const scope = { ...(opts.tlps != null ? { tlps: opts.tlps } : {}), ...(opts.now != null ? { now: opts.now } : {}) }
  if (opts.cursor == null && page.next == null) return await lookupSummary(store, page.records, scope)
  const plan = lookupPlan(o, { subdomains: opts.subdomains ?? true })
  const now = opts.now ?? Date.now()
  const seen = new Set<string>()
  const current = new Map<string, Set<string>>()
  const hits: LookupHit[] = []
  let pos: ScanPosition | undefined
  let budget = SUMMARY_SCAN_BUDGET
  let partial = false
  while (true) {
    if (budget <= 0) { partial = true; break }
    const entries = await store.scanIndex(plan, pos, Math.min(1000, budget))
    if (entries.length === 0) break
    budget -= entries.length
    pos = entries[entries.length - 1]
    const ids = [...new Set(entries.map(e => e.id))].filter(id => !seen.has(id))
    for (const id of ids) seen.add(id)
    hits.push(...await currentHits(store, ids, { tlps: opts.tlps, now, current }))
  }
  const s = await lookupSummary(store, hits, scope)
  return partial ? { ...s, partial: true } : s
}

/** The current records among `ids` in the reader's TLPs, as hits. */
async function currentHits (store: Store, ids: string[], ctx: { tlps?: ReadonlySet<Tlp>, now: number, current: Map<string, Set<string>> }): Promise<LookupHit[]> {
  const infos = await store.getManyInfo(ids)
  const out: LookupHit[] = []
  for (let i = 0; i < ids.length; i++) {
    const info = infos[i]
    if (info == null || (ctx.tlps != null && !ctx.tlps.has(info.tlp))) continue
    if (!(await currentOf(store, info.stixId, ctx)).has(ids[i])) continue
    const rec = await store.getRecord(ids[i])
    if (rec == null) continue
    out.push({ id: ids[i], author: info.author, tlp: info.tlp, type: info.type, stixId: info.stixId, modified: info.modified, ts: info.ts, addedAt: info.addedAt, body: rec.record.record.body })
  }
  return out
}
