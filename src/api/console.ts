import { randomUUID } from 'node:crypto'
import { SealedCursors } from './sealed-cursor.js'
import type { FeedItem } from './answers.js'
import type { FastifyInstance } from 'fastify'
import { DragnetError } from '../errors.js'
import { IMPORT_FORMATS, parseImport, runImport, type ImportFormat, type ImportSummary } from '../import/index.js'
import type { DragnetNode } from '../node.js'
import { policySubject, type Explanation, type Member } from '../policy/index.js'
import { isTlp, TLP_LEVELS, type Tlp } from '../record/index.js'
import { analyzeStixObject } from '../stix/index.js'
import type { RecordInfo } from '../store/index.js'
import { arrivalInfoPage } from '../store/reads.js'
import { jsonDepth, MAX_DOCUMENT_DEPTH } from '../util/depth.js'
import { callerOf, type RouteAccess } from './access.js'
import { sees, seesAll, visibleTlps, type Caller } from './auth.js'
import { activityStats } from './console-stats.js'

/*
 * What the web console needs beyond the REST API: the numbers of its overview, a cheap endpoint
 * it polls for live updates, the policy in force with a dry run, the "why" of a record and a
 * peer, and imports that report progress. Every answer is filtered by the caller, as the REST
 * API's are: a read token never learns of a record above its TLP ceiling, not even its count.
 */

const READ: { config: RouteAccess } = { config: { access: 'read' } }
const WRITE: { config: RouteAccess } = { config: { access: 'write' } }
const RECORD_ID = /^1220[0-9a-f]{64}$/
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{30,100}$/
const ACTIVITY_MAX = 100
/** finished import jobs are kept this long for the console to read their summary */
const JOB_TTL_MS = 10 * 60_000
const MAX_JOBS = 20

export interface ConsoleInit {
  /** largest body of an import or a dry run */
  bodyLimit: number
}

function feedItem (id: string, i: RecordInfo): FeedItem {
  return { id, type: i.type, stixId: i.stixId, tlp: i.tlp, author: i.author, addedAt: new Date(i.addedAt).toISOString(), source: i.source, ...(i.from != null ? { from: i.from } : {}) }
}

function queryOne (q: unknown, name: string): string | undefined {
  const v = (q as Record<string, unknown>)[name]
  if (v == null) return undefined
  if (Array.isArray(v)) throw new DragnetError('DRAGNET_BAD_REQUEST', `${name} may be given once`, { property: name })
  return String(v)
}

/**
 * Records that arrived after arrival number `after`, oldest first, that the caller may see, and
 * where the scan stopped; without `after`, the newest few and the current arrival number.
 */
async function feed (node: DragnetNode, caller: Caller, after: number | undefined): Promise<{ records: FeedItem[], at: number }> {
  if (after == null) {
    const at = node.store.counts().arrival
    const newest: Array<{ arrival: number, id: string }> = []
    for await (const e of node.store.byArrival(0, { reverse: true, limit: 200 })) newest.push(e)
    const infos = await node.store.getManyInfo(newest.map(e => e.id))
    const out = newest.flatMap((e, k) => infos[k] != null && sees(caller, infos[k]!.tlp) ? [feedItem(e.id, infos[k]!)] : [])
    return { records: out.slice(0, 20).reverse(), at: Math.max(at, newest[0]?.arrival ?? 0) }
  }
  const out: FeedItem[] = []
  let at = after
  // A reader's filter may skip many records; the scan per poll is bounded, and resumes where it stopped.
  for (let pages = 0; pages < 10 && out.length < ACTIVITY_MAX; pages++) {
    const page = await arrivalInfoPage(node.store, at, 500)
    if (page.length === 0) break
    for (const e of page) {
      at = e.arrival
      if (sees(caller, e.info.tlp)) out.push(feedItem(e.id, e.info))
      if (out.length === ACTIVITY_MAX) break
    }
  }
  return { records: out, at }
}

function peerStates (node: DragnetNode): Array<{ peerId: string, name: string, connected: boolean }> {
  if (node.peers != null) return node.peers.list().map(p => ({ peerId: p.peerId, name: p.name, connected: p.connected }))
  return node.roster.peers().map(m => ({ peerId: m.peerId, name: m.name, connected: false }))
}

/** A roster member by PeerId, or DRAGNET_BAD_RECIPIENT naming what the console should pick. */
function rosterMember (node: DragnetNode, peerId: string): Member {
  const m = node.roster.get(peerId)
  if (m == null || peerId === node.peerId) throw new DragnetError('DRAGNET_BAD_RECIPIENT', `${peerId} is not a member on this node's roster: pick one of GET /api/peers`, { property: 'peer' })
  return m
}

