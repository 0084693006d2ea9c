import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { DragnetError } from '../errors.js'
import { anonymous, bearerOrBasic, callerForToken, type Caller, type CredentialsInit } from './auth.js'

/*
 * The API's trust boundary. Every route declares who may call it when it is registered
 * (`config: { access }`); a route without a declaration stops the server from starting, so a
 * route added later cannot be open by accident. The decision is made in `onRequest`, which
 * fastify runs after routing and before the body is read: it looks at the route that matched,
 * never at the URL text, so `/%61pi/records`, `/metrics/`, `//api//records` and `/API/records`
 * get the answer of the route they reach (or a 404), and an unauthenticated upload is refused
 * before a byte of it is buffered.
 */

/**
 * - `public`: anyone (`/health`);
 * - `read`: a read token or the API token; anonymous callers only where `realm` allows;
 * - `write`: the API token.
 */
export type AccessLevel = 'public' | 'read' | 'write'

export interface RouteAccess {
  access: AccessLevel
  /**
   * `rest` (default): anonymous reads are open while the API listens on loopback only, and a
   * wrong token is 403. `taxii`: anonymous readers get TLP:CLEAR when `taxii.publicClear` is set,
   * nothing otherwise, and a wrong token is 401 (TAXII clients retry with credentials on 401).
   */
  realm?: 'rest' | 'taxii'
}

const LEVELS: readonly string[] = ['public', 'read', 'write']

/** Refuses, at registration, any route that does not declare its access level. */
export function requireDeclaredAccess (app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const access = (route.config as Partial<RouteAccess> | undefined)?.access
    if (access == null || !LEVELS.includes(access)) {
      const methods = Array.isArray(route.method) ? route.method.join(',') : route.method
      throw new Error(`route ${methods} ${route.url} declares no access level: register it with config: { access: 'public' | 'read' | 'write' }`)
    }
  })
}

/** The caller a request was authorised as; routes filter what they serve by it. */
export function callerOf (req: FastifyRequest): Caller {
  const c = (req as FastifyRequest & { dragnetCaller?: Caller }).dragnetCaller
  // Unreachable for a declared route: the access hook sets it before any handler runs.
  if (c == null) throw new DragnetError('DRAGNET_FORBIDDEN', 'request was not authorised')
  return c
}

export interface HostCheck {
  /** names (and IP literals) configured for the node, besides the loopback names */
  hosts: readonly string[]
  /** the address the API is bound to, when it is a specific one */
  boundAddress?: () => string | undefined
}

/** The host of a Host header value without port, brackets, trailing dot or case. */
export function hostName (header: string): string {
  let h = header.trim().toLowerCase()
  if (h.startsWith('[')) {
    const close = h.indexOf(']')
    return close < 0 ? h : h.slice(1, close)
  }
  const colon = h.lastIndexOf(':')
  if (colon >= 0) h = h.slice(0, colon)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h
}

export function isLoopbackHost (name: string): boolean {
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'))
}

/**
 * Is this Host header one the node answers to? Loopback names, the configured names, and the
 * address the API is bound to. A browser tricked by DNS rebinding sends the attacker's name,
 * which is none of these, so a web page can never read the API through the user's browser.
 */
export function hostAllowed (header: string | undefined, check: HostCheck): boolean {
  if (header == null || header === '') return false
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?$/.test(header.trim())) return false
  const name = hostName(header)
  if (isLoopbackHost(name)) return true
  if (check.hosts.some(h => hostName(h) === name)) return true
  const bound = check.boundAddress?.()
  return bound != null && bound === name
}

export interface AccessInit extends CredentialsInit {
  /** REST reads without a credential are open (the API listens on loopback only) */
  openReads: boolean
  /** the TAXII TLP:CLEAR collection is served without a credential */
  publicClear: boolean
  host: HostCheck
}

/**
 * The onRequest hook: Host check, then the caller for the matched route's access level.
 * Throws DragnetErrors, answered by the error handler of the route's context (REST or TAXII);
 * an answer before the body is read closes the connection (server.ts), so the body never is.
 */
export function accessHook (init: AccessInit): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    if (!hostAllowed(req.headers.host, init.host)) {
      throw new DragnetError('DRAGNET_BAD_HOST', 'this node does not answer to that Host name: use a loopback address or a name in http.hosts')
    }
    // Unknown routes serve nothing: the not-found handler answers (bodies are capped small).
    if (req.is404) return
    const route = req.routeOptions.config as Partial<RouteAccess>
    const caller = await decide(req, route, init)
    ;(req as FastifyRequest & { dragnetCaller?: Caller }).dragnetCaller = caller
  }
}

async function decide (req: FastifyRequest, route: Partial<RouteAccess>, init: AccessInit): Promise<Caller> {
  const taxii = route.realm === 'taxii'
  const given = req.headers.authorization != null ? bearerOrBasic(req) ?? '' : undefined
  if (route.access === 'public') {
    const known = given != null ? await callerForToken(given, init) : undefined
    return known ?? anonymous('clear')
  }
  if (route.access !== 'read' && route.access !== 'write') {
    throw new DragnetError('DRAGNET_FORBIDDEN', 'this route declares no access level')
  }
  if (given == null) {
    if (route.access === 'read' && !taxii && init.openReads) return anonymous('red')
    if (route.access === 'read' && taxii && init.publicClear) return anonymous('clear')
    throw new DragnetError('DRAGNET_UNAUTHORIZED', route.access === 'write'
      ? 'writes need the node\'s API token (Authorization: Bearer <token>; the token is in <data dir>/api-token)'
      : taxii
        ? 'TAXII needs a read token or the API token (Authorization: Bearer <token>, or Basic with the token as password)'
        : 'this API listens beyond loopback: reads need a read token or the API token (Authorization: Bearer <token>)')
  }
  const caller = await callerForToken(given, init)
  if (caller == null) {
    if (taxii) throw new DragnetError('DRAGNET_UNAUTHORIZED', 'the credential matches no token of this node (Authorization: Bearer <token>, or Basic with the token as password)')
    throw new DragnetError('DRAGNET_FORBIDDEN', 'wrong API token')
  }
  if (route.access === 'write' && !caller.canWrite) {
    throw new DragnetError('DRAGNET_FORBIDDEN', `read token ${caller.name} cannot write: writes need the node's API token`)
  }
  return caller
}
