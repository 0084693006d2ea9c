import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { DragnetError, ERROR_STATUS } from '../errors.js'
import type { Verdict } from '../ingest/index.js'
import type { DragnetNode } from '../node.js'
import { decodeRecord, isTlp, recordToJson, TLP_LEVELS, type Tlp } from '../record/index.js'
import { classifyValue, stixObjectsFromInput } from '../stix/index.js'
import { getRecordJson, LOOKUP_DEFAULT_LIMIT, LOOKUP_MAX_LIMIT, lookupPage, lookupSummaryAll } from '../store/queries.js'
import { jsonDepth, MAX_DOCUMENT_DEPTH } from '../util/depth.js'
import { arrivalInfoPage, type VersionIndex } from '../store/reads.js'
import type { AuditEntry } from '../store/index.js'
import { callerOf, type RouteAccess } from './access.js'
import { SealedCursors } from './sealed-cursor.js'
import type { PeerRow, PeerStats } from '../net/peer-row.js'
import { sees, seesAll, visibleTlps, type Caller } from './auth.js'
import { opine, parseOpinionInput, parseSightInput, sight } from './feedback.js'
import { bundleChunks, exportPlan, RECORDS_MEDIA_TYPE, recordsExportOptions, recordsFileChunks, recordsWriter } from './export.js'
import type { Metrics } from './metrics.js'
import { STIX_MEDIA_TYPE } from './taxii-query.js'

export interface PublishResult {
  index: number
  status: Verdict['status']
  id?: string
  code?: string
  reason?: string
  details?: Record<string, unknown>
}

export function summarizeVerdicts (verdicts: Verdict[]): { results: PublishResult[], stored: number, duplicates: number, rejected: number } {
  const results = verdicts.map((v, index): PublishResult => {
    if (v.status === 'rejected') {
      const r: PublishResult = { index, status: v.status, code: v.code, reason: v.reason }
      if (v.details != null) r.details = v.details
      return r
    }
    return { index, status: v.status, id: v.id }
  })
  return {
    results,
    stored: verdicts.filter(v => v.status === 'stored').length,
    duplicates: verdicts.filter(v => v.status === 'duplicate').length,
    rejected: verdicts.filter(v => v.status === 'rejected').length
  }
}

/**
 * Parses the publish request: a STIX object/array/bundle, or `{ stix, tlp, to }`; tlp/to also as
 * query. No TLP given leaves `tlp` out: each object's TLP marking then decides (see TlpResolver).
 * The body's depth is measured before anything walks it.
 */
