import { readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import { createSecureContext, type Server as TlsServer } from 'node:tls'
import type { ApiTls } from '../config/config.js'
import { Socket } from 'node:net'
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type FastifyReply } from 'fastify'
import { DragnetError, toDragnetError } from '../errors.js'
import { ReadTokenFile } from '../identity/index.js'
import type { DragnetNode } from '../node.js'
import { VersionIndex } from '../store/reads.js'
import { registerPurge } from './purge.js'
import { packageVersion } from '../util/version.js'
import { accessHook, isLoopbackHost, requireDeclaredAccess, type AccessInit } from './access.js'
import { registerFeeds } from './feeds.js'
import { createMetrics } from './metrics.js'
import { openApiDocument } from './openapi.js'
import { registerRest } from './rest.js'
import { registerStream } from './stream.js'
import { registerTaxii } from './taxii.js'
import { registerConsole } from './console.js'
import { registerWeb } from './web.js'

export { bearerOrBasic, sees, visibleTlps, type Caller } from './auth.js'
export { callerOf, type AccessLevel, type RouteAccess } from './access.js'
export { parsePublishBody, summarizeVerdicts, type PublishResult } from './rest.js'

export interface ApiInit {
  /** the node's API token: writes, and reads of every TLP */
  token: string
  /** deprecated `taxii.readTokens`: read tokens with ceiling red; default the node's config */
  readTokens?: string[]
  /** serve the TLP:CLEAR collection without a token; default the node's taxii.publicClear */
  publicClear?: boolean
  /** largest request body of an authenticated write, in bytes; default the node's http.maxBodyBytes */
  bodyLimit?: number
  /**
   * REST reads need a read or write token too. `startApi` sets this when the API listens on
   * anything but loopback: the REST API serves every TLP, so off the machine it must not be open.
   */
  authenticateReads?: boolean
  /** the data dir whose read-tokens.json is honoured (default the node's); false for none */
  tokenDir?: string | false
  /** Host names answered besides loopback; default the node's http.hosts */
  hosts?: string[]
  /** base URL for TAXII discovery; default the node's http.publicUrl, else the bound address */
  publicUrl?: string
  /** the built web console served at `/` (default dist/web of this checkout) */
  webRoot?: string
  /** serve HTTPS with this certificate and key (PEM); `startApi` reads the node's `api.tls` files */
  https?: { cert: Buffer, key: Buffer }
}

/**
 * Requests are refused before their body is read unless their route accepts a body from this
 * caller; bodies of everything else (unknown routes included) are capped at this.
 */
export const UNAUTHENTICATED_BODY_LIMIT = 16 * 1024

interface ApiState {
  /** the address the server listens on, once it does */
  bound?: { host: string, port: number }
  scheme: 'http' | 'https'
}

const states = new WeakMap<FastifyInstance, ApiState>()

function sendError (reply: FastifyReply, err: DragnetError, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(err.status).type('application/json').send({ ...err.toJSON(), ...extra })
}

/** Registered routes as `METHOD path` (OpenAPI style `{param}`), for the OpenAPI coverage test. */
export function routeList (app: FastifyInstance): string[] {
  return ((app as FastifyInstance & { dragnetRoutes?: string[] }).dragnetRoutes ?? []).slice()
}

/** A LevelDB failure as the API reports it: the store cannot serve, for a reason. */
function storeFailure (node: DragnetNode, err: any): DragnetError | undefined {
  if (typeof err?.code !== 'string' || !err.code.startsWith('LEVEL_')) return undefined
  if (!node.store.health().ok || err.code === 'LEVEL_IO_ERROR') return new DragnetError('DRAGNET_STORAGE', `the store cannot serve this request: ${String(err.message)}`, {}, { cause: err })
  return new DragnetError('DRAGNET_STOPPED', `the store is not open: ${String(err.message)}`, {}, { cause: err })
}

/** How long a refused upload may go on being discarded before its connection is cut. */
const LINGER_MS = 2000

/**
 * Closes a connection whose request body was left unread, as a lingering close does: send our
 * FIN after the answer, discard what the client still sends, cut it after LINGER_MS. Closing at
 * once with unread bytes makes the kernel send a reset, which can wipe the answer from the
 * client's receive buffer before it reads it: the client would see "connection reset" instead
 * of the refusal.
 */
function lingeringClose (socket: Socket): void {
  if (socket.destroyed) return
  socket.end()
  const cut = setTimeout(() => { socket.destroy() }, LINGER_MS)
  cut.unref()
  socket.once('close', () => { clearTimeout(cut) })
}

