import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { DragnetError, toDragnetError } from '../errors.js'
import type { DragnetNode } from '../node.js'
import { VersionIndex } from '../store/reads.js'
import { bearerOrBasic, tokenMatches } from './auth.js'
import { createMetrics } from './metrics.js'
import { openApiDocument } from './openapi.js'
import { registerRest } from './rest.js'
import { registerTaxii } from './taxii.js'

export { bearerOrBasic } from './auth.js'
export { parsePublishBody, summarizeVerdicts, type PublishResult } from './rest.js'

export interface ApiInit {
  /** bearer token for writes (and for reading every TAXII collection) */
  token: string
  /** tokens that may read every TAXII collection; default the node's taxii.readTokens */
  readTokens?: string[]
  /** serve the TLP:CLEAR collection without a token; default the node's taxii.publicClear */
  publicClear?: boolean
  /** largest request body in bytes (default 64 MiB) */
  bodyLimit?: number
  /**
   * REST reads need a read or write token too. `startApi` sets this when the API listens on
   * anything but loopback: the REST API serves every TLP, so off the machine it must not be open.
   */
  authenticateReads?: boolean
}

const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024

function packageVersion (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
    } catch {
      dir = dirname(dir)
    }
  }
  return '0.0.0'
}

function sendError (reply: FastifyReply, err: DragnetError, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(err.status).type('application/json').send({ ...err.toJSON(), ...extra })
}

/** Registered routes as `METHOD path` (OpenAPI style `{param}`), for the OpenAPI coverage test. */
export function routeList (app: FastifyInstance): string[] {
  return ((app as FastifyInstance & { dragnetRoutes?: string[] }).dragnetRoutes ?? []).slice()
}

/**
 * The node's HTTP API: JSON, errors as `{ code, message, details? }` with the HTTP status from
 * the one ERROR_STATUS table, writes behind the bearer token; a read-only TAXII 2.1 server under
 * /taxii2/; Prometheus metrics at /metrics; the OpenAPI description at /api/openapi.json.
 * Route tests use `inject()`.
 */
export async function buildApi (node: DragnetNode, init: ApiInit): Promise<FastifyInstance> {
  const bodyLimit = init.bodyLimit ?? DEFAULT_BODY_LIMIT
  const app = Fastify({
    logger: false,
    bodyLimit,
    // TAXII URLs end in "/" and clients differ in keeping it; ids of custom STIX types can pass
    // the default 100-character limit on a path parameter.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 }
  })

  // Request bodies are JSON; a text/plain body is a client mistake, not a STIX string. STIX
  // tools label bundles with the STIX media type: that is JSON too.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/stix+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))

  const routes: string[] = []
  ;(app as FastifyInstance & { dragnetRoutes?: string[] }).dragnetRoutes = routes
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method]
    const url = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    for (const m of methods) if (m !== 'HEAD') routes.push(`${m} ${url}`)
  })

  app.setErrorHandler((err: any, _req, reply) => {
    if (err instanceof DragnetError) return sendError(reply, err)
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, new DragnetError('DRAGNET_TOO_LARGE', `request body exceeds ${bodyLimit} bytes`))
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, new DragnetError('DRAGNET_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type; send application/json'))
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

  // Which STIX ids have several records: TAXII and export ask it for every record they serve.
  const index = new VersionIndex(node.store)
  const offStored = node.ingest.onStored((v) => { index.noteStored(v.info.stixId) })
  app.addHook('onClose', async () => { offStored() })
  if (init.authenticateReads === true) {
    const readers = [init.token, ...(init.readTokens ?? node.config.taxii.readTokens)]
    app.addHook('onRequest', async (req) => {
      const path = req.url.split('?')[0]
      if (!path.startsWith('/api/') && path !== '/metrics') return
      const given = bearerOrBasic(req)
      if (given == null) throw new DragnetError('DRAGNET_UNAUTHORIZED', 'this API listens beyond loopback: reads need a read or write token (Authorization: Bearer <token>)')
      if (!readers.some(t => tokenMatches(given, t))) throw new DragnetError('DRAGNET_FORBIDDEN', 'wrong API token')
    })
  }
  index.ready.catch((err: Error) => { node.log.error({ err: err.message }, 'could not index STIX versions') })

  const metrics = createMetrics(node)
  app.addHook('onClose', async () => { metrics.close() })

  const version = packageVersion()
  await registerRest(app, node, { requireWrite, metrics, index, openapi: () => openApiDocument({ version, bodyLimit }) })
  await registerTaxii(app, node, index, {
    token: init.token,
    readTokens: init.readTokens ?? node.config.taxii.readTokens,
    publicClear: init.publicClear ?? node.config.taxii.publicClear,
    maxContentLength: bodyLimit
  })
  await app.ready()
  return app
}

/** Listens on host:port and returns the bound address (port 0 picks a free one). */
export async function startApi (node: DragnetNode, hostPort: string, init: ApiInit): Promise<{ address: string, close: () => Promise<void>, app: FastifyInstance }> {
  const idx = hostPort.lastIndexOf(':')
  let host = hostPort.slice(0, idx)
  if (host.startsWith('[')) host = host.slice(1, -1)
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host)
  const app = await buildApi(node, { authenticateReads: !loopback, ...init })
  const port = Number(hostPort.slice(idx + 1))
  await app.listen({ host, port })
  const addr = app.server.address()
  const bound = typeof addr === 'object' && addr != null ? addr.port : port
  const address = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`
  return { address, app, close: async () => { await app.close() } }
}