export function parsePublishBody (body: unknown, query: Record<string, unknown>): { objects: unknown[], tlp?: Tlp, to?: string[] } {
  if (jsonDepth(body, MAX_DOCUMENT_DEPTH) > MAX_DOCUMENT_DEPTH) {
    throw new DragnetError('DRAGNET_TOO_DEEP', `the content nests deeper than ${MAX_DOCUMENT_DEPTH} levels; a STIX bundle needs a handful`)
  }
  let payload = body
  let tlp: unknown = query.tlp
  let to: unknown = query.to
  if (body != null && typeof body === 'object' && !Array.isArray(body) && !('type' in body) && 'stix' in body) {
    const w = body as Record<string, unknown>
    payload = w.stix
    tlp = w.tlp ?? tlp
    to = w.to ?? to
  }
  if (tlp != null && !isTlp(tlp)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(tlp)}`)
  const toList = typeof to === 'string' ? to.split(',').map(s => s.trim()).filter(s => s !== '') : Array.isArray(to) ? to.map(String) : undefined
  return { objects: stixObjectsFromInput(payload), ...(tlp != null ? { tlp } : {}), ...(toList != null && toList.length > 0 ? { to: toList } : {}) }
}

const RECORD_ID = /^1220[0-9a-f]{64}$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const MAX_SIGNED_PER_REQUEST = 10_000

function one (v: unknown, name: string): string | undefined {
  if (v == null) return undefined
  if (Array.isArray(v)) throw new DragnetError('DRAGNET_BAD_REQUEST', `${name} may be given once`, { property: name })
  return String(v)
}

function list (v: unknown): string[] | undefined {
  if (v == null) return undefined
  const out = (Array.isArray(v) ? v : [v]).flatMap(s => String(s).split(',')).map(s => s.trim()).filter(s => s !== '')
  return out.length > 0 ? out : undefined
}

function intParam (v: unknown, name: string, min: number, max: number, dflt: number): number {
  const s = one(v, name)
  if (s == null) return dflt
  const n = /^[0-9]{1,9}$/.test(s) ? Number(s) : NaN
  if (!(n >= min && n <= max)) throw new DragnetError('DRAGNET_BAD_REQUEST', `${name} must be an integer from ${min} to ${max}, got ${s}`, { property: name })
  return n
}

function boolParam (v: unknown, name: string): boolean {
  const s = one(v, name)
  if (s == null || s === 'false' || s === '0') return false
  if (s === 'true' || s === '1' || s === '') return true
  throw new DragnetError('DRAGNET_BAD_REQUEST', `${name} must be true or false, got ${s}`, { property: name })
}

// The listing cursor: the last arrival number returned, opaque to clients.
function encodeListCursor (arrival: number): string {
  return Buffer.from(`r1.${arrival}`).toString('base64url')
}

function decodeListCursor (text: string): number {
  const raw = /^[A-Za-z0-9_-]{1,40}$/.test(text) ? Buffer.from(text, 'base64url').toString('latin1') : ''
  const m = /^r1\.([0-9]{1,16})$/.exec(raw)
  if (m == null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'cursor is not one this API issued; start again without it', { property: 'cursor' })
  return Number(m[1])
}

export interface RestInit {
  metrics: Metrics
  index: VersionIndex
  /** largest body of an authenticated publish */
  bodyLimit: number
  openapi: () => Record<string, unknown>
}

/** 201 when everything was stored (or held already), 207 when some was refused, the first refusal's status when all were. */
function publishReply (reply: FastifyReply, verdicts: Verdict[]): FastifyReply {
  const summary = summarizeVerdicts(verdicts)
  if (summary.rejected > 0 && summary.stored + summary.duplicates === 0) {
    const first = verdicts.find(v => v.status === 'rejected')!
    if (first.status === 'rejected') {
      return reply.code(ERROR_STATUS[first.code]).send({ code: first.code, message: first.reason, ...(first.details != null ? { details: first.details } : {}), ...summary })
    }
  }
  return reply.code(summary.rejected > 0 ? 207 : 201).send(summary)
}

const PUBLIC: { config: RouteAccess } = { config: { access: 'public' } }
const READ: { config: RouteAccess } = { config: { access: 'read' } }
const WRITE: { config: RouteAccess } = { config: { access: 'write' } }

/** Audit entries a caller may see: those naming no record, or a record it may see. */
async function visibleAudit (node: DragnetNode, caller: Caller, entries: AuditEntry[]): Promise<AuditEntry[]> {
  if (seesAll(caller)) return entries
  const infos = await node.store.getManyInfo(entries.map(e => e.record ?? ''))
  return entries.filter((e, i) => e.record == null || (infos[i] != null && sees(caller, infos[i]!.tlp)))
}

/** The node's REST API: records, lookup, peers, status, audit, export, metrics, health. */
export async function registerRest (app: FastifyInstance, node: DragnetNode, init: RestInit): Promise<void> {
  app.get('/health', PUBLIC, async (_req, reply) => {
    const storage = node.store.isOpen ? node.store.health() : { ok: true, errors: 0 }
    if (storage.ok) return { ok: true, peerId: node.peerId, running: node.isRunning }
    // Degraded: reads still work, writes fail until the store can write again.
    return reply.code(503).send({ ok: false, status: 'degraded', peerId: node.peerId, running: node.isRunning, storage })
  })

  app.get('/api/openapi.json', READ, async () => init.openapi())

  app.get('/metrics', READ, async (req, reply) => {
    // Counters describe every record (RED arrivals, verdicts, delays): a lower ceiling could
    // read RED traffic off them by difference, so they are for callers that see every TLP.
    const caller = callerOf(req)
    if (!seesAll(caller)) throw new DragnetError('DRAGNET_FORBIDDEN', `read token ${caller.name} sees up to TLP:${caller.maxTlp.toUpperCase()}: metrics count every record, so they need the API token or a read token created with --max-tlp red`)
    return reply.type(init.metrics.contentType).send(await init.metrics.text())
  })

  app.get('/api/status', READ, async (req) => {
    const status = await node.status()
    const caller = callerOf(req)
    if (seesAll(caller)) return status
    // A reader learns nothing of the records above its ceiling, their number included.
    const byTlp = Object.fromEntries(visibleTlps(caller).map(t => [t, status.byTlp[t] ?? 0]))
    // Where records are pushed (and how many) is the operator's business, not a reader's.
    delete status.webhooks
    return { ...status, records: Object.values(byTlp).reduce((a, b) => a + b, 0), byTlp }
  })

  app.post('/api/records', { ...WRITE, bodyLimit: init.bodyLimit }, async (req, reply) => {
    const q = req.query as Record<string, unknown>
    const skipExisting = boolParam(q.skipExisting, 'skipExisting')
    const source = one(q.source, 'source') ?? 'local'
    if (source !== 'local' && source !== 'import') throw new DragnetError('DRAGNET_BAD_REQUEST', `source must be local or import, got ${source}`, { property: 'source' })
    const { objects, tlp, to } = parsePublishBody(req.body, q)
    const verdicts = await node.publish(objects, { ...(tlp != null ? { tlp } : {}), ...(to != null ? { to } : {}), source, skipExisting })
    return publishReply(reply, verdicts)
  })

  // Sightings and opinions: STIX objects this node builds and publishes as its records.
  app.post('/api/sightings', WRITE, async (req, reply) => publishReply(reply, await sight(node, parseSightInput(req.body))))
  app.post('/api/opinions', WRITE, async (req, reply) => publishReply(reply, await opine(node, parseOpinionInput(req.body))))

  // Signed records from a records file (dragnet import --format records), ingested as received
  // from `from`, the member that wrote the file: not re-signed, through the same checks as gossip.
  app.post('/api/records/signed', { ...WRITE, bodyLimit: init.bodyLimit }, async (req, reply) => {
    const body = req.body as { from?: unknown, envelopes?: unknown } | null
    const from = body?.from
    if (typeof from !== 'string' || !/^[1-9A-HJ-NP-Za-km-z]{30,100}$/.test(from)) throw new DragnetError('DRAGNET_BAD_REQUEST', 'from must be the PeerId of the member that wrote the records', { property: 'from' })
    const envelopes = body?.envelopes
    if (!Array.isArray(envelopes) || envelopes.length === 0 || envelopes.length > MAX_SIGNED_PER_REQUEST) throw new DragnetError('DRAGNET_BAD_REQUEST', `envelopes must be a list of 1 to ${MAX_SIGNED_PER_REQUEST} base64 envelopes`, { property: 'envelopes' })
    const items = envelopes.map((e: unknown, i: number) => {
      if (typeof e !== 'string' || !BASE64.test(e)) throw new DragnetError('DRAGNET_BAD_REQUEST', `envelopes[${i}] is not base64`, { property: 'envelopes' })
      return { bytes: new Uint8Array(Buffer.from(e, 'base64')), from, source: 'import' as const }
    })
    const summary = summarizeVerdicts(await node.ingest.receive(items))
    return reply.code(summary.rejected > 0 ? 207 : 201).send(summary)
  })

  app.get('/api/records/:id', READ, async (req) => {
    const { id } = req.params as { id: string }
    if (!RECORD_ID.test(id)) throw new DragnetError('DRAGNET_BAD_REQUEST', `not a record id: ${id}`)
    const rec = await getRecordJson(node.store, id)
    const caller = callerOf(req)
    // Above the caller's ceiling is the same answer as absent: its existence is not disclosed.
    if (rec == null || !sees(caller, rec.tlp as Tlp)) throw new DragnetError('DRAGNET_NOT_FOUND', `no record ${id}`)
    if (!seesAll(caller)) delete (rec.local as Record<string, unknown>).arrival
    return node.withAuthor(rec)
  })

  // Arrival numbers count every record: a reader below RED gets neither them nor a cursor that
  // holds one in the clear.
  const sealed = new SealedCursors()

  app.get('/api/records', READ, async (req) => {
    const q = req.query as Record<string, unknown>
    const caller = callerOf(req)
    const types = list(q.type)
    const authors = list(q.author)
    const tlps = list(q.tlp)
    for (const t of tlps ?? []) if (!isTlp(t)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${t}`)
    const sinceText = one(q.since, 'since')
    const since = sinceText != null ? Date.parse(sinceText) : undefined
    if (since != null && (Number.isNaN(since) || !/^\d{4}-\d{2}-\d{2}/.test(sinceText!))) throw new DragnetError('DRAGNET_BAD_REQUEST', `since must be an ISO 8601 timestamp, got ${sinceText}`, { property: 'since' })
    const limit = intParam(q.limit, 'limit', 1, 1000, 100)
    const cursorText = one(q.cursor, 'cursor')
    let after = cursorText == null ? 0 : seesAll(caller) ? decodeListCursor(cursorText) : sealed.open(cursorText)
    const found: Array<{ id: string, info: NonNullable<Awaited<ReturnType<typeof node.store.getInfo>>> }> = []
    // Sparse filters scan at most this many records per request, then hand back a cursor.
    let budget = 50_000
    let more = false
    scan: while (budget > 0) {
      const page = await arrivalInfoPage(node.store, after, Math.min(1000, budget))
      if (page.length === 0) break
      budget -= page.length
      for (const e of page) {
        const i = e.info
        const match = (types == null || types.includes(i.type)) && (authors == null || authors.includes(i.author)) &&
          (tlps == null || tlps.includes(i.tlp)) && (since == null || i.addedAt >= since) && sees(caller, i.tlp)
        if (match && found.length === limit) { more = true; break scan }
        after = e.arrival
        if (match) found.push({ id: e.id, info: i })
      }
      if (budget <= 0) more = true
    }
    const bytes = await node.store.getManyBytes(found.map(f => f.id))
    const records = found.map((f, i) => {
      const rec = recordToJson(decodeRecord(bytes[i]!, { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 }))
      rec.local = { ...(seesAll(caller) ? { arrival: f.info.arrival } : {}), addedAt: new Date(f.info.addedAt).toISOString(), source: f.info.source, ...(f.info.from != null ? { from: f.info.from } : {}) }
      return rec
    })
    return more ? { records, next: seesAll(caller) ? encodeListCursor(after) : sealed.seal(after) } : { records }
  })

  app.get('/api/lookup', READ, async (req) => {
    const q = req.query as Record<string, unknown>
    const value = one(q.value, 'value')
    if (value == null || value === '') throw new DragnetError('DRAGNET_BAD_REQUEST', 'lookup needs ?value=')
    const o = classifyValue(value)
    if (o == null) throw new DragnetError('DRAGNET_BAD_REQUEST', `cannot tell what kind of observable "${value}" is (IP, CIDR, domain, URL, email or MD5/SHA-1/SHA-256)`)
    const caller = callerOf(req)
    const limit = intParam(q.limit, 'limit', 1, LOOKUP_MAX_LIMIT, LOOKUP_DEFAULT_LIMIT)
    const cursor = one(q.cursor, 'cursor')
    const exact = boolParam(q.exact, 'exact')
    const tlps = seesAll(caller) ? undefined : new Set(visibleTlps(caller))
    const opts = {
      limit,
      subdomains: !exact,
      ...(cursor != null ? { cursor } : {}),
      ...(tlps != null ? { tlps } : {})
    }
    const page = await lookupPage(node.store, o, opts)
    const summary = await lookupSummaryAll(node.store, o, page, opts)
    return { value: o.value, kind: o.kind, summary, records: page.records.map(r => node.withAuthor(r)), ...(page.next != null ? { next: page.next } : {}) }
  })

  app.get('/api/peers', READ, async (req) => {
    // Traffic counters cover every TLP (RED withheld, amber sent): a reader below RED gets the
    // members and whether they are connected, not what flowed.
    if (!seesAll(callerOf(req))) {
      const live = new Map((node.peers?.list() ?? []).map(p => [p.peerId, p.connected]))
      const peers: PeerRow[] = node.roster.peers().map(m => ({ peerId: m.peerId, name: m.name, country: m.country, role: m.role, connected: live.get(m.peerId) ?? false }))
      return { running: node.peers != null, connected: peers.filter(p => p.connected).length, peers }
    }
    if (node.peers != null) {
      const peers: PeerRow[] = node.peers.list()
      return { running: true, connected: peers.filter(p => p.connected).length, peers, ...(node.gossip != null ? { gossip: node.gossip.stats() } : {}), ...(node.sync != null ? { sync: node.sync.stats() } : {}) }
    }
    // Offline: the roster, with the counters the peer manager persisted when it last ran.
    const saved = await node.store.getPeers<Partial<PeerStats>>()
    const peers: PeerRow[] = node.roster.peers().map(m => ({ peerId: m.peerId, name: m.name, country: m.country, role: m.role, addrs: m.addrs, connected: false, ...(saved.get(m.peerId) ?? {}) }))
    return { running: false, connected: 0, peers }
  })

  // Membership: documents from `dragnet member publish`, verified like those from peers.
  app.post('/api/membership', WRITE, async (req, reply) => {
    const v = await node.offerMembership(req.body)
    if (v.status === 'refused') return reply.code(ERROR_STATUS[v.code]).send({ ...v, code: v.code, message: `refused by ${v.refusal.rule}: ${v.refusal.reason}` })
    return reply.code(v.status === 'duplicate' ? 200 : 201).send(v)
  })

  app.get('/api/members', READ, async () => ({ members: node.members() }))

  app.get('/api/audit', READ, async (req) => {
    const q = req.query as Record<string, unknown>
    const caller = callerOf(req)
    const record = one(q.record, 'record')
    const peer = one(q.peer, 'peer')
    if (record != null && !RECORD_ID.test(record)) throw new DragnetError('DRAGNET_BAD_REQUEST', `record must be a record id, got ${record}`, { property: 'record' })
    if (peer != null && !/^[1-9A-HJ-NP-Za-km-z]{30,100}$/.test(peer)) throw new DragnetError('DRAGNET_BAD_REQUEST', `peer must be a PeerId, got ${peer}`, { property: 'peer' })
    const limit = intParam(q.limit, 'limit', 1, 10_000, 100)
    const entries = await visibleAudit(node, caller, await node.store.auditEntries({ ...(record != null ? { record } : {}), ...(peer != null ? { peer } : {}), limit }))
    // Nothing logged for this pair: say what the policy decides now, marked as such.
    if (record != null && peer != null && entries.length === 0) {
      const info = await node.store.getInfo(record)
      const now = info != null && sees(caller, info.tlp) ? await node.decideNow(record, peer) : undefined
      if (now != null) return { entries, decision_now: now }
    }
    return { entries }
  })

  app.get('/api/export', READ, async (req, reply) => {
    const q = req.query as Record<string, unknown>
    const caller = callerOf(req)
    const opts = { format: one(q.format, 'format'), tlp: list(q.tlp), type: list(q.type), since: one(q.since, 'since'), raw: boolParam(q.raw, 'raw'), for: one(q.for, 'for'), id: list(q.id) }
    const plan = exportPlan(opts)
    if (plan.format === 'records') {
      // A records file carries signed records to another member (and --for audits what it
      // withholds): the operator's act, not a reader's.
      if (!caller.canWrite) throw new DragnetError('DRAGNET_FORBIDDEN', `read token ${caller.name} cannot export records files: that needs the node's API token`)
      const stream = Readable.from(recordsFileChunks(node.store, recordsWriter(node, opts), recordsExportOptions(node, plan, opts)))
      return reply.type(RECORDS_MEDIA_TYPE).send(stream)
    }
    if (!seesAll(caller)) plan.filter.tlp = new Set(visibleTlps(caller).filter(t => plan.filter.tlp == null || plan.filter.tlp.has(t)))
    const stream = Readable.from(bundleChunks(node.store, plan.filter, { objects: 0 }, { index: init.index, raw: opts.raw, memberOf: (p) => node.exportMember(p, caller.canWrite) }))
    return reply.type(STIX_MEDIA_TYPE).send(stream)
  })
}