function fastifyOptions (node: DragnetNode, https: ApiInit['https']): FastifyHttpOptions<Server> {
  const http = node.config.http
  return {
    // Typed as the http server's options; with `https` fastify builds an https.Server, which has the same timeouts.
    ...(https != null ? { https: { cert: https.cert, key: https.key, minVersion: 'TLSv1.2' } } as unknown as Record<string, never> : {}),
    logger: false,
    bodyLimit: UNAUTHENTICATED_BODY_LIMIT,
    // TAXII URLs end in "/" and clients differ in keeping it; ids of custom STIX types can pass
    // the default 100-character limit on a path parameter.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 },
    // A client trickling headers or a body is cut off; an idle socket is closed.
    requestTimeout: http.requestTimeoutMs,
    connectionTimeout: http.idleTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    http: {
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      // How often Node looks for requests past their timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(http.headersTimeoutMs / 4)))
    }
  }
}

/** Errors as `{ code, message }` with the status of the one table; 404s; refusals end the connection. */
function handleErrors (app: FastifyInstance, node: DragnetNode): void {
  app.setErrorHandler((err: any, req, reply) => {
    if (err instanceof DragnetError) return sendError(reply, err)
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, new DragnetError('DRAGNET_TOO_LARGE', `request body exceeds ${req.routeOptions.bodyLimit ?? UNAUTHENTICATED_BODY_LIMIT} bytes`))
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, new DragnetError('DRAGNET_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type; send application/json'))
    const failure = storeFailure(node, err)
    if (failure != null) return sendError(reply, failure)
    if (err.statusCode === 400 || err instanceof SyntaxError || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return sendError(reply, new DragnetError('DRAGNET_BAD_JSON', `request body is not valid JSON: ${err.message}`))
    }
    if (typeof err.statusCode === 'number' && err.statusCode < 500) return sendError(reply, new DragnetError('DRAGNET_BAD_REQUEST', err.message))
    node.log.error({ err: err.message, stack: err.stack }, 'API error')
    return sendError(reply, toDragnetError(err))
  })
  // An answer given before the request body was read in full (a refusal, a 404, a 413) ends the
  // connection: the rest of the body is never buffered, only discarded for a short linger.
  app.addHook('onSend', async (req, reply) => {
    // (inject() requests have no socket of their own and leave `complete` unset.)
    if (req.raw.complete === false && req.raw.socket instanceof Socket) reply.raw.once('finish', () => { lingeringClose(req.raw.socket) })
  })
  app.setNotFoundHandler((req, reply) => sendError(reply, new DragnetError('DRAGNET_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0].slice(0, 200)}`)))
}

/** Who may call what: the API token, read tokens (file and deprecated config), loopback, Host names. */
function accessInit (node: DragnetNode, init: ApiInit, state: ApiState): AccessInit {
  const tokenDir = init.tokenDir ?? node.dataDir
  const readTokens = tokenDir !== false
    ? new ReadTokenFile(tokenDir, (err) => { node.log.warn({ err: err.message }, 'cannot read the read-token file: no read token is accepted until it is fixed') })
    : undefined
  return {
    adminToken: init.token,
    legacyReadTokens: init.readTokens ?? node.config.taxii.readTokens,
    legacyMaxTlp: 'red',
    ...(readTokens != null ? { readTokens } : {}),
    openReads: init.authenticateReads !== true,
    publicClear: init.publicClear ?? node.config.taxii.publicClear,
    host: {
      hosts: init.hosts ?? node.config.http.hosts,
      boundAddress: () => state.bound?.host
    }
  }
}

/**
 * The node's HTTP API: JSON, errors as `{ code, message, details? }` with the HTTP status from
 * the one ERROR_STATUS table; every route declares its access level (see access.ts); a
 * read-only TAXII 2.1 server under /taxii2/; Prometheus metrics at /metrics; the OpenAPI
 * description at /api/openapi.json. Route tests use `inject()`.
 */
export async function buildApi (node: DragnetNode, init: ApiInit): Promise<FastifyInstance> {
  const bodyLimit = init.bodyLimit ?? node.config.http.maxBodyBytes
  const app = Fastify(fastifyOptions(node, init.https))
  const state: ApiState = { scheme: init.https != null ? 'https' : 'http' }
  states.set(app, state)
  app.server.maxConnections = node.config.http.maxConnections
  requireDeclaredAccess(app)

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

  handleErrors(app, node)
  app.addHook('onRequest', accessHook(accessInit(node, init, state)))

  // Which STIX ids have several records: TAXII and export ask it for every record they serve.
  const index = new VersionIndex(node.store)
  const offStored = node.ingest.onStored((v) => { index.noteStored(v.info.stixId) })
  app.addHook('onClose', async () => { offStored() })
  index.ready.catch((err: Error) => { node.log.error({ err: err.message }, 'could not index STIX versions') })

  const metrics = createMetrics(node)
  app.addHook('onClose', async () => { metrics.close() })

  const version = packageVersion()
  await registerRest(app, node, { metrics, index, bodyLimit, openapi: () => openApiDocument({ version, bodyLimit }) })
  await registerFeeds(app, node)
  await registerPurge(app, node)
  // Below the idle timeout, or the server would cut a quiet stream before its keep-alive.
  registerStream(app, node, { maxClients: node.config.stream.maxClients, keepAliveMs: Math.min(node.config.stream.keepAliveMs, Math.floor(node.config.http.idleTimeoutMs / 2)) })
  await registerTaxii(app, node, index, {
    publicClear: init.publicClear ?? node.config.taxii.publicClear,
    maxContentLength: bodyLimit,
    baseUrl: () => taxiiBase(node, init, state)
  })
  await registerConsole(app, node, { bodyLimit })
  await registerWeb(app, init.webRoot != null ? { root: init.webRoot } : {})
  await app.ready()
  return app
}

/**
 * Where TAXII clients reach this server: configured (`http.publicUrl`: the reverse proxy's
 * URL), else the address the API is bound to. Never the request's Host header, which the
 * client chooses.
 */
function taxiiBase (node: DragnetNode, init: ApiInit, state: ApiState): string {
  const configured = init.publicUrl ?? node.config.http.publicUrl
  if (configured != null) return configured.replace(/\/+$/, '')
  const b = state.bound
  if (b == null) return `${state.scheme}://${typeof node.config.api === 'string' ? node.config.api : '127.0.0.1:7700'}`
  let host = b.host
  if (host === '0.0.0.0') host = '127.0.0.1'
  else if (host === '::') host = '::1'
  return `${state.scheme}://${host.includes(':') ? `[${host}]` : host}:${b.port}`
}

export interface RunningApi {
  address: string
  /** `http` or `https` (api.tls) */
  scheme: 'http' | 'https'
  app: FastifyInstance
  /** stops accepting, closes idle connections, and cuts the rest after http.closeGraceMs */
  close: () => Promise<void>
  /**
   * Reads `api.tls` again (these files, or the node's configured ones) and serves the new
   * certificate to new connections; connections open now keep theirs. A pair that does not load
   * is refused (DRAGNET_BAD_CONFIG) and the current certificate stays. DRAGNET_BAD_CONFIG too
   * when the API does not serve TLS (turning it on or off needs a restart).
   */
  reloadTls: (tls?: ApiTls) => Promise<void>
}

/** Reads and checks `api.tls`: a certificate and a key that belong together, or DRAGNET_BAD_CONFIG. */
export async function readTls (tls: ApiTls): Promise<{ cert: Buffer, key: Buffer }> {
  const read = async (what: string, file: string): Promise<Buffer> => await readFile(file).catch((err: any) => {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `api.tls.${what}: cannot read ${file}: ${String(err.code ?? err.message)}`, { property: `api.tls.${what}` })
  })
  const [cert, key] = [await read('cert', tls.cert), await read('key', tls.key)]
  try {
    createSecureContext({ cert, key })
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `api.tls: ${tls.cert} and ${tls.key} are not a PEM certificate and its private key: ${String(err.message)}`, { property: 'api.tls' })
  }
  return { cert, key }
}

