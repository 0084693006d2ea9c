import { formatIpNet, parseIpNet, parseIpv4, parseIpv6 } from './ip.js'
import type { Comparison, ComparisonExpression, Literal, ObservationExpression, PatternAst } from './pattern-ast.js'
import type { Observable, ObservableKind, StixObject } from './types.js'

const HASH_LENGTH = { md5: 32, sha1: 40, sha256: 64 } as const
const HEX = /^[0-9a-f]+$/
const WHITESPACE = /\s/
// Letters and digits of any script, so IDNs written in Unicode pass as given.
const DOMAIN_LABEL = /^[\p{L}\p{N}\p{M}_-]+$/u
const ASCII_DOMAIN = /^(?:[a-z0-9_-]{1,63}\.)+[a-z0-9_-]{1,63}$/
const ALL_DIGITS = /^[0-9]+$/
const URL_PARTS = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/s
const PORT = /^[0-9]{0,5}$/
// Characters an unquoted RFC 5322 local part cannot hold; quoted local parts are not indicators.
const LOCAL_PART_FORBIDDEN = /[\s@<>()[\]\\,;:"]/

function normalizeIp (raw: string, kind: ObservableKind): string | null {
  const net = parseIpNet(raw.trim())
  if (net == null) return null
  return ipKind(net.version, net.prefix) === kind ? formatIpNet(net) : null
}

function ipKind (version: 4 | 6, prefix: number): ObservableKind {
  if (version === 4) return prefix === 32 ? 'ipv4' : 'ipv4-cidr'
  return prefix === 128 ? 'ipv6' : 'ipv6-cidr'
}

function normalizeDomain (raw: string): string | null {
  let d = raw.trim().toLowerCase()
  if (d.endsWith('.')) d = d.slice(0, -1)
  if (d.length === 0 || d.length > 253) return null
  if (ASCII_DOMAIN.test(d)) return ALL_DIGITS.test(d.slice(d.lastIndexOf('.') + 1)) ? null : d
  const labels = d.split('.')
  if (labels.length < 2) return null
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || !DOMAIN_LABEL.test(label)) return null
  }
  // An all-digit top label is an IP address or a typo, never a registrable name.
  if (ALL_DIGITS.test(labels[labels.length - 1])) return null
  return d
}

function normalizeUrl (raw: string): string | null {
  const s = raw.trim()
  if (WHITESPACE.test(s)) return null
  const m = URL_PARTS.exec(s)
  if (m == null) return null
  const authority = m[2]
  const at = authority.lastIndexOf('@')
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : ''
  const hostPort = authority.slice(at + 1)
  let host: string
  let port: string
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']')
    if (close < 0) return null
    host = hostPort.slice(0, close + 1)
    port = hostPort.slice(close + 1)
    if (port !== '' && !port.startsWith(':')) return null
  } else {
    const colon = hostPort.lastIndexOf(':')
    host = colon >= 0 ? hostPort.slice(0, colon) : hostPort
    port = colon >= 0 ? hostPort.slice(colon) : ''
  }
  if (port !== '' && !PORT.test(port.slice(1))) return null
  const lowerHost = host.toLowerCase()
  if (!validUrlHost(lowerHost)) return null
  return `${m[1].toLowerCase()}://${userinfo}${lowerHost}${port}${m[3]}`
}

// A name with a dot, an IPv4 address, or a bracketed IPv6 address: what an indicator URL points
// at. Rejecting anything else also keeps defanged URLs (`hxxp://evil[.]example`) out.
function validUrlHost (host: string): boolean {
  if (host.startsWith('[')) return host.endsWith(']') && parseIpv6(host.slice(1, -1)) != null
  return parseIpv4(host) != null || normalizeDomain(host) != null
}

function normalizeEmail (raw: string): string | null {
  const s = raw.trim().toLowerCase()
  const at = s.lastIndexOf('@')
  if (at <= 0 || at > 64) return null
  const local = s.slice(0, at)
  if (LOCAL_PART_FORBIDDEN.test(local)) return null
  const domain = normalizeDomain(s.slice(at + 1))
  return domain == null ? null : `${local}@${domain}`
}

function normalizeHash (raw: string, length: number): string | null {
  const h = raw.trim().toLowerCase()
  return h.length === length && HEX.test(h) ? h : null
}

/**
 * The canonical text of an observable of the given kind, or null when `raw` is not one:
 * lower-case domains (no trailing dot), emails and hex hashes; URLs trimmed with scheme and
 * host lower-cased; IPs in canonical form (RFC 5952 for IPv6) with CIDR host bits cleared. An
 * address with a full-length prefix (`/32`, `/128`) is a host (`ipv4`), not a `ipv4-cidr`.
 */
export function normalizeObservable (kind: ObservableKind, raw: string): string | null {
  if (typeof raw !== 'string') return null
  switch (kind) {
    case 'ipv4': case 'ipv6': case 'ipv4-cidr': case 'ipv6-cidr': return normalizeIp(raw, kind)
    case 'domain': return normalizeDomain(raw)
    case 'url': return normalizeUrl(raw)
    case 'email': return normalizeEmail(raw)
    case 'md5': case 'sha1': case 'sha256': return normalizeHash(raw, HASH_LENGTH[kind])
    default: return null
  }
}

