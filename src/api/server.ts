import { timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { DragnetError, ERROR_STATUS, toDragnetError } from '../errors.js'
import type { Verdict } from '../ingest/index.js'
import type { DragnetNode } from '../node.js'
import { isTlp, TLP_LEVELS, type Tlp } from '../record/index.js'
import { classifyValue, stixObjectsFromInput } from '../stix/index.js'
import { getRecordJson, lookup } from '../store/queries.js'

export interface ApiInit {
  /** bearer token for writes */
  token: string
  /** tokens that may read (TAXII); the write token may read too */
  readTokens?: string[]
  bodyLimit?: number
}

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

function tokenMatches (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export function bearerOrBasic (req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  if (h == null) return undefined
  if (h.startsWith('Bearer ')) return h.slice(7).trim()
  if (h.startsWith('Basic ')) {
    const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon >= 0 ? decoded.slice(colon + 1) : undefined
  }
  return undefined
}

/** Parses the publish request: a STIX object/array/bundle, or `{ stix, tlp, to }`; tlp/to also as query. */
export function parsePublishBody (body: unknown, query: Record<string, unknown>): { objects: unknown[], tlp: Tlp, to?: string[] } {
  let payload = body
  let tlp: unknown = query.tlp
  let to: unknown = query.to
  if (body != null && typeof body === 'object' && !Array.isArray(body) && !('type' in body) && 'stix' in body) {
    const w = body as Record<string, unknown>
    payload = w.stix
    tlp = w.tlp ?? tlp
    to = w.to ?? to
  }
  tlp = tlp ?? 'green'
  if (!isTlp(tlp)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(tlp)}`)
  const toList = typeof to === 'string' ? to.split(',').map(s => s.trim()).filter(s => s !== '') : Array.isArray(to) ? to.map(String) : undefined
  return { objects: stixObjectsFromInput(payload), tlp, ...(toList != null && toList.length > 0 ? { to: toList } : {}) }
}

function sendError (reply: FastifyReply, err: DragnetError, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(err.status).type('application/json').send({ ...err.toJSON(), ...extra })
}

/**
 * The node's HTTP API: JSON, errors as `{ code, message, details? }` with the HTTP status from
 * the one ERROR_STATUS table, writes behind the bearer token. Route tests use `inject()`.
 */
export async function buildApi (node: DragnetNode, init: ApiInit): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: init.bodyLimit ?? 64 * 1024 * 1024 })

  app.setErrorHandler((err: any, _req, reply) => {
    if (err instanceof DragnetError) return sendError(reply, err)
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, new DragnetError('DRAGNET_TOO_LARGE', `request body exceeds ${init.bodyLimit ?? 64 * 1024 * 1024} bytes`))
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, new DragnetError('DRAGNET_BAD_REQUEST', `unsupported content type; send application/json`))
    if (err.statusCode === 400 || err instanceof SyntaxError || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return sendError(reply, new DragnetError('DRAGNET_BAD_JSON', `request body is not valid JSON: ${err.message}`))
    }
    if (typeof err.statusCode === 'number' && err.statusCode < 500) return sendError(reply, new DragnetError('DRAGNET_BAD_REQUEST', err.message))
    node.log.error({ err: err.message, stack: err.stack }, 'API error')
    return sendError(reply, toDragnetError(err))
  })
  app.setNotFoundHandler((req, reply) => sendError(reply, new DragnetError('DRAGNET_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)))

  const requireWrite = async (req: FastifyRequest): Promise<void> => {
    const given = bearerOrBasic(req)
    if (given == null) throw new DragnetError('DRAGNET_UNAUTHORIZED', 'writes need the node\'s API token (Authorization: Bearer <token>; the token is in <data dir>/api-token)')
    if (!tokenMatches(given, init.token)) throw new DragnetError('DRAGNET_FORBIDDEN', 'wrong API token')
  }

  app.get('/health', async () => ({ ok: true, peerId: node.peerId, running: node.isRunning }))

  app.get('/api/status', async () => await node.status())

  app.post('/api/records', { preHandler: requireWrite }, async (req, reply) => {
    const { objects, tlp, to } = parsePublishBody(req.body, req.query as Record<string, unknown>)
    const verdicts = await node.publish(objects, { tlp, ...(to != null ? { to } : {}), source: 'local' })
    const summary = summarizeVerdicts(verdicts)
    if (summary.rejected > 0 && summary.stored + summary.duplicates === 0) {
      const first = verdicts.find(v => v.status === 'rejected')!
      if (first.status === 'rejected') {
        return reply.code(ERROR_STATUS[first.code]).send({ code: first.code, message: first.reason, ...(first.details != null ? { details: first.details } : {}), ...summary })
      }
    }
    return reply.code(summary.rejected > 0 ? 207 : 201).send(summary)
  })

  app.get('/api/records/:id', async (req) => {
    const { id } = req.params as { id: string }
    if (!/^1220[0-9a-f]{64}$/.test(id)) throw new DragnetError('DRAGNET_BAD_REQUEST', `not a record id: ${id}`)
    const rec = await getRecordJson(node.store, id)
    if (rec == null) throw new DragnetError('DRAGNET_NOT_FOUND', `no record ${id}`)
    return rec
  })

  app.get('/api/lookup', async (req) => {
    const { value } = req.query as { value?: string }
    if (value == null || value === '') throw new DragnetError('DRAGNET_BAD_REQUEST', 'lookup needs ?value=')
    const o = classifyValue(value)
    if (o == null) throw new DragnetError('DRAGNET_BAD_REQUEST', `cannot tell what kind of observable "${value}" is (IP, CIDR, domain, URL, email or MD5/SHA-1/SHA-256)`)
    return { value: o.value, kind: o.kind, records: await lookup(node.store, o) }
  })

  return app
}

/** Listens on host:port and returns the bound address (port 0 picks a free one). */
export async function startApi (node: DragnetNode, hostPort: string, init: ApiInit): Promise<{ address: string, close: () => Promise<void>, app: FastifyInstance }> {
  const app = await buildApi(node, init)
  const idx = hostPort.lastIndexOf(':')
  let host = hostPort.slice(0, idx)
  if (host.startsWith('[')) host = host.slice(1, -1)
  const port = Number(hostPort.slice(idx + 1))
  await app.listen({ host, port })
  const addr = app.server.address()
  const bound = typeof addr === 'object' && addr != null ? addr.port : port
  const address = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`
  return { address, app, close: async () => { await app.close() } }
}