/** Listens on host:port and returns the bound address (port 0 picks a free one). */
export async function startApi (node: DragnetNode, hostPort: string, init: ApiInit): Promise<RunningApi> {
  const idx = hostPort.lastIndexOf(':')
  let host = hostPort.slice(0, idx)
  if (host.startsWith('[')) host = host.slice(1, -1)
  const loopback = isLoopbackHost(host.toLowerCase())
  const https = init.https ?? (node.config.apiTls != null ? await readTls(node.config.apiTls) : undefined)
  const app = await buildApi(node, { authenticateReads: !loopback, ...init, ...(https != null ? { https } : {}) })
  const port = Number(hostPort.slice(idx + 1))
  await app.listen({ host, port })
  const addr = app.server.address()
  const bound = typeof addr === 'object' && addr != null ? addr.port : port
  states.get(app)!.bound = { host: host.toLowerCase(), port: bound }
  const address = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`
  if (!loopback && (init.publicUrl ?? node.config.http.publicUrl) == null) {
    node.log.warn({ api: address }, 'the API listens beyond loopback without http.publicUrl: TAXII discovery names the bound address; set http.publicUrl to the URL clients use')
  }
  const grace = node.config.http.closeGraceMs
  return {
    address,
    scheme: https != null ? 'https' : 'http',
    app,
    reloadTls: async (tls?: ApiTls) => {
      const files = tls ?? node.config.apiTls
      if (https == null || files == null) throw new DragnetError('DRAGNET_BAD_CONFIG', 'api.tls: this API was started without TLS; serving HTTPS needs a restart', { property: 'api.tls' })
      const pair = await readTls(files)
      ;(app.server as unknown as TlsServer).setSecureContext(pair)
    },
    close: async () => {
      // In-flight requests get a grace period; a client trickling a body does not hold the node.
      const cut = setTimeout(() => { app.server.closeAllConnections() }, grace)
      try {
        await app.close()
      } finally {
        clearTimeout(cut)
      }
    }
  }
}