/**
 * Recognises what a bare value is (as typed into `dragnet lookup` or read from a list): an IP or
 * CIDR, an MD5/SHA-1/SHA-256 by hex length, a URL (with a scheme), an email address, or a
 * domain. Defanged values (`hxxp`, `[.]`) are the caller's to refang first.
 */
export function classifyValue (raw: string): Observable | null {
  if (typeof raw !== 'string') return null
  const s = raw.trim()
  if (s === '') return null
  const net = parseIpNet(s)
  if (net != null) return { kind: ipKind(net.version, net.prefix), value: formatIpNet(net) }
  const lower = s.toLowerCase()
  if (HEX.test(lower)) {
    if (lower.length === 32) return { kind: 'md5', value: lower }
    if (lower.length === 40) return { kind: 'sha1', value: lower }
    if (lower.length === 64) return { kind: 'sha256', value: lower }
  }
  if (s.includes('://')) return observable('url', normalizeUrl(s))
  if (s.includes('@')) return observable('email', normalizeEmail(s))
  return observable('domain', normalizeDomain(s))
}

function observable (kind: ObservableKind, value: string | null): Observable | null {
  return value == null ? null : { kind, value }
}

function ipObservable (raw: string): Observable | null {
  const net = parseIpNet(raw.trim())
  return net == null ? null : { kind: ipKind(net.version, net.prefix), value: formatIpNet(net) }
}

/** Hash dictionary keys as written in the wild (`SHA-256`, `sha256`, `MD5`) to our kinds. */
export function hashKind (algorithm: string): 'md5' | 'sha1' | 'sha256' | null {
  switch (algorithm.toUpperCase().replace(/[-_]/g, '')) {
    case 'MD5': return 'md5'
    case 'SHA1': return 'sha1'
    case 'SHA256': return 'sha256'
    default: return null
  }
}

/** Deduplicating collector of observables, in first-seen order. */
export class ObservableSet {
  readonly list: Observable[] = []
  private readonly seen = new Set<string>()