/** The outbound explanation for a stored record and a roster member, as gossip and sync decide it. */
async function explainStored (node: DragnetNode, recordId: string, peer: Member): Promise<Explanation | undefined> {
  const rec = await node.store.getRecord(recordId)
  if (rec == null) return undefined
  const a = analyzeStixObject(rec.record.record.body, rec.record.record.body.id)
  const subject = policySubject({ ...rec.record.record, id: rec.record.id }, { observables: a.observables, scoTypes: a.scoTypes })
  return node.policy.explain(subject, { direction: 'outbound', self: node.roster.self, peer, author: node.roster.get(rec.record.record.author), now: Date.now(), peerOnRoster: true })
}

interface DryRunBody { stix?: unknown, peer?: unknown, tlp?: unknown, to?: unknown }

/** Dry run of a pasted STIX object, as this node's record, against a roster member. */
function dryRun (node: DragnetNode, body: DryRunBody): Explanation {
  if (jsonDepth(body, MAX_DOCUMENT_DEPTH) > MAX_DOCUMENT_DEPTH) throw new DragnetError('DRAGNET_TOO_DEEP', `the content nests deeper than ${MAX_DOCUMENT_DEPTH} levels`)
  if (typeof body.peer !== 'string' || !PEER_ID.test(body.peer)) throw new DragnetError('DRAGNET_BAD_REQUEST', 'peer must be the PeerId of a roster member', { property: 'peer' })
  const tlp = body.tlp ?? 'green'
  if (!isTlp(tlp)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(tlp)}`)
  const to = Array.isArray(body.to) ? body.to.map(String) : undefined
  const peer = rosterMember(node, body.peer)
  const analysis = analyzeStixObject(body.stix, 'stix')
  const subject = policySubject({ id: '(dry run)', author: node.peerId, seq: 1, ts: Date.now(), tlp, ...(to != null && to.length > 0 ? { to } : {}), body: analysis.object }, { observables: analysis.observables, scoTypes: analysis.scoTypes })
  return node.policy.explain(subject, { direction: 'outbound', self: node.roster.self, peer, author: node.roster.self, now: Date.now(), peerOnRoster: true })
}

interface ImportJob { id: string, done: number, total: number, finished: boolean, startedAt: number, summary?: ImportSummary, error?: { code: string, message: string } }

interface ImportBody { text?: unknown, name?: unknown, format?: unknown, tlp?: unknown }

/** Parses at once (a bad file is refused in the answer), then publishes in the background. */
function startImport (node: DragnetNode, jobs: Map<string, ImportJob>, body: ImportBody): ImportJob {
  if (typeof body.text !== 'string' || body.text.trim() === '') throw new DragnetError('DRAGNET_BAD_REQUEST', 'text must be the content to import', { property: 'text' })
  const format = body.format == null || body.format === '' ? undefined : String(body.format)
  if (format != null && (format === 'records' || !(IMPORT_FORMATS as readonly string[]).includes(format))) throw new DragnetError('DRAGNET_BAD_REQUEST', 'format must be stix, misp, iocs or csv (or absent to detect it)', { property: 'format' })
  const tlp = body.tlp == null || body.tlp === '' ? undefined : body.tlp
  if (tlp != null && !isTlp(tlp)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(tlp)}`)
  const name = typeof body.name === 'string' && body.name !== '' ? body.name.slice(0, 200) : 'console'
  const parsed = parseImport(body.text, { ...(format != null ? { format: format as ImportFormat } : {}), name, namespace: node.peerId })
  for (const [k, j] of jobs) if (j.finished && Date.now() - j.startedAt > JOB_TTL_MS) jobs.delete(k)
  if ([...jobs.values()].filter(j => !j.finished).length >= 2 || jobs.size >= MAX_JOBS) throw new DragnetError('DRAGNET_CONFLICT', 'too many imports are running or waiting to be read: wait for one to finish')
  const job: ImportJob = { id: randomUUID(), done: 0, total: parsed.items.length, finished: false, startedAt: Date.now() }
  jobs.set(job.id, job)
  runImport(parsed, {
    ...(tlp != null ? { tlp: tlp as Tlp } : {}),
    file: name,
    publish: async (objects, t) => await node.publish(objects, { tlp: t, source: 'import', skipExisting: true }),
    onProgress: (done, total) => { job.done = done; job.total = total }
  }).then((summary) => { job.summary = summary }, (err: any) => {
    job.error = { code: typeof err?.code === 'string' && err.code.startsWith('DRAGNET_') ? err.code : 'DRAGNET_INTERNAL', message: String(err?.message ?? err) }
  }).finally(() => { job.finished = true })
  return job
}

