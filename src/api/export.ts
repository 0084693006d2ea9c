import { randomUUID } from 'node:crypto'
import { DragnetError } from '../errors.js'
import type { Decision } from '../policy/index.js'
import { decodeRecord, isTlp, RecordsFileWriter, TLP_LEVELS, type RecordSigner, type RecordsFileFilter, type SignedRecord, type Tlp } from '../record/index.js'
import { arrivalBefore, arrivalInfoPage, currentRecords, type CurrentFilter, type VersionIndex } from '../store/reads.js'
import type { AuditEntry, RecordInfo, Store } from '../store/store.js'
import { Provenance, type MemberInfo } from './provenance.js'

export interface ExportOptions {
  tlp?: string | string[]
  type?: string | string[]
  since?: string
}

/** What `dragnet export` and GET /api/export take. */
export interface ExportRequest extends ExportOptions {
  /** stix (default): a bundle of current objects; records: a records file of signed records */
  format?: string
  /** stix: the signed bodies, untouched */
  raw?: boolean
  /** records: only what this node's outbound policy sends that member */
  for?: string
  /** records: only these record ids */
  id?: string | string[]
}

export interface ExportPlan {
  format: 'stix' | 'records'
  filter: CurrentFilter
  ids?: string[]
}

/** The records file media type (JSON lines). */
export const RECORDS_MEDIA_TYPE = 'application/x-ndjson'

/** Checks an export request: the format, the options it allows, the filters. */
export function exportPlan (r: ExportRequest): ExportPlan {
  const format = r.format ?? 'stix'
  if (format !== 'stix' && format !== 'records') throw new DragnetError('DRAGNET_BAD_REQUEST', `format must be stix or records, got ${format}`, { property: 'format' })
  const filter = exportFilter(r)
  if (format === 'stix') {
    if (r.for != null) throw new DragnetError('DRAGNET_BAD_REQUEST', '--for applies to --format records: a STIX bundle leaves the federation, a records file goes to one member', { property: 'for' })
    if (r.id != null) throw new DragnetError('DRAGNET_BAD_REQUEST', '--id applies to --format records', { property: 'id' })
    return { format, filter }
  }
  if (r.raw === true) throw new DragnetError('DRAGNET_BAD_REQUEST', '--raw applies to --format stix: a records file always holds the records as signed', { property: 'raw' })
  if (r.for != null && !/^[1-9A-HJ-NP-Za-km-z]{30,100}$/.test(r.for)) throw new DragnetError('DRAGNET_BAD_RECIPIENT', `--for must be a member's PeerId, got ${r.for}`, { property: 'for' })
  const ids = recordIdList(r.id)
  return ids != null ? { format, filter, ids } : { format, filter }
}

/** The parts of a node a records export needs (a DragnetNode fits). */
export interface RecordsExporter {
  identity: RecordSigner
  store: Store
  outboundTo: (peerId: string) => (r: SignedRecord) => Decision
  audit: (e: AuditEntry) => void
}

/** The writer of a records file by this node, its header naming the request. */
export function recordsWriter (node: Pick<RecordsExporter, 'identity'>, r: ExportRequest): RecordsFileWriter {
  const filter: RecordsFileFilter = {}
  const tlp = list(r.tlp)
  const type = list(r.type)
  const id = list(r.id)
  if (tlp != null) filter.tlp = tlp
  if (type != null) filter.type = type
  if (r.since != null && r.since !== '') filter.since = r.since
  if (id != null) filter.id = id
  return new RecordsFileWriter(node.identity, { ...(r.for != null ? { for: r.for } : {}), filter })
}

/** What to write for a plan: with `for`, this node's outbound decisions for that member, withholdings audited. */
export function recordsExportOptions (node: RecordsExporter, plan: ExportPlan, r: ExportRequest): RecordsExportOptions {
  const out: RecordsExportOptions = { filter: plan.filter }
  if (plan.ids != null) out.ids = plan.ids
  const peer = r.for
  if (peer != null) {
    out.decide = node.outboundTo(peer)
    out.onWithheld = (id, d) => { node.audit({ at: Date.now(), direction: 'outbound', verdict: 'withhold', rule: d.rule, reason: d.reason, record: id, peer, source: 'export' }) }
  }
  return out
}

function list (v: string | string[] | undefined): string[] | undefined {
  if (v == null) return undefined
  const out = (Array.isArray(v) ? v : [v]).flatMap(s => String(s).split(',')).map(s => s.trim()).filter(s => s !== '')
  return out.length > 0 ? out : undefined
}

