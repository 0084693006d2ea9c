import { DragnetError } from '../errors.js'
import { TLP_LEVELS, type Tlp } from '../record/index.js'
import { seededUuid } from '../util/uuid.js'
import { parseStixTimestamp } from '../stix/index.js'

/*
 * The pure parts of the TAXII 2.1 server: media types, timestamps, collection ids, query
 * filters and the opaque `next` cursor. No I/O here, so all of it is unit-tested directly.
 */

export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1'
export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1'
export const API_ROOT = 'dragnet'
export const DEFAULT_LIMIT = 100
export const MAX_LIMIT = 1000

/** One collection per TLP level, with ids that are the same on every node (clients can hard-code them). */
export interface CollectionInfo {
  tlp: Tlp
  id: string
  alias: string
  title: string
}

export const COLLECTIONS: readonly CollectionInfo[] = TLP_LEVELS.map(tlp => ({
  tlp,
  id: seededUuid(`dragnet/taxii/collection/${tlp}`),
  alias: `tlp-${tlp.replace('+', '-')}`,
  title: `TLP:${tlp.toUpperCase()}`
}))

export function collectionById (idOrAlias: string): CollectionInfo | undefined {
  const k = idOrAlias.toLowerCase()
  return COLLECTIONS.find(c => c.id === k || c.alias === k)
}

/**
 * Whether an Accept header admits TAXII 2.1 JSON: `application/taxii+json;version=2.1`,
 * `application/taxii+json` without a version (the latest, which is 2.1), or a wildcard. An absent
 * header accepts anything (RFC 9110 12.5.1). Entries with q=0 are refusals.
 */
export function acceptsTaxii (accept: string | undefined): boolean {
  if (accept == null || accept.trim() === '') return true
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map(s => s.trim().toLowerCase())
    let version: string | undefined
    let q = 1
    for (const p of params) {
      const eq = p.indexOf('=')
      const k = eq < 0 ? p : p.slice(0, eq).trim()
      const v = eq < 0 ? '' : p.slice(eq + 1).trim().replace(/^"|"$/g, '')
      if (k === 'version') version = v
      else if (k === 'q') q = Number(v)
    }
    if (!(q > 0)) continue
    if (type === '*/*' || type === 'application/*') return true
    if (type === 'application/taxii+json' && (version == null || version === '2.1')) return true
  }
  return false
}

/** RFC 3339 UTC with microseconds, as TAXII writes timestamps: `2026-01-01T10:00:00.123000Z`. */
export function taxiiTimestamp (ms: number): string {
  return new Date(ms).toISOString().slice(0, -1) + '000Z'
}

/** A timestamp in microseconds since the epoch, or null when it is not RFC 3339. */
export function timestampMicros (text: string): number | null {
  const ms = parseStixTimestamp(text)
  return ms == null ? null : Math.round(ms * 1000)
}

// ------------------------------------------------------------------ filters

export interface VersionFilter {
  all: boolean
  first: boolean
  last: boolean
  /** exact versions asked for, in microseconds */
  at: Set<number>
}

export interface TaxiiQuery {
  limit: number
  /** date_added strictly after this (microseconds) */
  addedAfterUs?: number
  ids?: Set<string>
  types?: Set<string>
  versions: VersionFilter
  /** false when match[spec_version] names no version this server holds (it holds 2.1 only) */
  specVersionOk: boolean
  next?: Cursor
}

export type Endpoint = 'objects' | 'manifest' | 'object' | 'versions'

// Which filters each endpoint takes (TAXII 2.1 sections 5.3-5.8).
const ALLOWED: Readonly<Record<Endpoint, readonly string[]>> = {
  objects: ['added_after', 'limit', 'next', 'match[id]', 'match[type]', 'match[version]', 'match[spec_version]'],
  manifest: ['added_after', 'limit', 'next', 'match[id]', 'match[type]', 'match[version]', 'match[spec_version]'],
  object: ['added_after', 'limit', 'next', 'match[version]', 'match[spec_version]'],
  versions: ['added_after', 'limit', 'next', 'match[spec_version]']
}

function bad (message: string, property?: string): DragnetError {
  return new DragnetError('DRAGNET_BAD_REQUEST', message, property != null ? { property } : {})
}

function listOf (v: unknown): string[] {
  const parts = Array.isArray(v) ? v.map(String) : [String(v)]
  return parts.flatMap(p => p.split(',')).map(s => s.trim()).filter(s => s !== '')
}

/**
 * Reads the query of a TAXII request. Lists are comma-separated (a repeated parameter adds to
 * the list); values within one filter are ORed, filters are ANDed. A filter the endpoint does not
 * take, or a malformed value, is a 400 that names it.
 */
