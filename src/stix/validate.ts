import { DragnetError, type ErrorCode } from '../errors.js'
import { jsonDepth } from '../util/depth.js'
import { parseIpNet } from './ip.js'
import { tlpOfMarkingDefinition } from './markings.js'
import type { PatternAst } from './pattern-ast.js'
import { parsePattern } from './pattern.js'
import { parseStixTimestamp } from './timestamp.js'
import type { StixObject } from './types.js'

/*
 * STIX 2.1 object validation (OASIS STIX 2.1, sections 3-7 and 12). Written as tables of
 * property checks per type rather than a JSON-schema engine, because ingest validates every
 * record it sees and a schema walk costs an order of magnitude more.
 *
 * Policy where the spec leaves room:
 * - Properties a type does not define are custom properties: accepted when their name is a
 *   valid STIX property name (or carries the old `x-` prefix) and their value is not null.
 * - Types we do not know are custom objects (`x-mitre-tactic` ...): only common properties are
 *   checked. Without spec_version they count as STIX 2.0 if they carry created/modified, and as
 *   custom SCOs otherwise.
 */

interface Ctx {
  obj: Record<string, unknown>
  where: string | undefined
}

type Check = (c: Ctx, v: unknown, path: string) => void

interface TypeSpec {
  kind: 'sdo' | 'sro' | 'meta' | 'sco'
  checks: Map<string, Check>
  required: readonly string[]
  extra?: (c: Ctx, o: Record<string, unknown>) => void
}

const MAX_LABEL = 120

function objectLabel (c: Ctx): string {
  const id = c.obj.id
  if (typeof id === 'string' && id !== '') return id.length > MAX_LABEL ? `${id.slice(0, MAX_LABEL - 3)}...` : id
  return c.where ?? '(object)'
}

function fail (c: Ctx, property: string, message: string, code: ErrorCode = 'DRAGNET_STIX_INVALID'): never {
  const object = objectLabel(c)
  throw new DragnetError(code, `${object}: property ${property} ${message}`, { object, property })
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return v.length > 40 ? `"${v.slice(0, 37)}..."` : JSON.stringify(v)
  if (typeof v === 'object') return 'an object'
  return String(v)
}

// ---------------------------------------------------------------------------------------------
// Identifiers

const TYPE_NAME = /^[a-z0-9-]{3,250}$/
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/
const UUID_LENGTH = 36

function isTypeName (t: string): boolean {
  return TYPE_NAME.test(t) && !t.includes('--')
}

/** `<type>--<UUID>` (any RFC 4122 / 9562 version); returns the type, or null. */
export function identifierType (v: unknown): string | null {
  if (typeof v !== 'string' || v.length < UUID_LENGTH + 5) return null
  const sep = v.length - UUID_LENGTH - 2
  if (v.charCodeAt(sep) !== 45 || v.charCodeAt(sep + 1) !== 45) return null
  const type = v.slice(0, sep)
  return isTypeName(type) && UUID.test(v.slice(sep + 2)) ? type : null
}

const NOT_RELATABLE = new Set(['relationship', 'sighting', 'bundle', 'marking-definition', 'language-content', 'extension-definition'])

function ref (types?: readonly string[]): Check {
  const expected = types == null ? '' : types.join(' or ')
  return (c, v, path) => {
    const t = identifierType(v)
    if (t == null) fail(c, path, `must be a STIX identifier (type--UUID), not ${describe(v)}`)
    if (types != null && !types.includes(t)) fail(c, path, `must reference a${/^[aeiou]/.test(expected) ? 'n' : ''} ${expected}, not ${t}`)
  }
}

/** Relationship ends and sighting_of_ref: any SDO, SCO or custom object, never an SRO or meta object. */
const relatableRef: Check = (c, v, path) => {
  const t = identifierType(v)
  if (t == null) fail(c, path, `must be a STIX identifier (type--UUID), not ${describe(v)}`)
  if (NOT_RELATABLE.has(t)) fail(c, path, `must not reference a ${t}`)
}

// ---------------------------------------------------------------------------------------------
// Value checks