/** Checks `--tlp`, `--type` and `--since` (the CLI's and GET /api/export's) into a filter. */
export function exportFilter (opts: ExportOptions): CurrentFilter {
  const f: CurrentFilter = {}
  const tlps = list(opts.tlp)
  if (tlps != null) {
    for (const t of tlps) if (!isTlp(t)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${t}`)
    f.tlp = new Set<Tlp>(tlps as Tlp[])
  }
  const types = list(opts.type)
  if (types != null) {
    for (const t of types) if (!/^[a-z0-9][a-z0-9-]{1,249}$/.test(t)) throw new DragnetError('DRAGNET_BAD_REQUEST', `type must be a STIX type such as indicator, got ${t}`)
    f.types = new Set(types)
  }
  if (opts.since != null && opts.since !== '') {
    const ms = Date.parse(opts.since)
    if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(opts.since)) throw new DragnetError('DRAGNET_BAD_REQUEST', `since must be an ISO 8601 date or timestamp such as 2026-01-31T00:00:00Z, got ${opts.since}`)
    f.sinceMs = ms
  }
  return f
}

export interface BundleStats {
  /** objects written: records, and the marking definitions and identities they reference */
  objects: number
}

export interface BundleOptions {
  now?: number
  index?: VersionIndex
  /** the bodies as signed, with no TLP marking or creator added (and no objects for them) */
  raw?: boolean
  /** roster lookup for the identities of record authors (default: every author unnamed) */
  memberOf?: (peerId: string) => MemberInfo | undefined
}

/**
 * One STIX 2.1 bundle of the current objects, as chunks of bytes: the objects are copied from
 * the store page by page, so memory stays flat whatever the store holds. Each object carries its
 * record's TLP 2.0 marking and its author's identity as creator (see provenance.ts); the marking
 * definitions and identities they reference close the bundle. `raw` copies the signed bodies as
 * they are. `stats` counts as it goes.
 */
export async function * bundleChunks (store: Store, filter: CurrentFilter, stats: BundleStats = { objects: 0 }, opts: BundleOptions = {}): AsyncGenerator<Buffer> {
  yield Buffer.from(`{"type":"bundle","id":"bundle--${randomUUID()}","objects":[`)
  const comma = Buffer.from(',')
  const provenance = opts.raw === true ? null : new Provenance(opts.memberOf ?? (() => undefined))
  for await (const page of currentRecords(store, filter, opts)) {
    const parts: Uint8Array[] = []
    for (const r of page) {
      if (stats.objects > 0 || parts.length > 0) parts.push(comma)
      if (provenance == null) parts.push(r.body)
      else parts.push(provenance.serveBytes(r.body, r.info.tlp, r.info.author, r.info.type))
    }
    stats.objects += page.length
    yield Buffer.concat(parts)
  }
  if (provenance != null) {
    const extras = provenance.extras()
    if (extras.length > 0) yield Buffer.from((stats.objects > 0 ? ',' : '') + extras.map(o => JSON.stringify(o)).join(','))
    stats.objects += extras.length
  }
  yield Buffer.from(']}\n')
}

// ------------------------------------------------------------------ records files

export interface RecordsExportStats {
  records: number
  /** records left out by the outbound decision (`--for`), by the rule that withheld them */
  withheld: Record<string, number>
}

export interface RecordsExportOptions {
  filter: CurrentFilter
  /** only these record ids (in this order); the other filters still apply */
  ids?: string[]
  /** the outbound decision for the member the file is for: only what it sends is written */
  decide?: (r: SignedRecord) => Decision
  onWithheld?: (id: string, d: Decision) => void
}

const STORED_LIMITS = { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 }

function passes (info: RecordInfo, f: CurrentFilter): boolean {
  return (f.tlp == null || f.tlp.has(info.tlp)) && (f.types == null || f.types.has(info.type)) && (f.sinceMs == null || info.addedAt >= f.sinceMs)
}

async function * storedPages (store: Store, opts: RecordsExportOptions): AsyncGenerator<Array<{ id: string, info: RecordInfo }>> {
  if (opts.ids != null) {
    const infos = await store.getManyInfo(opts.ids)
    yield opts.ids.flatMap((id, i) => infos[i] != null && passes(infos[i], opts.filter) ? [{ id, info: infos[i] }] : [])
    return
  }
  let after = opts.filter.sinceMs != null ? await arrivalBefore(store, opts.filter.sinceMs - 1) : 0
  while (true) {
    const page = await arrivalInfoPage(store, after, 1000)
    if (page.length === 0) return
    after = page[page.length - 1].arrival
    yield page.filter(e => passes(e.info, opts.filter))
  }
}

/**
 * A records file of the stored records (every version, revocations included: a file carries
 * history, so a member reading it converges as by sync), in arrival order, streamed page by
 * page. With `decide`, only the records the outbound decision sends are written.
 */
export async function * recordsFileChunks (store: Store, writer: RecordsFileWriter, opts: RecordsExportOptions, stats: RecordsExportStats = { records: 0, withheld: {} }): AsyncGenerator<Buffer> {
  yield writer.headerLine()
  for await (const page of storedPages(store, opts)) {
    if (page.length === 0) continue
    const bytes = await store.getManyBytes(page.map(e => e.id))
    const parts: Buffer[] = []
    page.forEach((e, i) => {
      const b = bytes[i]
      if (b == null) return
      if (opts.decide != null) {
        const d = opts.decide(decodeRecord(b, STORED_LIMITS))
        if (d.verdict !== 'send') {
          stats.withheld[d.rule] = (stats.withheld[d.rule] ?? 0) + 1
          opts.onWithheld?.(e.id, d)
          return
        }
      }
      parts.push(writer.recordLine(e.id, b))
      stats.records++
    })
    if (parts.length > 0) yield Buffer.concat(parts)
  }
  yield writer.endLine()
}

/** `--id` of `export --format records`: record ids, comma-separated. */
export function recordIdList (v: string | string[] | undefined): string[] | undefined {
  const ids = list(v)
  for (const id of ids ?? []) if (!/^1220[0-9a-f]{64}$/.test(id)) throw new DragnetError('DRAGNET_BAD_REQUEST', `id must be a record id (1220 + 64 hex digits), got ${id}`)
  return ids
}