export function parseTaxiiQuery (query: Record<string, unknown>, endpoint: Endpoint, collection: Tlp, seal?: CursorSeal): TaxiiQuery {
  const allowed = ALLOWED[endpoint]
  for (const k of Object.keys(query)) {
    if (!allowed.includes(k)) {
      throw bad(k.startsWith('match[') ? `filter ${k} is not supported here (this endpoint takes ${allowed.join(', ')})` : `unknown query parameter ${k} (this endpoint takes ${allowed.join(', ')})`, k)
    }
  }
  const q: TaxiiQuery = { limit: DEFAULT_LIMIT, versions: { all: false, first: false, last: false, at: new Set() }, specVersionOk: true }
  if (query.limit != null) {
    const s = listOf(query.limit)
    const n = s.length === 1 && /^[0-9]{1,9}$/.test(s[0]) ? Number(s[0]) : NaN
    if (!(n >= 1)) throw bad(`limit must be a positive integer, got ${String(query.limit)}`, 'limit')
    // A server may return fewer than asked (TAXII 2.1 3.4); more than MAX_LIMIT a page never.
    q.limit = Math.min(n, MAX_LIMIT)
  }
  if (query.added_after != null) {
    const s = listOf(query.added_after)
    const us = s.length === 1 ? timestampMicros(s[0]) : null
    if (us == null) throw bad(`added_after must be an RFC 3339 timestamp such as 2026-01-01T00:00:00.000000Z, got ${String(query.added_after)}`, 'added_after')
    q.addedAfterUs = us
  }
  if (query['match[id]'] != null) q.ids = new Set(listOf(query['match[id]']))
  if (query['match[type]'] != null) q.types = new Set(listOf(query['match[type]']))
  const versions = query['match[version]'] != null ? listOf(query['match[version]']) : ['last']
  if (versions.length === 0) throw bad('match[version] is empty', 'match[version]')
  for (const v of versions) {
    if (v === 'all') q.versions.all = true
    else if (v === 'first') q.versions.first = true
    else if (v === 'last') q.versions.last = true
    else {
      const us = timestampMicros(v)
      if (us == null) throw bad(`match[version] takes last, first, all or RFC 3339 timestamps, got ${v}`, 'match[version]')
      q.versions.at.add(us)
    }
  }
  if (query['match[spec_version]'] != null) {
    const specs = listOf(query['match[spec_version]'])
    for (const s of specs) if (!/^[0-9]+\.[0-9]+$/.test(s)) throw bad(`match[spec_version] takes versions such as 2.1, got ${s}`, 'match[spec_version]')
    q.specVersionOk = specs.includes('2.1')
  }
  if (query.next != null) {
    const s = listOf(query.next)
    if (s.length !== 1) throw bad('next must be one value from a previous response', 'next')
    q.next = decodeCursor(s[0], endpoint === 'versions' ? 'v' : endpoint === 'object' ? 'i' : 'o', collection, seal)
  }
  return q
}

// ------------------------------------------------------------------ cursor

/**
 * Where the next page starts: for objects and manifests the local arrival number of the last
 * object sent (arrival numbers are unique and only grow, so objects added while a client pages
 * come after it, and ties in date_added cannot skip or repeat anything); for one object's
 * versions, the last version sent. Opaque to clients: base64url of `v1.<kind>.<tlp>.<position>`,
 * sealed for a reader below RED (`CursorSeal`).
 */
export interface Cursor {
  kind: 'o' | 'i' | 'v'
  tlp: Tlp
  position: number
}

/**
 * Seals cursors for a reader below RED: positions are arrival numbers, which count every record,
 * so gaps between them would show how many records above the reader's ceiling arrived in
 * between (see sealed-cursor.ts).
 */
export interface CursorSeal {
  sealText: (text: string) => string
  openText: (cursor: string) => string | undefined
}

export function encodeCursor (c: Cursor, seal?: CursorSeal): string {
  const plain = Buffer.from(`v1.${c.kind}.${TLP_LEVELS.indexOf(c.tlp)}.${c.position}`).toString('base64url')
  return seal != null ? seal.sealText(plain) : plain
}

export function decodeCursor (text: string, kind: Cursor['kind'], tlp: Tlp, seal?: CursorSeal): Cursor {
  const plain = seal != null ? seal.openText(text) : text
  if (plain == null) throw bad('next is not a cursor this server issued to this reader, or it was altered; start again without next', 'next')
  const raw = /^[A-Za-z0-9_-]{1,64}$/.test(plain) ? Buffer.from(plain, 'base64url').toString('latin1') : ''
  const m = /^v1\.([oiv])\.([0-4])\.(-?[0-9]{1,17})$/.exec(raw)
  if (m == null) throw bad('next is not a cursor this server issued; start again without next', 'next')
  const c: Cursor = { kind: m[1] as Cursor['kind'], tlp: TLP_LEVELS[Number(m[2])], position: Number(m[3]) }
  if (c.kind !== kind || c.tlp !== tlp) throw bad('next belongs to another listing (a different collection or endpoint); use it only with the request that returned it', 'next')
  return c
}