  add (o: Observable | null): void {
    if (o == null) return
    const key = `${o.kind} ${o.value}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.list.push(o)
  }
}

/** The SCO types of STIX 2.1 (section 6). */
export const SCO_TYPES: ReadonlySet<string> = new Set([
  'artifact', 'autonomous-system', 'directory', 'domain-name', 'email-addr', 'email-message', 'file',
  'ipv4-addr', 'ipv6-addr', 'mac-addr', 'mutex', 'network-traffic', 'process', 'software', 'url',
  'user-account', 'windows-registry-key', 'x509-certificate'
])

function hashesObservables (hashes: unknown, out: ObservableSet): void {
  if (hashes == null || typeof hashes !== 'object' || Array.isArray(hashes)) return
  for (const [algorithm, value] of Object.entries(hashes)) {
    const kind = hashKind(algorithm)
    if (kind != null && typeof value === 'string') out.add(observable(kind, normalizeHash(value, HASH_LENGTH[kind])))
  }
}

/** Observables an SCO (top-level, or embedded in observed-data) carries itself. */
export function scoObservables (sco: Record<string, unknown>, out: ObservableSet): void {
  const value = sco.value
  switch (sco.type) {
    case 'ipv4-addr': case 'ipv6-addr':
      if (typeof value === 'string') out.add(ipObservable(value))
      break
    case 'domain-name':
      if (typeof value === 'string') out.add(observable('domain', normalizeDomain(value)))
      break
    case 'url':
      if (typeof value === 'string') out.add(observable('url', normalizeUrl(value)))
      break
    case 'email-addr':
      if (typeof value === 'string') out.add(observable('email', normalizeEmail(value)))
      break
    case 'file': case 'artifact':
      hashesObservables(sco.hashes, out)
      break
  }
}

/*
 * Reference properties of SCOs whose target type is fixed by the spec, so a pattern path through
 * them names that type (`email-message:from_ref.value` reaches an email-addr). References that
 * may point at several types (src_ref, dst_ref, resolves_to_refs ...) are resolved from the
 * compared value instead, when it says what it is.
 */
const REF_TARGET: Readonly<Record<string, string>> = {
  from_ref: 'email-addr',
  sender_ref: 'email-addr',
  to_refs: 'email-addr',
  cc_refs: 'email-addr',
  bcc_refs: 'email-addr',
  belongs_to_ref: 'user-account',
  creator_user_ref: 'user-account',
  image_ref: 'file',
  parent_directory_ref: 'directory',
  content_ref: 'artifact',
  raw_email_ref: 'artifact',
  src_payload_ref: 'artifact',
  dst_payload_ref: 'artifact',
  parent_ref: 'process',
  child_refs: 'process',
  opened_connection_refs: 'network-traffic',
  encapsulates_refs: 'network-traffic',
  encapsulated_by_ref: 'network-traffic',
  belongs_to_refs: 'autonomous-system'
}

const KIND_SCO_TYPE: Readonly<Record<ObservableKind, string | null>> = {
  ipv4: 'ipv4-addr',
  'ipv4-cidr': 'ipv4-addr',
  ipv6: 'ipv6-addr',
  'ipv6-cidr': 'ipv6-addr',
  domain: 'domain-name',
  url: 'url',
  email: 'email-addr',
  md5: null,
  sha1: null,
  sha256: null
}

function isRefKey (key: string): boolean {
  return key.endsWith('_ref') || key.endsWith('_refs')
}

function stringValues (c: Comparison): string[] {
  if (c.operator === 'IN') {
    const out: string[] = []
    for (const v of c.value) if (v.kind === 'string') out.push(v.value)
    return out
  }
  const v = c.value as Literal | null
  return v != null && v.kind === 'string' ? [v.value] : []
}

/**
 * What one comparison contributes: the observables it asserts (positive `=`, `IN`, and
 * `ISSUBSET` for networks; negations never) and the SCO types its path names.
 */
function analyzeComparison (c: Comparison, observables: ObservableSet, types: Set<string>): void {
  const { objectType, steps } = c.path
  types.add(objectType)
  const positive = !c.negated && (c.operator === '=' || c.operator === 'IN' || c.operator === 'ISSUBSET')
  const values = positive || steps.length > 1 ? stringValues(c) : []

  let viaRef = false
  let ambiguousRef = false
  for (let i = 0; i < steps.length - 1; i++) {
    const step = steps[i]
    if (step.kind !== 'key' || !isRefKey(step.key)) continue
    viaRef = true
    const target = REF_TARGET[step.key]
    if (target !== undefined) types.add(target)
    ambiguousRef = target === undefined
  }

  const last = steps[steps.length - 1]
  if (last.kind !== 'key') return
  if (last.key === 'value' && steps.length === 1) {
    if (!positive) return
    for (const v of values) {
      let o: Observable | null = null
      switch (objectType) {
        case 'ipv4-addr': case 'ipv6-addr': o = ipObservable(v); break
        case 'domain-name': if (c.operator !== 'ISSUBSET') o = observable('domain', normalizeDomain(v)); break
        case 'url': if (c.operator !== 'ISSUBSET') o = observable('url', normalizeUrl(v)); break
        case 'email-addr': if (c.operator !== 'ISSUBSET') o = observable('email', normalizeEmail(v)); break
      }
      observables.add(o)
    }
    return
  }
  if (last.key === 'value' && viaRef) {
    for (const v of values) {
      const o = classifyValue(v)
      if (o == null || KIND_SCO_TYPE[o.kind] == null) continue
      if (ambiguousRef) types.add(KIND_SCO_TYPE[o.kind]!)
      if (positive && (c.operator !== 'ISSUBSET' || o.kind.startsWith('ipv'))) observables.add(o)
    }
    return
  }
  const prev = steps[steps.length - 2]
  if (positive && c.operator !== 'ISSUBSET' && prev?.kind === 'key' && prev.key === 'hashes' &&
      (viaRef || (steps.length === 2 && (objectType === 'file' || objectType === 'artifact')))) {
    const kind = hashKind(last.key)
    if (kind == null) return
    for (const v of values) observables.add(observable(kind, normalizeHash(v, HASH_LENGTH[kind])))
  }
}

function walkComparisons (e: ComparisonExpression, observables: ObservableSet, types: Set<string>): void {
  if (e.kind === 'comparison') analyzeComparison(e, observables, types)
  else for (const operand of e.operands) walkComparisons(operand, observables, types)
}

/** Collects the observables and the object types named by a parsed STIX pattern. */
export function analyzePattern (e: PatternAst | ObservationExpression, observables: ObservableSet, types: Set<string>): void {
  switch (e.kind) {
    case 'observation': walkComparisons(e.expression, observables, types); break
    case 'qualified': analyzePattern(e.expression, observables, types); break
    default: for (const operand of e.operands) analyzePattern(operand, observables, types)
  }
}

/** Observables and SCO types of an object that has already been validated. */
export function analyzeObject (obj: StixObject, pattern: PatternAst | undefined): { observables: Observable[], scoTypes: string[] } {
  const observables = new ObservableSet()
  const types = new Set<string>()
  if (SCO_TYPES.has(obj.type)) {
    types.add(obj.type)
    scoObservables(obj, observables)
  } else if (obj.type === 'indicator') {
    if (pattern != null) analyzePattern(pattern, observables, types)
  } else if (obj.type === 'observed-data') {
    const objects = obj.objects
    if (objects != null && typeof objects === 'object') {
      for (const embedded of Object.values(objects)) {
        if (embedded == null || typeof embedded !== 'object' || typeof embedded.type !== 'string') continue
        types.add(embedded.type)
        scoObservables(embedded, observables)
      }
    }
    if (Array.isArray(obj.object_refs)) {
      for (const ref of obj.object_refs) {
        if (typeof ref !== 'string') continue
        const type = ref.slice(0, ref.length - 38)
        if (SCO_TYPES.has(type)) types.add(type)
      }
    }
  }
  return { observables: observables.list, scoTypes: [...types] }
}
