import { seededUuid } from '../util/uuid.js'
import { classifyValue, normalizeObservable, type Observable, type ObservableKind } from '../stix/index.js'
import type { SkipReason } from './types.js'

/*
 * Defanged forms as threat reports write them, and what they stand for. Order matters: the
 * scheme rules run first and only at the start of a value, the bracket rules anywhere.
 */
export const DEFANG_RULES: ReadonlyArray<{ pattern: RegExp, replacement: string, example: string }> = [
  { pattern: /^h(?:xx|XX|xX|Xx)p(s?)(?=\[?:)/, replacement: 'http$1', example: 'hxxps://x → https://x' },
  { pattern: /^f(?:xx|XX)p(?=\[?:)/, replacement: 'ftp', example: 'fxxp://x → ftp://x' },
  { pattern: /\[:\/\/\]/g, replacement: '://', example: 'http[://]x → http://x' },
  { pattern: /\[:\]/g, replacement: ':', example: 'http[:]//x → http://x' },
  { pattern: /\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}/gi, replacement: '.', example: 'evil[.]com, evil(.)com, evil[dot]com → evil.com' },
  { pattern: /\[@\]|\(@\)|\{@\}|\[at\]|\(at\)/gi, replacement: '@', example: 'a[@]b.com, a[at]b.com → a@b.com' },
  { pattern: /\[\/\]/g, replacement: '/', example: 'evil.com[/]x → evil.com/x' }
]

/** Undoes the usual defanging (`hxxp`, `[.]`, `(.)`, `[:]`, `[@]`, `[dot]` ...). */
export function refang (raw: string): string {
  let s = raw.trim()
  for (const rule of DEFANG_RULES) s = s.replace(rule.pattern, rule.replacement)
  return s
}

export type ValueResult = { ok: true, observable: Observable } | { ok: false, reason: SkipReason }

const PORT = /^[0-9]{1,5}$/
const HOST_KINDS = new Set<ObservableKind>(['ipv4', 'ipv6', 'domain'])

function hostOf (text: string): Observable | null {
  const o = classifyValue(text)
  return o != null && HOST_KINDS.has(o.kind) ? o : null
}

function validPort (p: string): boolean {
  return PORT.test(p) && Number(p) >= 1 && Number(p) <= 65535
}

/**
 * What one value from an indicator list is, after refanging: an IP or CIDR, a hash, an email, a
 * URL, or a host. A trailing port is dropped (the host is the indicator); a host followed by a
 * path is a URL without its scheme and becomes `http://host/path`, as list publishers mean it.
 */
export function parseIndicatorValue (raw: string): ValueResult {
  const s = refang(raw)
  if (s === '') return { ok: false, reason: 'unrecognised' }
  if (s.startsWith('/')) return { ok: false, reason: 'no-host' }
  if (s.includes('://')) {
    const o = classifyValue(s)
    return o != null ? { ok: true, observable: o } : { ok: false, reason: 'unrecognised' }
  }
  // IPs, CIDRs (whose "/24" is no path), hashes and email addresses as they are.
  const direct = classifyValue(s)
  if (direct != null && direct.kind !== 'domain') return { ok: true, observable: direct }

  const cut = s.search(/[/?#]/)
  const authority = cut < 0 ? s : s.slice(0, cut)
  const rest = cut < 0 ? '' : s.slice(cut)
  let hostText: string
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']')
    if (close < 0) return { ok: false, reason: 'unrecognised' }
    hostText = authority.slice(1, close)
    const after = authority.slice(close + 1)
    if (after !== '' && !(after.startsWith(':') && validPort(after.slice(1)))) return { ok: false, reason: 'unrecognised' }
  } else {
    const colon = authority.indexOf(':')
    if (colon >= 0) {
      if (!validPort(authority.slice(colon + 1))) return { ok: false, reason: 'unrecognised' }
      hostText = authority.slice(0, colon)
    } else {
      hostText = authority
    }
  }
  const host = hostOf(hostText)
  if (host == null) return { ok: false, reason: 'unrecognised' }
  if (rest === '' || rest === '/') return { ok: true, observable: host }
  const url = normalizeObservable('url', `http://${authority}${rest}`)
  return url != null ? { ok: true, observable: { kind: 'url', value: url } } : { ok: false, reason: 'unrecognised' }
}

// ------------------------------------------------------------------ STIX objects for values

function quote (v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** The STIX pattern comparison naming an observable (`ipv4-addr:value = '1.2.3.4'`). */
export function comparisonFor (o: Observable): string {
  switch (o.kind) {
    case 'ipv4': case 'ipv4-cidr': return `ipv4-addr:value = ${quote(o.value)}`
    case 'ipv6': case 'ipv6-cidr': return `ipv6-addr:value = ${quote(o.value)}`
    case 'domain': return `domain-name:value = ${quote(o.value)}`
    case 'url': return `url:value = ${quote(o.value)}`
    case 'email': return `email-addr:value = ${quote(o.value)}`
    case 'md5': return `file:hashes.MD5 = ${quote(o.value)}`
    case 'sha1': return `file:hashes.'SHA-1' = ${quote(o.value)}`
    case 'sha256': return `file:hashes.'SHA-256' = ${quote(o.value)}`
  }
}

export function patternFor (o: Observable): string {
  return `[${comparisonFor(o)}]`
}

export const HASH_NAMES: Readonly<Record<'md5' | 'sha1' | 'sha256', string>> = { md5: 'MD5', sha1: 'SHA-1', sha256: 'SHA-256' }

/** The SCO type that carries an observable kind. */
export function scoTypeOf (kind: ObservableKind): string {
  switch (kind) {
    case 'ipv4': case 'ipv4-cidr': return 'ipv4-addr'
    case 'ipv6': case 'ipv6-cidr': return 'ipv6-addr'
    case 'domain': return 'domain-name'
    case 'url': return 'url'
    case 'email': return 'email-addr'
    default: return 'file'
  }
}

/** An SCO for an observable: `{ type: 'ipv4-addr', value }`, or a file with one hash. */
export function scoFor (o: Observable, uuid: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const type = scoTypeOf(o.kind)
  const sco: Record<string, unknown> = { type, spec_version: '2.1', id: `${type}--${uuid}` }
  if (type === 'file') sco.hashes = { [HASH_NAMES[o.kind as 'md5' | 'sha1' | 'sha256']]: o.value }
  else sco.value = o.value
  return { ...sco, ...extra }
}

/** The deterministic id seed of a value-only indicator, shared with the simulator's factory. */
export function valueSeed (o: Observable): string {
  return `${o.kind}:${o.value}`
}

export function valueUuid (o: Observable, namespace = ''): string {
  return seededUuid(namespace !== '' ? `${namespace}|${valueSeed(o)}` : valueSeed(o))
}

/** A STIX 2.1 timestamp with millisecond precision. */
export function stixTime (ms: number): string {
  return new Date(ms).toISOString()
}