const string: Check = (c, v, path) => {
  if (typeof v !== 'string') fail(c, path, `must be a string, not ${describe(v)}`)
}

const text: Check = (c, v, path) => {
  if (typeof v !== 'string' || v === '') fail(c, path, `must be a non-empty string, not ${describe(v)}`)
}

const bool: Check = (c, v, path) => {
  if (typeof v !== 'boolean') fail(c, path, `must be true or false, not ${describe(v)}`)
}

function int (min: number, max = Number.MAX_SAFE_INTEGER): Check {
  return (c, v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(c, path, `must be an integer from ${min} to ${max}, not ${describe(v)}`)
    }
  }
}

function num (min: number, max: number): Check {
  return (c, v, path) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) fail(c, path, `must be a number from ${min} to ${max}, not ${describe(v)}`)
  }
}

const uint = int(0)

const timestamp: Check = (c, v, path) => {
  if (typeof v !== 'string' || parseStixTimestamp(v) == null) {
    fail(c, path, `must be an RFC 3339 timestamp such as 2016-05-12T08:17:27.000Z, not ${describe(v)}`)
  }
}

const dict: Check = (c, v, path) => {
  if (!isPlainObject(v)) fail(c, path, `must be an object, not ${describe(v)}`)
}

function oneOf (values: readonly string[]): Check {
  return (c, v, path) => {
    if (typeof v !== 'string' || !values.includes(v)) fail(c, path, `must be one of ${values.join(', ')}, not ${describe(v)}`)
  }
}

/** A STIX list: an array, never empty (the spec forbids empty lists), each item checked. */
function list (item: Check): Check {
  return (c, v, path) => {
    if (!Array.isArray(v)) fail(c, path, `must be a list, not ${describe(v)}`)
    if (v.length === 0) fail(c, path, 'must not be an empty list (omit the property instead)')
    for (let i = 0; i < v.length; i++) item(c, v[i], `${path}[${i}]`)
  }
}

const strings = list(string)

function refs (types?: readonly string[]): Check {
  return list(ref(types))
}

