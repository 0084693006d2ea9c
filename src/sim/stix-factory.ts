import type { StixObject } from '../stix/types.js'

export { seededUuid } from '../util/uuid.js'
import { seededUuid } from '../util/uuid.js'

function patternFor (kind: string, value: string): string {
  const v = value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")
  switch (kind) {
    case 'ipv4': return `[ipv4-addr:value = '${v}']`
    case 'ipv6': return `[ipv6-addr:value = '${v}']`
    case 'domain': return `[domain-name:value = '${v}']`
    case 'url': return `[url:value = '${v}']`
    case 'email': return `[email-addr:value = '${v}']`
    case 'md5': return `[file:hashes.MD5 = '${v}']`
    case 'sha1': return `[file:hashes.'SHA-1' = '${v}']`
    case 'sha256': return `[file:hashes.'SHA-256' = '${v}']`
    default: throw new Error(`no pattern for ${kind}`)
  }
}

export interface IndicatorInit {
  kind: 'ipv4' | 'ipv6' | 'domain' | 'url' | 'email' | 'md5' | 'sha1' | 'sha256'
  value: string
  seed?: string
  created?: string
  modified?: string
  labels?: string[]
  confidence?: number
  validUntil?: string
  revoked?: boolean
  name?: string
  description?: string
}

/** A STIX 2.1 indicator for one observable value, the shape analysts' tools publish. */
export function indicator (init: IndicatorInit): StixObject {
  const created = init.created ?? '2026-01-01T00:00:00.000Z'
  const obj: StixObject = {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${seededUuid(init.seed ?? `${init.kind}:${init.value}`)}`,
    created,
    modified: init.modified ?? created,
    name: init.name ?? `${init.kind} ${init.value}`,
    indicator_types: ['malicious-activity'],
    pattern: patternFor(init.kind, init.value),
    pattern_type: 'stix',
    valid_from: created
  }
  if (init.description != null) obj.description = init.description
  if (init.labels != null) obj.labels = init.labels
  if (init.confidence != null) obj.confidence = init.confidence
  if (init.validUntil != null) obj.valid_until = init.validUntil
  if (init.revoked != null) obj.revoked = init.revoked
  return obj
}

export function malware (seed: string, name = `malware ${seed}`): StixObject {
  return {
    type: 'malware',
    spec_version: '2.1',
    id: `malware--${seededUuid(seed)}`,
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    name,
    is_family: true
  }
}