/** The web console's endpoints under /api/console/. */
export async function registerConsole (app: FastifyInstance, node: DragnetNode, init: ConsoleInit): Promise<void> {
  app.get('/api/console/whoami', READ, async (req) => {
    const c = callerOf(req)
    return { caller: { kind: c.kind, name: c.name, maxTlp: c.maxTlp, canWrite: c.canWrite, tlps: visibleTlps(c) }, node: { peerId: node.peerId, name: node.roster.self.name, country: node.roster.self.country, role: node.roster.self.role } }
  })

  app.get('/api/console/overview', READ, async (req) => {
    const caller = callerOf(req)
    const status = await node.status()
    const byTlp = Object.fromEntries(visibleTlps(caller).map(t => [t, status.byTlp[t] ?? 0]))
    const activity = await activityStats(node.store, (i) => sees(caller, i.tlp))
    const { dataDir: _dataDir, ...shown } = status
    return {
      status: { ...shown, records: Object.values(byTlp).reduce((a, b) => a + b, 0), byTlp },
      activity,
      // Traffic counters count records of every TLP: only for a caller that sees them all (as /metrics).
      replication: seesAll(caller) ? { gossip: node.gossip?.stats() ?? null, sync: node.sync?.stats() ?? null } : null,
      peers: node.peers?.list().map(p => ({ peerId: p.peerId, name: p.name, connected: p.connected, lastSync: p.lastSync ?? null, lastSeen: p.lastSeen ?? null })) ?? []
    }
  })

  const cursors = new SealedCursors()
  app.get('/api/console/activity', READ, async (req) => {
    const cursor = queryOne(req.query, 'cursor')
    const { records, at } = await feed(node, callerOf(req), cursor != null ? cursors.open(cursor) : undefined)
    const peers = peerStates(node)
    return { cursor: cursors.seal(at), records, connected: peers.filter(p => p.connected).length, peers }
  })

  app.get('/api/console/policy', READ, async (req) => {
    const p = node.policy
    const caller = callerOf(req)
    return {
      name: p.name,
      description: p.description,
      // The file's path is the operator's business; readers get the rules.
      ...(caller.canWrite ? { source: p.source } : {}),
      defaults: p.defaults,
      groups: p.groups,
      rules: p.rules,
      warninglists: p.warninglists.lists.map(l => ({ id: l.id, name: l.name, type: l.type, entries: l.entries })),
      fixed: ['tlp-floor:red — red never leaves this node', 'tlp-floor:amber-* — amber goes from its author to its recipients only, never relayed', 'tlp-floor:green — green stays inside the federation']
    }
  })

  app.post('/api/console/policy/dry-run', { ...READ, bodyLimit: init.bodyLimit }, async (req) => dryRun(node, (req.body ?? {}) as DryRunBody))

  app.get('/api/console/why', READ, async (req) => {
    const record = queryOne(req.query, 'record')
    const peer = queryOne(req.query, 'peer')
    if (record == null || !RECORD_ID.test(record)) throw new DragnetError('DRAGNET_BAD_REQUEST', 'record must be a record id', { property: 'record' })
    if (peer == null || !PEER_ID.test(peer)) throw new DragnetError('DRAGNET_BAD_REQUEST', 'peer must be a PeerId', { property: 'peer' })
    const info = await node.store.getInfo(record)
    if (info == null || !sees(callerOf(req), info.tlp)) throw new DragnetError('DRAGNET_NOT_FOUND', `no record ${record}`)
    const member = rosterMember(node, peer)
    const entries = await node.store.auditEntries({ record, peer, limit: 100 })
    const explanation = await explainStored(node, record, member)
    return {
      record: { id: record, type: info.type, stixId: info.stixId, tlp: info.tlp, author: info.author },
      peer: { peerId: member.peerId, name: member.name, country: member.country, role: member.role },
      entries,
      decision_now: explanation?.decision ?? null,
      explanation: explanation ?? null
    }
  })

  const jobs = new Map<string, ImportJob>()
  app.post('/api/console/import', { ...WRITE, bodyLimit: init.bodyLimit }, async (req, reply) => {
    const job = startImport(node, jobs, (req.body ?? {}) as ImportBody)
    return reply.code(202).send(job)
  })
  app.get('/api/console/import/:job', WRITE, async (req) => {
    const job = jobs.get((req.params as { job: string }).job)
    if (job == null) throw new DragnetError('DRAGNET_NOT_FOUND', 'no such import job (finished jobs are kept 10 minutes)')
    return job
  })
}
