import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'

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

export interface AccessInit {
  /** the node's API token: writes, and reads of everything */
  token: string
  /** tokens that may read every TAXII collection */
  readTokens: readonly string[]
  /** the TLP:CLEAR collection is served without a token */
  publicClear: boolean
}

/**
 * Who is asking: `write` (the API token), `read` (a read token), `anonymous` (no credential),
 * or `invalid` (a credential that matches no token, or an Authorization header we cannot read).
 */
export type Access = 'write' | 'read' | 'anonymous' | 'invalid'

export function accessOf (req: FastifyRequest, init: AccessInit): Access {
  if (req.headers.authorization == null) return 'anonymous'
  const given = bearerOrBasic(req)
  if (given == null || given === '') return 'invalid'
  if (tokenMatches(given, init.token)) return 'write'
  // Compare with every read token, not stopping at a match, so timing does not tell which.
  let read = false
  for (const t of init.readTokens) if (tokenMatches(given, t)) read = true
  return read ? 'read' : 'invalid'
}