const HEX_BYTES = /^(?:[0-9a-fA-F]{2})*$/
const hex: Check = (c, v, path) => {
  if (typeof v !== 'string' || !HEX_BYTES.test(v)) fail(c, path, `must be hex digits in pairs, not ${describe(v)}`)
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const base64: Check = (c, v, path) => {
  if (typeof v !== 'string' || !BASE64.test(v)) fail(c, path, 'must be valid base64 (RFC 4648, padded, no whitespace)')
}

const LANG = /^[a-zA-Z]{1,8}(?:-[a-zA-Z0-9]{1,8})*$/
const lang: Check = (c, v, path) => {
  if (typeof v !== 'string' || !LANG.test(v)) fail(c, path, `must be an RFC 5646 language code such as en or pt-BR, not ${describe(v)}`)
}

const DICT_KEY = /^[a-zA-Z0-9_-]{1,250}$/
// Hex length per hashing-algorithm-ov entry, keyed the way hashKey() folds names.
const HASH_HEX_LENGTH: Readonly<Record<string, number>> = {
  MD5: 32, SHA1: 40, SHA224: 56, SHA256: 64, SHA384: 96, SHA512: 128, SHA3224: 56, SHA3256: 64, SHA3384: 96, SHA3512: 128
}

function hashKey (name: string): string {
  return name.toUpperCase().replace(/[-_]/g, '')
}

const hashes: Check = (c, v, path) => {
  if (!isPlainObject(v)) fail(c, path, `must be a dictionary of hashes, not ${describe(v)}`)
  let n = 0
  for (const name in v) {
    n++
    const value = v[name]
    const p = `${path}.${name}`
    if (!DICT_KEY.test(name)) fail(c, p, 'is not a valid hash algorithm name (letters, digits, - and _, at most 250)')
    if (typeof value !== 'string' || value === '') fail(c, p, `must be a non-empty string, not ${describe(value)}`)
    const length = HASH_HEX_LENGTH[hashKey(name)]
    if (length !== undefined && (value.length !== length || !HEX_BYTES.test(value))) {
      fail(c, p, `must be ${length} hex digits, not ${describe(value)}`)
    }
  }
  if (n === 0) fail(c, path, 'must hold at least one hash')
}

function fields (checks: Record<string, Check>, required: readonly string[], extra?: (c: Ctx, o: Record<string, unknown>, path: string) => void): Check {
  const entries = Object.entries(checks)
  return (c, v, path) => {
    if (!isPlainObject(v)) fail(c, path, `must be an object, not ${describe(v)}`)
    for (const name of required) if (v[name] === undefined) fail(c, `${path}.${name}`, 'is required')
    for (const [name, check] of entries) {
      const value = v[name]
      if (value !== undefined) check(c, value, `${path}.${name}`)
    }
    extra?.(c, v, path)
  }
}

const killChainPhases = list(fields({ kill_chain_name: text, phase_name: text }, ['kill_chain_name', 'phase_name']))

const externalReferences = list(fields(
  { source_name: text, description: string, url: string, hashes, external_id: string },
  ['source_name'],
  (c, o, path) => {
    if (o.description === undefined && o.url === undefined && o.external_id === undefined) {
      fail(c, path, 'needs at least one of description, url or external_id beside source_name')
    }
  }
))

const granularMarkings = list(fields(
  { marking_ref: ref(['marking-definition']), lang, selectors: list(text) },
  ['selectors'],
  (c, o, path) => {
    if ((o.marking_ref === undefined) === (o.lang === undefined)) fail(c, path, 'needs exactly one of marking_ref and lang')
  }
))

const extensions: Check = (c, v, path) => {
  if (!isPlainObject(v)) fail(c, path, `must be a dictionary of extensions, not ${describe(v)}`)
  for (const name in v) {
    const p = `${path}.${name}`
    if (name.startsWith('extension-definition--') && identifierType(name) == null) fail(c, p, 'names an extension-definition with a malformed identifier')
    if (!isPlainObject(v[name])) fail(c, p, `must be an object, not ${describe(v[name])}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Cross-property rules

function timeOf (o: Record<string, unknown>, name: string): number | null {
  const v = o[name]
  return typeof v === 'string' ? parseStixTimestamp(v) : null
}

/** `later` must not precede `earlier` (or, when strict, must follow it). */
function order (c: Ctx, o: Record<string, unknown>, earlier: string, later: string, strict = false): void {
  const a = timeOf(o, earlier)
  const b = timeOf(o, later)
  if (a == null || b == null) return
  if (strict ? b <= a : b < a) fail(c, later, `must be ${strict ? 'later than' : 'the same as or later than'} ${earlier}`)
}

function seen (c: Ctx, o: Record<string, unknown>): void {
  order(c, o, 'first_seen', 'last_seen')
}

function atLeastOne (c: Ctx, o: Record<string, unknown>, names: readonly string[]): void {
  for (const n of names) if (o[n] !== undefined) return
  fail(c, names[0], `is required (or one of ${names.slice(1).join(', ')})`)
}

// ---------------------------------------------------------------------------------------------
// Types

const COMMON: Record<string, Check> = {
  created: timestamp,
  modified: timestamp,
  created_by_ref: ref(['identity']),
  revoked: bool,
  labels: strings,
  confidence: int(0, 100),
  lang,
  external_references: externalReferences,
  object_marking_refs: refs(['marking-definition']),
  granular_markings: granularMarkings,
  extensions,
  defanged: bool
}

// Properties that say nothing about the observed thing: an SCO made only of these is empty.
const SCO_COMMON = new Set(['type', 'id', 'spec_version', 'object_marking_refs', 'granular_markings', 'defanged'])

function spec (kind: TypeSpec['kind'], checks: Record<string, Check>, required: readonly string[] = [], extra?: TypeSpec['extra']): TypeSpec {
  return { kind, checks: new Map(Object.entries({ ...COMMON, ...checks })), required, extra }
}

const ipValue = (version: 4 | 6): Check => (c, v, path) => {
  if (typeof v !== 'string' || parseIpNet(v)?.version !== version) fail(c, path, `must be an IPv${version} address or CIDR block, not ${describe(v)}`)
}

const MAC = /^(?:[0-9a-f]{2}:){5}[0-9a-f]{2}$/
const macValue: Check = (c, v, path) => {
  if (typeof v !== 'string' || !MAC.test(v)) fail(c, path, `must be a lower-case, colon-separated MAC-48 address, not ${describe(v)}`)
}

const emailValue: Check = (c, v, path) => {
  if (typeof v !== 'string' || v.indexOf('@') <= 0) fail(c, path, `must be an email address, not ${describe(v)}`)
}

const RELATIONSHIP_TYPE = /^[a-z0-9-]+$/
const relationshipType: Check = (c, v, path) => {
  if (typeof v !== 'string' || !RELATIONSHIP_TYPE.test(v)) fail(c, path, `must be lower-case letters, digits and hyphens, not ${describe(v)}`)
}

function observedObjects (c: Ctx, v: unknown, path: string): void {
  if (!isPlainObject(v)) fail(c, path, `must be a dictionary of cyber-observable objects, not ${describe(v)}`)
  let n = 0
  for (const key in v) {
    n++
    const sco = v[key]
    if (!isPlainObject(sco)) fail(c, `${path}.${key}`, `must be an object, not ${describe(sco)}`)
    if (typeof sco.type !== 'string' || !isTypeName(sco.type)) fail(c, `${path}.${key}.type`, `must be an object type name, not ${describe(sco.type)}`)
  }
  if (n === 0) fail(c, path, 'must hold at least one object')
}

const mimePart = fields(
  { body: string, body_raw_ref: ref(['artifact', 'file']), content_type: string, content_disposition: string },
  [],
  (c, o, path) => {
    if ((o.body === undefined) === (o.body_raw_ref === undefined)) fail(c, path, 'needs exactly one of body and body_raw_ref')
  }
)

const registryValue = fields({ name: string, data: string, data_type: string }, [])

const SPECS: ReadonlyMap<string, TypeSpec> = new Map<string, TypeSpec>([
  // SDOs (section 4)
  ['attack-pattern', spec('sdo', { name: text, description: string, aliases: strings, kill_chain_phases: killChainPhases }, ['name'])],
  ['campaign', spec('sdo', { name: text, description: string, aliases: strings, first_seen: timestamp, last_seen: timestamp, objective: string }, ['name'], seen)],
  ['course-of-action', spec('sdo', { name: text, description: string }, ['name'])],
  ['grouping', spec('sdo', { name: string, description: string, context: text, object_refs: refs() }, ['context', 'object_refs'])],
  ['identity', spec('sdo', { name: text, description: string, roles: strings, identity_class: string, sectors: strings, contact_information: string }, ['name'])],
  ['incident', spec('sdo', { name: text, description: string, kill_chain_phases: killChainPhases }, ['name'])],
  ['indicator', spec('sdo', {
    name: string,
    description: string,
    indicator_types: strings,
    pattern: text,
    pattern_type: text,
    pattern_version: string,
    valid_from: timestamp,
    valid_until: timestamp,
    kill_chain_phases: killChainPhases
  }, ['pattern', 'pattern_type', 'valid_from'], (c, o) => order(c, o, 'valid_from', 'valid_until', true))],
  ['infrastructure', spec('sdo', {
    name: text, description: string, infrastructure_types: strings, aliases: strings, kill_chain_phases: killChainPhases, first_seen: timestamp, last_seen: timestamp
  }, ['name'], seen)],
  ['intrusion-set', spec('sdo', {
    name: text,
    description: string,
    aliases: strings,
    first_seen: timestamp,
    last_seen: timestamp,
    goals: strings,
    resource_level: string,
    primary_motivation: string,
    secondary_motivations: strings
  }, ['name'], seen)],
  ['location', spec('sdo', {
    name: string,
    description: string,
    latitude: num(-90, 90),
    longitude: num(-180, 180),
    precision: num(0, Number.MAX_VALUE),
    region: string,
    country: string,
    administrative_area: string,
    city: string,
    street_address: string,
    postal_code: string
  }, [], (c, o) => {
    if ((o.latitude === undefined) !== (o.longitude === undefined)) fail(c, o.latitude === undefined ? 'latitude' : 'longitude', 'must be given together with its partner (latitude and longitude)')
    if (o.precision !== undefined && o.latitude === undefined) fail(c, 'precision', 'needs latitude and longitude')
    if (o.region === undefined && o.country === undefined && o.latitude === undefined) fail(c, 'region', 'is required (or country, or latitude and longitude)')
  })],
  ['malware', spec('sdo', {
    name: text,
    description: string,
    malware_types: strings,
    is_family: bool,
    aliases: strings,
    kill_chain_phases: killChainPhases,
    first_seen: timestamp,
    last_seen: timestamp,
    operating_system_refs: refs(['software']),
    architecture_execution_envs: strings,
    implementation_languages: strings,
    capabilities: strings,
    sample_refs: refs(['file', 'artifact'])
  }, ['is_family'], (c, o) => {
    if (o.is_family === true && o.name === undefined) fail(c, 'name', 'is required for a malware family (is_family: true)')
    seen(c, o)
  })],
  ['malware-analysis', spec('sdo', {
    product: text,
    version: string,
    host_vm_ref: ref(['software']),
    operating_system_ref: ref(['software']),
    installed_software_refs: refs(['software']),
    configuration_version: string,
    modules: strings,
    analysis_engine_version: string,
    analysis_definition_version: string,
    submitted: timestamp,
    analysis_started: timestamp,
    analysis_ended: timestamp,
    result_name: string,
    result: string,
    analysis_sco_refs: refs(),
    sample_ref: ref()
  }, ['product'], (c, o) => {
    atLeastOne(c, o, ['result', 'analysis_sco_refs'])
    order(c, o, 'analysis_started', 'analysis_ended')
  })],
  ['note', spec('sdo', { abstract: string, content: text, authors: strings, object_refs: refs() }, ['content', 'object_refs'])],
  ['observed-data', spec('sdo', {
    first_observed: timestamp,
    last_observed: timestamp,
    number_observed: int(1, 999999999),
    objects: observedObjects,
    object_refs: refs()
  }, ['first_observed', 'last_observed', 'number_observed'], (c, o) => {
    if (o.objects === undefined && o.object_refs === undefined) fail(c, 'object_refs', 'is required (or the deprecated objects)')
    if (o.objects !== undefined && o.object_refs !== undefined) fail(c, 'objects', 'must not be present together with object_refs')
    order(c, o, 'first_observed', 'last_observed')
  })],
  ['opinion', spec('sdo', {
    explanation: string,
    authors: strings,
    opinion: oneOf(['strongly-disagree', 'disagree', 'neutral', 'agree', 'strongly-agree']),
    object_refs: refs()
  }, ['opinion', 'object_refs'])],
  ['report', spec('sdo', { name: text, description: string, report_types: strings, published: timestamp, object_refs: refs() }, ['name', 'published', 'object_refs'])],
  ['threat-actor', spec('sdo', {
    name: text,
    description: string,
    threat_actor_types: strings,
    aliases: strings,
    first_seen: timestamp,
    last_seen: timestamp,
    roles: strings,
    goals: strings,
    sophistication: string,
    resource_level: string,
    primary_motivation: string,
    secondary_motivations: strings,
    personal_motivations: strings
  }, ['name'], seen)],
  ['tool', spec('sdo', { name: text, description: string, tool_types: strings, aliases: strings, kill_chain_phases: killChainPhases, tool_version: string }, ['name'])],
  ['vulnerability', spec('sdo', { name: text, description: string }, ['name'])],

  // SROs (section 5)
  ['relationship', spec('sro', {
    relationship_type: relationshipType,
    description: string,
    source_ref: relatableRef,
    target_ref: relatableRef,
    start_time: timestamp,
    stop_time: timestamp
  }, ['relationship_type', 'source_ref', 'target_ref'], (c, o) => order(c, o, 'start_time', 'stop_time', true))],
  ['sighting', spec('sro', {
    description: string,
    first_seen: timestamp,
    last_seen: timestamp,
    count: int(0, 999999999),
    sighting_of_ref: relatableRef,
    observed_data_refs: refs(['observed-data']),
    where_sighted_refs: refs(['identity', 'location']),
    summary: bool
  }, ['sighting_of_ref'], seen)],

  // Meta objects (section 7)
  ['marking-definition', spec('meta', { name: string, definition_type: text, definition: dict }, [], (c, o) => {
    if (o.extensions === undefined) {
      if (o.definition_type === undefined) fail(c, 'definition_type', 'is required unless the marking is defined by an extension')
      if (o.definition === undefined) fail(c, 'definition', 'is required unless the marking is defined by an extension')
    }
    const def = o.definition as Record<string, unknown> | undefined
    if (o.definition_type === 'tlp' && def !== undefined) oneOf(['white', 'green', 'amber', 'red'])(c, def.tlp, 'definition.tlp')
    if (o.definition_type === 'statement' && def !== undefined) string(c, def.statement, 'definition.statement')
    // A TLP marking whose level is none of the five would mark its objects with nothing we can enforce.
    tlpOfMarkingDefinition(o)
  })],
  ['language-content', spec('meta', {
    object_ref: ref(),
    object_modified: timestamp,
    contents: (c, v, path) => {
      dict(c, v, path)
      for (const language in v as Record<string, unknown>) dict(c, (v as Record<string, unknown>)[language], `${path}.${language}`)
    }
  }, ['object_ref', 'contents'])],
  ['extension-definition', spec('meta', {
    name: text,
    description: string,
    schema: text,
    version: text,
    extension_types: list(oneOf(['new-sdo', 'new-sco', 'new-sro', 'property-extension', 'toplevel-property-extension'])),
    extension_properties: strings
  }, ['created_by_ref', 'name', 'schema', 'version', 'extension_types'])],

  // SCOs (section 6)
  ['artifact', spec('sco', {
    mime_type: string,
    payload_bin: base64,
    url: text,
    hashes,
    encryption_algorithm: string,
    decryption_key: string
  }, [], (c, o) => {
    if ((o.payload_bin === undefined) === (o.url === undefined)) fail(c, 'payload_bin', 'or url is required, and not both')
    if (o.url !== undefined && o.hashes === undefined) fail(c, 'hashes', 'is required when the artifact is given by url')
  })],
  ['autonomous-system', spec('sco', { number: uint, name: string, rir: string }, ['number'])],
  ['directory', spec('sco', {
    path: text, path_enc: string, ctime: timestamp, mtime: timestamp, atime: timestamp, contains_refs: refs(['file', 'directory'])
  }, ['path'])],
  ['domain-name', spec('sco', { value: text, resolves_to_refs: refs(['ipv4-addr', 'ipv6-addr', 'domain-name']) }, ['value'])],
  ['email-addr', spec('sco', { value: emailValue, display_name: string, belongs_to_ref: ref(['user-account']) }, ['value'])],
  ['email-message', spec('sco', {
    is_multipart: bool,
    date: timestamp,
    content_type: string,
    from_ref: ref(['email-addr']),
    sender_ref: ref(['email-addr']),
    to_refs: refs(['email-addr']),
    cc_refs: refs(['email-addr']),
    bcc_refs: refs(['email-addr']),
    message_id: string,
    subject: string,
    received_lines: strings,
    additional_header_fields: dict,
    body: string,
    body_multipart: list(mimePart),
    raw_email_ref: ref(['artifact'])
  }, ['is_multipart'], (c, o) => {
    if (o.is_multipart === false && o.body_multipart !== undefined) fail(c, 'body_multipart', 'must not be present when is_multipart is false')
    if (o.is_multipart === true && o.body !== undefined) fail(c, 'body', 'must not be present when is_multipart is true (use body_multipart)')
  })],
  ['file', spec('sco', {
    hashes,
    size: uint,
    name: string,
    name_enc: string,
    magic_number_hex: hex,
    mime_type: string,
    ctime: timestamp,
    mtime: timestamp,
    atime: timestamp,
    parent_directory_ref: ref(['directory']),
    contains_refs: refs(),
    content_ref: ref(['artifact'])
  }, [], (c, o) => atLeastOne(c, o, ['hashes', 'name']))],
  ['ipv4-addr', spec('sco', { value: ipValue(4), resolves_to_refs: refs(['mac-addr']), belongs_to_refs: refs(['autonomous-system']) }, ['value'])],
  ['ipv6-addr', spec('sco', { value: ipValue(6), resolves_to_refs: refs(['mac-addr']), belongs_to_refs: refs(['autonomous-system']) }, ['value'])],
  ['mac-addr', spec('sco', { value: macValue }, ['value'])],
  ['mutex', spec('sco', { name: text }, ['name'])],
  ['network-traffic', spec('sco', {
    start: timestamp,
    end: timestamp,
    is_active: bool,
    src_ref: ref(['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name']),
    dst_ref: ref(['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name']),
    src_port: int(0, 65535),
    dst_port: int(0, 65535),
    protocols: list(text),
    src_byte_count: uint,
    dst_byte_count: uint,
    src_packets: uint,
    dst_packets: uint,
    ipfix: dict,
    src_payload_ref: ref(['artifact']),
    dst_payload_ref: ref(['artifact']),
    encapsulates_refs: refs(['network-traffic']),
    encapsulated_by_ref: ref(['network-traffic'])
  }, ['protocols'], (c, o) => {
    atLeastOne(c, o, ['src_ref', 'dst_ref'])
    if (o.is_active === true && o.end !== undefined) fail(c, 'end', 'must not be present while is_active is true')
    order(c, o, 'start', 'end')
  })],
  ['process', spec('sco', {
    is_hidden: bool,
    pid: int(Number.MIN_SAFE_INTEGER),
    created_time: timestamp,
    cwd: string,
    command_line: string,
    environment_variables: dict,
    opened_connection_refs: refs(['network-traffic']),
    creator_user_ref: ref(['user-account']),
    image_ref: ref(['file']),
    parent_ref: ref(['process']),
    child_refs: refs(['process'])
  }, [], nonEmptySco)],
  ['software', spec('sco', { name: text, cpe: string, swid: string, languages: strings, vendor: string, version: string }, ['name'])],
  ['url', spec('sco', { value: text }, ['value'])],
  ['user-account', spec('sco', {
    user_id: string,
    credential: string,
    account_login: string,
    account_type: string,
    display_name: string,
    is_service_account: bool,
    is_privileged: bool,
    can_escalate_privs: bool,
    is_disabled: bool,
    account_created: timestamp,
    account_expires: timestamp,
    credential_last_changed: timestamp,
    account_first_login: timestamp,
    account_last_login: timestamp
  }, [], nonEmptySco)],
  ['windows-registry-key', spec('sco', {
    key: string, values: list(registryValue), modified_time: timestamp, creator_user_ref: ref(['user-account']), number_of_subkeys: uint
  }, [], nonEmptySco)],
  ['x509-certificate', spec('sco', {
    is_self_signed: bool,
    hashes,
    version: string,
    serial_number: string,
    signature_algorithm: string,
    issuer: string,
    validity_not_before: timestamp,
    validity_not_after: timestamp,
    subject: string,
    subject_public_key_algorithm: string,
    subject_public_key_modulus: string,
    subject_public_key_exponent: uint,
    x509_v3_extensions: dict
  }, [], nonEmptySco)]
])

function nonEmptySco (c: Ctx, o: Record<string, unknown>): void {
  for (const k in o) if (!SCO_COMMON.has(k)) return
  fail(c, 'type', `${String(o.type)} needs at least one property of its own`)
}

const CUSTOM = spec('sdo', {})

// Custom property names: STIX 2.1 property-name rules, plus the x- prefix of older producers.
const PROPERTY_NAME = /^(?:[a-zA-Z0-9_]{3,250}|x-[a-zA-Z0-9_-]{1,248})$/

function versionError (c: Ctx, why: string): never {
  fail(c, 'spec_version', `${why}: STIX 2.0 content is not accepted, dragnet requires STIX 2.1 (spec_version "2.1")`, 'DRAGNET_STIX_VERSION')
}

/**
 * Deepest STIX object validation accepts (the largest `record.maxDepth` a node may configure).
 * Checked before anything walks the object, so no later walker (canonical encoding, observable
 * extraction, JSON.stringify) can run out of stack.
 */
export const MAX_STIX_DEPTH = 256

/**
 * Validates one STIX 2.1 object and returns the pattern's AST when it is an indicator with
 * `pattern_type: "stix"`, so callers that go on to extract observables parse it only once.
 */
export function checkStixObject (input: unknown, where?: string): { object: StixObject, pattern: PatternAst | undefined } {
  if (!isPlainObject(input)) {
    const object = where ?? '(object)'
    throw new DragnetError('DRAGNET_NOT_STIX', `${object}: not a STIX object (expected a JSON object with a type property, got ${describe(input)})`, { object, property: 'type' })
  }
  const c: Ctx = { obj: input, where }
  if (jsonDepth(input, MAX_STIX_DEPTH) > MAX_STIX_DEPTH) {
    const object = objectLabel(c)
    throw new DragnetError('DRAGNET_TOO_DEEP', `${object}: nests deeper than ${MAX_STIX_DEPTH} levels`, { object })
  }
  const type = input.type
  if (typeof type !== 'string') fail(c, 'type', `is missing or not a string (${describe(type)}): not a STIX object`, 'DRAGNET_NOT_STIX')
  if (!isTypeName(type)) fail(c, 'type', `must be 3-250 characters of a-z, 0-9 and single hyphens, not ${describe(type)}`)
  if (type === 'bundle') fail(c, 'type', 'is bundle: a bundle is a container of objects, not an object to store')

  const typeSpec = SPECS.get(type)
  const sv = input.spec_version
  if (sv === undefined) {
    if (typeSpec == null ? input.created !== undefined || input.modified !== undefined : typeSpec.kind !== 'sco') {
      versionError(c, 'is missing, which marks a STIX 2.0 object')
    }
  } else if (sv !== '2.1') {
    if (sv === '2.0') versionError(c, 'is "2.0"')
    if (typeof sv === 'string') fail(c, 'spec_version', `is ${describe(sv)}: dragnet accepts STIX 2.1 only (spec_version "2.1")`, 'DRAGNET_STIX_VERSION')
    fail(c, 'spec_version', `must be the string "2.1", not ${describe(sv)}`)
  }

  const id = input.id
  if (id === undefined) fail(c, 'id', 'is required')
  if (typeof id !== 'string' || identifierType(id) !== type) {
    fail(c, 'id', `must be ${type}--<UUID>, not ${describe(id)}`)
  }

  const s = typeSpec ?? CUSTOM
  for (const name in input) {
    const value = input[name]
    if (value === null) fail(c, name, 'must not be null (omit it instead)')
    const check = s.checks.get(name)
    if (check !== undefined) check(c, value, name)
    else if (name !== 'id' && !PROPERTY_NAME.test(name)) fail(c, name, 'is not a valid property name (3-250 characters of a-z, A-Z, 0-9 and _)')
  }
  if (typeSpec != null && typeSpec.kind !== 'sco') {
    if (input.created === undefined) fail(c, 'created', 'is required')
    // Marking definitions are immutable, so they have no modified.
    if (input.modified === undefined && type !== 'marking-definition') fail(c, 'modified', 'is required')
  }
  for (const name of s.required) if (input[name] === undefined) fail(c, name, 'is required')
  order(c, input, 'created', 'modified')
  s.extra?.(c, input)

  let pattern: PatternAst | undefined
  if (type === 'indicator') {
    const patternType = input.pattern_type as string
    if (patternType === 'stix') pattern = parsePattern(input.pattern as string, objectLabel(c))
    // Any other pattern language is carried opaquely, but "STIX" is a typo that would skip parsing.
    else if (patternType.toLowerCase() === 'stix') fail(c, 'pattern_type', `must be written stix in lower case, not ${describe(patternType)}`)
  }
  return { object: input as StixObject, pattern }
}
