import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { matchReadToken, type ReadTokenFile } from '../identity/index.js'
import { TLP_LEVELS, type Tlp } from '../record/index.js'

/** The credential a request carries: a bearer token, or the password of HTTP Basic (any user name). */
export function bearerOrBasic (req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  if (h == null) return undefined
  const space = h.indexOf(' ')
  const scheme = space < 0 ? h : h.slice(0, space)
  const rest = space < 0 ? '' : h.slice(space + 1).trim()
  // Auth schemes are case-insensitive (RFC 9110 11.1); some clients send "bearer".
  if (/^bearer$/i.test(scheme)) return rest
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(rest, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon >= 0 ? decoded.slice(colon + 1) : undefined
  }
  return undefined
}

/** Constant-time comparison, so a wrong token tells nothing about the right one. */
export function tokenMatches (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Who is asking, decided once per request before its body is read, and used by every route
 * that serves records to filter what it answers:
 * - `admin`: the node's API token (`<data>/api-token`): writes, and reads of every TLP;
 * - `reader`: a read token (`dragnet token create`, or the deprecated `taxii.readTokens`):
 *   reads up to its TLP ceiling, never writes;
 * - `anonymous`: no credential: REST reads while the API is on loopback (every TLP, as before),
 *   the TAXII TLP:CLEAR collection when `taxii.publicClear` is set, and public routes.
 */
export interface Caller {
  kind: 'admin' | 'reader' | 'anonymous'
  /** `admin`, the read token's name, or `anonymous` */
  name: string
  /** the strictest TLP this caller may see */
  maxTlp: Tlp
  canWrite: boolean
}

export const ADMIN: Caller = Object.freeze({ kind: 'admin', name: 'admin', maxTlp: 'red', canWrite: true })

export function anonymous (maxTlp: Tlp): Caller {
  return { kind: 'anonymous', name: 'anonymous', maxTlp, canWrite: false }
}

const RANK = new Map<Tlp, number>(TLP_LEVELS.map((t, i) => [t, i]))

/** May this caller see a record at `tlp`? (TLP_LEVELS runs from clear to red.) */
export function sees (caller: Caller, tlp: Tlp): boolean {
  return RANK.get(tlp)! <= RANK.get(caller.maxTlp)!
}

/** The TLP levels this caller may see, clear first. */
export function visibleTlps (caller: Caller): Tlp[] {
  return TLP_LEVELS.filter(t => sees(caller, t))
}

/** True when the caller sees every TLP (no filtering needed). */
export function seesAll (caller: Caller): boolean {
  return caller.maxTlp === 'red'
}

export interface CredentialsInit {
  /** the node's API token */
  adminToken: string
  /** `taxii.readTokens`: read tokens from the config file, ceiling `legacyMaxTlp` */
  legacyReadTokens: readonly string[]
  legacyMaxTlp: Tlp
  /** the data dir's read-token file, re-read when it changes */
  readTokens?: ReadTokenFile
}

/** Resolves a presented credential to a caller, or undefined when it matches no token. */
export async function callerForToken (given: string, init: CredentialsInit): Promise<Caller | undefined> {
  if (given === '') return undefined
  if (tokenMatches(given, init.adminToken)) return ADMIN
  // Compare with every token, not stopping at a match, so timing does not tell which matched.
  let legacy = -1
  init.legacyReadTokens.forEach((t, i) => { if (tokenMatches(given, t) && legacy < 0) legacy = i })
  const entry = init.readTokens != null ? matchReadToken(await init.readTokens.current(), given) : undefined
  if (entry != null) return { kind: 'reader', name: entry.name, maxTlp: entry.maxTlp, canWrite: false }
  if (legacy >= 0) return { kind: 'reader', name: `taxii.readTokens[${legacy}]`, maxTlp: init.legacyMaxTlp, canWrite: false }
  return undefined
}
