import { DragnetError } from '../errors.js'
import type { Tlp } from '../record/index.js'
import { seededUuid } from '../util/uuid.js'
import { normalizeObservable, stricterTlp, TLP_RANK, type Observable, type ObservableKind } from '../stix/index.js'
import { parseIpNet } from '../stix/ip.js'
import { checkDocumentDepth } from './stix.js'
import type { ImportItem, ParsedImport, SkippedValue, SkipReason } from './types.js'
import { comparisonFor, HASH_NAMES, parseIndicatorValue, refang, scoFor, scoTypeOf, stixTime } from './values.js'

type Json = Record<string, unknown>

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** A STIX UUID from a MISP uuid: the same one when it is valid, else one derived from it. */
function uuidOf (misp: unknown, fallbackSeed: string, namespace = ''): string {
  const u = typeof misp === 'string' ? misp.trim().toLowerCase() : ''
  if (namespace !== '') return seededUuid(`misp:${namespace}:${u !== '' ? u : fallbackSeed}`)
  if (UUID.test(u)) return u
  return seededUuid(`misp:${u !== '' ? u : fallbackSeed}`)
}

/** MISP timestamps are epoch seconds, as strings or numbers. */
function epochMs (v: unknown): number | undefined {
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : typeof v === 'number' ? v : NaN
  return Number.isFinite(n) && n > 0 ? n * 1000 : undefined
}

function isoMs (v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined
  const t = Date.parse(v)
  return Number.isNaN(t) ? undefined : t
}

// MISP's tlp taxonomy (TLP 2.0 plus its older values) and the spellings feeds use for them.
const TLP_TAG_LEVELS: Readonly<Record<string, Tlp>> = {
  clear: 'clear', white: 'clear', green: 'green', amber: 'amber', 'amber+strict': 'amber+strict', red: 'red'
}
// Taxonomy values that say something besides the level (Chatham House Rule): kept as labels.
const TLP_TAG_MODIFIERS = new Set(['ex:chr'])
export const KNOWN_TLP_TAGS = 'tlp:clear, tlp:white, tlp:green, tlp:amber, tlp:amber+strict (or amber-strict), tlp:red'

/**
 * What a tag says about TLP: null for a tag outside the `tlp:` namespace; a level; a modifier
 * (a taxonomy value that is no level); or unknown. Case-insensitive, `tlp:"red"` (machine-tag
 * quoting) and `amber-strict` / `amber_strict` / `amber strict` accepted.
 */
export function readTlpTag (name: string): { level: Tlp } | { modifier: string } | { unknown: string } | null {
  const m = /^tlp\s*:(.*)$/is.exec(name.trim())
  if (m == null) return null
  const value = m[1].trim().replace(/^"(.*)"$/s, '$1').trim().toLowerCase().replace(/^amber\s*[-+_ ]\s*strict$/, 'amber+strict')
  const level = Object.hasOwn(TLP_TAG_LEVELS, value) ? TLP_TAG_LEVELS[value] : undefined
  if (level != null) return { level }
  return TLP_TAG_MODIFIERS.has(value) ? { modifier: value } : { unknown: name.trim() }
}

/** The record TLP a MISP tag asks for (`tlp:white` is TLP 2.0's CLEAR), or undefined. */
export function tlpOfTag (name: string): Tlp | undefined {
  const r = readTlpTag(name)
  return r != null && 'level' in r ? r.level : undefined
}

interface Tags {
  labels: string[]
  tlp?: Tlp
  /** the first `tlp:` tag that names no level we know: the object is refused, never shared at a guess */
  unknownTlp?: string
}

function tagsOf (list: unknown): Tags {
  const out: Tags = { labels: [] }
  if (!Array.isArray(list)) return out
  for (const t of list) {
    const name = typeof t === 'string' ? t : t != null && typeof t === 'object' && typeof (t as Json).name === 'string' ? (t as Json).name as string : undefined
    if (name == null || name.trim() === '') continue
    const tlp = readTlpTag(name)
    if (tlp == null || 'modifier' in tlp) out.labels.push(name.trim())
    else if ('level' in tlp) out.tlp = stricterTlp(out.tlp, tlp.level)
    else out.unknownTlp ??= tlp.unknown
  }
  return out
}

/** Tags that apply together (an object's and its attribute's): every label, the strictest TLP. */
function combineTags (...all: Tags[]): Tags {
  const out: Tags = { labels: mergeLabels([], all.flatMap(t => t.labels)) }
  for (const t of all) {
    if (t.tlp != null) out.tlp = stricterTlp(out.tlp, t.tlp)
    if (t.unknownTlp != null) out.unknownTlp ??= t.unknownTlp
  }
  return out
}

function unknownTlpDetail (tag: string): string {
  return `MISP tag "${tag}" names no TLP level dragnet knows (${KNOWN_TLP_TAGS}); the object is not imported rather than shared at a guessed TLP`
}

function mergeLabels (a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])]
}

type Mapped =
  | { ok: true, comparisons: string[], sco?: Json, sdo?: (uuid: string, at: string) => Json }
  | { ok: false, reason: SkipReason, detail: string }

function invalid (type: string, value: string, what: string): Mapped {
  return { ok: false, reason: 'invalid-value', detail: `${type} "${value}" is not ${what}` }
}

function ipObservable (raw: string): Observable | null {
  const net = parseIpNet(refang(raw))
  if (net == null) return null
  const kind: ObservableKind = net.version === 4 ? (net.prefix === 32 ? 'ipv4' : 'ipv4-cidr') : (net.prefix === 128 ? 'ipv6' : 'ipv6-cidr')
  const value = normalizeObservable(kind, refang(raw))
  return value == null ? null : { kind, value }
}

function quote (v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** `network-traffic` comparisons for a host and a port in one direction (MISP `ip-dst|port`, `ip-port`). */
function trafficComparisons (host: Observable | null, port: number | null, dir: 'dst' | 'src'): string[] {
  const out: string[] = []
  if (host != null) {
    out.push(`network-traffic:${dir}_ref.type = ${quote(scoTypeOf(host.kind))}`)
    out.push(`network-traffic:${dir}_ref.value = ${quote(host.value)}`)
  }
  if (port != null) out.push(`network-traffic:${dir}_port = ${port}`)
  return out
}

function portOf (v: string): number | null {
  const t = v.trim()
  if (!/^[0-9]{1,5}$/.test(t)) return null
  const n = Number(t)
  return n >= 1 && n <= 65535 ? n : null
}

function hashKindOf (type: string): 'md5' | 'sha1' | 'sha256' | null {
  const k = type.replace(/^filename\|/, '')
  return k === 'md5' || k === 'sha1' || k === 'sha256' ? k : null
}

/** What one MISP attribute (type, value) becomes: pattern comparisons and an SCO, or a skip. */
export function mapAttribute (type: string, value: string): Mapped {
  const v = value.trim()
  switch (type) {
    case 'ip-src': case 'ip-dst': {
      const o = ipObservable(v)
      return o == null ? invalid(type, v, 'an IP address or CIDR block') : { ok: true, comparisons: [comparisonFor(o)], sco: scoFor(o, '') }
    }
    case 'ip-src|port': case 'ip-dst|port': case 'hostname|port': case 'domain|port': {
      const bar = v.lastIndexOf('|')
      const hostText = bar < 0 ? v : v.slice(0, bar)
      const port = bar < 0 ? null : portOf(v.slice(bar + 1))
      const host = type.startsWith('ip') ? ipObservable(hostText) : domainObservable(hostText)
      if (host == null || port == null) return invalid(type, v, 'a host and a port')
      return { ok: true, comparisons: trafficComparisons(host, port, type === 'ip-src|port' ? 'src' : 'dst'), sco: scoFor(host, '') }
    }
    case 'domain': case 'hostname': {
      const o = domainObservable(v)
      return o == null ? invalid(type, v, 'a domain name') : { ok: true, comparisons: [comparisonFor(o)], sco: scoFor(o, '') }
    }
    case 'domain|ip': {
      const [d, ip] = v.split('|')
      const domain = domainObservable(d ?? '')
      const addr = ipObservable(ip ?? '')
      if (domain == null || addr == null) return invalid(type, v, 'a domain and an IP address')
      return { ok: true, comparisons: [comparisonFor(domain), `domain-name:resolves_to_refs[*].value = ${quote(addr.value)}`], sco: scoFor(domain, '') }
    }
    case 'url': case 'uri': {
      // A URL attribute must name a URL; "igfxtray.exe" typed as a url is a file name, not a host.
      const r = parseIndicatorValue(v)
      if (!r.ok || r.observable.kind !== 'url' || (!refang(v).includes('://') && !/[/?#]/.test(v))) return invalid(type, v, 'a URL')
      return { ok: true, comparisons: [comparisonFor(r.observable)], sco: scoFor(r.observable, '') }
    }
    case 'email': case 'email-src': case 'email-dst': case 'email-reply-to': {
      const e = normalizeObservable('email', refang(v))
      if (e == null) return invalid(type, v, 'an email address')
      const o: Observable = { kind: 'email', value: e }
      return { ok: true, comparisons: [comparisonFor(o)], sco: scoFor(o, '') }
    }
    case 'md5': case 'sha1': case 'sha256': {
      const h = normalizeObservable(type, v)
      if (h == null) return invalid(type, v, `an ${type.toUpperCase()} hash`)
      const o: Observable = { kind: type, value: h }
      return { ok: true, comparisons: [comparisonFor(o)], sco: scoFor(o, '') }
    }
    case 'filename|md5': case 'filename|sha1': case 'filename|sha256': case 'malware-sample': {
      const bar = v.lastIndexOf('|')
      const kind = type === 'malware-sample' ? 'md5' : hashKindOf(type)!
      const name = bar < 0 ? '' : v.slice(0, bar).trim()
      const h = bar < 0 ? null : normalizeObservable(kind, v.slice(bar + 1))
      if (name === '' || h == null) return invalid(type, v, `a file name and an ${kind.toUpperCase()} hash`)
      const o: Observable = { kind, value: h }
      return { ok: true, comparisons: [`file:name = ${quote(name)}`, comparisonFor(o)], sco: { type: 'file', spec_version: '2.1', name, hashes: { [HASH_NAMES[kind]]: h } } }
    }
    case 'filename': {
      if (v === '') return invalid(type, v, 'a file name')
      return { ok: true, comparisons: [`file:name = ${quote(v)}`], sco: { type: 'file', spec_version: '2.1', name: v } }
    }
    case 'vulnerability': {
      const cve = v.toUpperCase()
      if (!/^CVE-[0-9]{4}-[0-9]{4,}$/.test(cve)) return invalid(type, v, 'a CVE identifier')
      return {
        ok: true,
        comparisons: [],
        sdo: (uuid, at) => ({
          type: 'vulnerability',
          spec_version: '2.1',
          id: `vulnerability--${uuid}`,
          created: at,
          modified: at,
          name: cve,
          external_references: [{ source_name: 'cve', external_id: cve }]
        })
      }
    }
    default:
      return { ok: false, reason: 'unsupported-type', detail: `MISP attribute type ${type} has no STIX mapping in dragnet` }
  }
}

function domainObservable (raw: string): Observable | null {
  const d = normalizeObservable('domain', refang(raw))
  return d == null ? null : { kind: 'domain', value: d }
}

/** A MISP `link`: an external reference for the event's report, at its own TLP. */
interface Link {
  ref: Json
  tlp?: Tlp
  where: string
}

interface EventContext {
  eventId: string
  namespace: string
  tags: Tags
  items: ImportItem[]
  skipped: SkippedValue[]
  seen: Set<string>
  duplicates: number
  values: number
  /** MISP sightings met so far, with the object of their attribute when it was mapped */
  sightings: Array<{ s: Json, where: string, target?: string, tlp?: Tlp }>
}

function attributeTime (a: Json, fallback: number): number {
  return epochMs(a.timestamp) ?? fallback
}

/** An indicator (to_ids) or an observable (context) for one or more attributes mapped together. */
function emit (ctx: EventContext, a: { uuid: string, where: string, values: number, toIds: boolean, at: number, firstSeen?: number, comment?: string, tags: Tags, name: string }, mapped: Extract<Mapped, { ok: true }>): string | undefined {
  const labels = mergeLabels(ctx.tags.labels, a.tags.labels)
  const unknown = ctx.tags.unknownTlp ?? a.tags.unknownTlp
  if (unknown != null) {
    ctx.skipped.push({ where: a.where, value: a.name, reason: 'rejected:DRAGNET_BAD_TLP', detail: unknownTlpDetail(unknown), count: a.values })
    return undefined
  }
  const tlp = stricterTlp(ctx.tags.tlp, a.tags.tlp)
  const at = stixTime(a.at)
  let object: Json
  if (mapped.sdo != null) {
    object = mapped.sdo(a.uuid, at)
    if (a.comment != null && a.comment !== '') object.description = a.comment
    if (labels.length > 0) object.labels = labels
  } else if (a.toIds) {
    object = {
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--${a.uuid}`,
      created: at,
      modified: at,
      name: a.name,
      indicator_types: ['malicious-activity'],
      pattern: `[${mapped.comparisons.join(' AND ')}]`,
      pattern_type: 'stix',
      pattern_version: '2.1',
      valid_from: stixTime(a.firstSeen ?? a.at)
    }
    if (a.comment != null && a.comment !== '') object.description = a.comment
    if (labels.length > 0) object.labels = labels
  } else {
    // SCOs carry no labels or descriptions in STIX 2.1: the report around them does.
    const sco = mapped.sco!
    object = { ...sco, id: `${sco.type as string}--${a.uuid}` }
  }
  const id = object.id as string
  if (ctx.seen.has(id)) { ctx.duplicates += a.values; return id }
  ctx.seen.add(id)
  const item: ImportItem = { object, values: a.values, where: a.where }
  if (tlp != null) item.tlp = tlp
  ctx.items.push(item)
  return id
}

function attrString (a: Json, k: string): string {
  const v = a[k]
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : ''
}

/** One attribute; `inherited` are the tags of the MISP object it belongs to, if any. */
function mapOne (ctx: EventContext, a: Json, where: string, fallbackAt: number, links: Link[], inherited: Tags = { labels: [] }): void {
  ctx.values++
  const type = attrString(a, 'type')
  const value = attrString(a, 'value')
  const tags = combineTags(inherited, tagsOf(a.Tag), { labels: galaxyClusters(a.Galaxy).map(g => g.label) })
  if (type === 'link') {
    const url = value.trim()
    const ref: Json = { source_name: 'misp-link', url }
    const comment = attrString(a, 'comment')
    if (comment !== '') ref.description = comment
    const unknown = ctx.tags.unknownTlp ?? tags.unknownTlp
    if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(url)) ctx.skipped.push({ where, value, reason: 'invalid-value', detail: `link "${url}" is not a URL` })
    else if (unknown != null) ctx.skipped.push({ where, value, reason: 'rejected:DRAGNET_BAD_TLP', detail: unknownTlpDetail(unknown) })
    else links.push({ ref, where, ...(tags.tlp != null || ctx.tags.tlp != null ? { tlp: stricterTlp(ctx.tags.tlp, tags.tlp) } : {}) })
    return
  }
  const mapped = mapAttribute(type, value)
  if (!mapped.ok) {
    ctx.skipped.push({ where, value: `${type}: ${value}`, reason: mapped.reason, detail: mapped.detail })
    return
  }
  const uuid = uuidOf(a.uuid, `${ctx.eventId}|${type}|${value}`, ctx.namespace)
  const target = emit(ctx, {
    uuid,
    where,
    values: 1,
    toIds: a.to_ids === true || a.to_ids === 1 || a.to_ids === '1',
    at: attributeTime(a, fallbackAt),
    firstSeen: isoMs(a.first_seen),
    comment: attrString(a, 'comment'),
    tags,
    name: `${type} ${value.trim()}`
  }, mapped)
  const tlp = stricterTlp(ctx.tags.tlp, tags.tlp)
  if (Array.isArray(a.Sighting)) {
    a.Sighting.forEach((x, i) => { ctx.sightings.push({ s: { ...(x as Json), attribute_uuid: attrString(a, 'uuid') }, where: `${where} Sighting[${i}]`, ...(target != null ? { target } : {}), ...(tlp != null ? { tlp } : {}) }) })
  }
}

/**
 * A MISP `ip-port` object (an address and a port seen together) becomes one indicator whose
 * pattern names both; other objects are read attribute by attribute.
 */
function mapIpPort (ctx: EventContext, obj: Json, attrs: Json[], where: string, fallbackAt: number): boolean {
  const byRel = new Map<string, Json[]>()
  for (const a of attrs) {
    const rel = attrString(a, 'object_relation')
    byRel.set(rel, [...(byRel.get(rel) ?? []), a])
  }
  const known = new Set(['ip', 'ip-dst', 'ip-src', 'dst-port', 'src-port', 'domain', 'hostname'])
  if ([...byRel.keys()].some(k => !known.has(k)) || [...byRel.values()].some(l => l.length > 1)) return false
  const dstIp = byRel.get('ip')?.[0] ?? byRel.get('ip-dst')?.[0]
  const srcIp = byRel.get('ip-src')?.[0]
  const dstPort = byRel.get('dst-port')?.[0]
  const srcPort = byRel.get('src-port')?.[0]
  if (dstIp == null && srcIp == null) return false
  const dHost = dstIp != null ? ipObservable(attrString(dstIp, 'value')) : null
  const sHost = srcIp != null ? ipObservable(attrString(srcIp, 'value')) : null
  const dPort = dstPort != null ? portOf(attrString(dstPort, 'value')) : null
  const sPort = srcPort != null ? portOf(attrString(srcPort, 'value')) : null
  if ((dstIp != null && dHost == null) || (srcIp != null && sHost == null) || (dstPort != null && dPort == null) || (srcPort != null && sPort == null)) return false
  if (byRel.has('domain') || byRel.has('hostname')) return false
  const comparisons = [...trafficComparisons(dHost, dPort, 'dst'), ...trafficComparisons(sHost, sPort, 'src')]
  const toIds = attrs.some(a => a.to_ids === true)
  if (!toIds) return false
  ctx.values += attrs.length
  const at = Math.max(epochMs(obj.timestamp) ?? 0, ...attrs.map(a => attributeTime(a, fallbackAt)))
  const host = (dHost ?? sHost)!
  emit(ctx, {
    uuid: uuidOf(obj.uuid, `${ctx.eventId}|ip-port|${comparisons.join('&')}`, ctx.namespace),
    where,
    values: attrs.length,
    toIds: true,
    at,
    comment: attrString(obj, 'comment'),
    // One indicator for the whole object: as strict as the strictest of its attributes.
    tags: combineTags(tagsOf(obj.Tag), ...attrs.map(a => tagsOf(a.Tag))),
    name: `ip-port ${host.value}${dPort != null ? ':' + String(dPort) : ''}`
  }, { ok: true, comparisons, sco: scoFor(host, '') })
  return true
}

/** The events in a MISP JSON document: `{Event}`, `[{Event}...]`, `{response: [{Event}...]}` or a bare event. */
export function mispEvents (json: unknown): Json[] {
  const one = (v: unknown): Json | undefined => {
    if (v == null || typeof v !== 'object' || Array.isArray(v)) return undefined
    const o = v as Json
    if (o.Event != null && typeof o.Event === 'object' && !Array.isArray(o.Event)) return o.Event as Json
    if (EVENT_PARTS.some(k => Array.isArray(o[k]))) return o
    return undefined
  }
  const list = Array.isArray(json) ? json : json != null && typeof json === 'object' && Array.isArray((json as Json).response) ? (json as Json).response as unknown[] : [json]
  const events: Json[] = []
  list.forEach((v, i) => {
    const e = one(v)
    if (e == null) throw new DragnetError('DRAGNET_BAD_REQUEST', `MISP: item ${i} is not a MISP event (expected {"Event": {...}}, or an event with ${EVENT_PARTS.join(', ')} lists)`)
    events.push(e)
  })
  return events
}

/** True when a JSON document looks like MISP event JSON rather than STIX. */
export function looksLikeMisp (json: unknown): boolean {
  const first = Array.isArray(json) ? json[0] : json != null && typeof json === 'object' && Array.isArray((json as Json).response) ? ((json as Json).response as unknown[])[0] : json
  return first != null && typeof first === 'object' && !Array.isArray(first) && ('Event' in first || (!('type' in first) && EVENT_PARTS.some(k => k in first)))
}

/** The lists that make a bare JSON object a MISP event: any one of them, even alone. */
const EVENT_PARTS = ['Attribute', 'Object', 'Tag', 'Galaxy', 'Sighting'] as const

/**
 * MISP event JSON → STIX 2.1: `to_ids` attributes become indicators with a STIX pattern, the
 * others observables (SCOs); CVEs become vulnerabilities; `link`s become the external references
 * of a report for the event (named by its `info`, its id from the event uuid, referring to the
 * objects made). Ids come from the MISP uuids, times from the MISP timestamps, so the same event
 * always yields the same objects. Tags become labels; `tlp:` tags give the record TLP, the
 * strictest of event, object and attribute (`tlp:white` meaning CLEAR); an object under a `tlp:`
 * tag naming no known level is refused. A report is as strict as the strictest member it names
 * and link it carries: an event whose attributes are stricter than the event gets one report
 * per TLP level, each naming only what is at most that strict.
 */
export function parseMisp (json: unknown, init: { namespace?: string } = {}): ParsedImport {
  checkDocumentDepth(json)
  const namespace = init.namespace ?? ''
  const events = mispEvents(json)
  const items: ImportItem[] = []
  const skipped: SkippedValue[] = []
  let duplicates = 0
  let values = 0
  for (const e of events) {
    const eventId = uuidOf(e.uuid, attrString(e, 'info'), namespace)
    const galaxies = galaxyClusters(e.Galaxy)
    const tags = tagsOf(e.Tag)
    tags.labels = mergeLabels(tags.labels, galaxies.map(g => g.label))
    const ctx: EventContext = { eventId, namespace, tags, items: [], skipped: [], seen: new Set(items.map(i => i.object.id as string)), duplicates: 0, values: 0, sightings: [] }
    const eventAt = epochMs(e.timestamp) ?? isoMs(attrString(e, 'date')) ?? 0
    mapGalaxies(ctx, galaxies, eventAt)
    const links: Link[] = []
    const attrs = Array.isArray(e.Attribute) ? e.Attribute as Json[] : []
    attrs.forEach((a, i) => { mapOne(ctx, a ?? {}, `Event ${eventId} Attribute[${i}]`, eventAt, links) })
    const objects = Array.isArray(e.Object) ? e.Object as Json[] : []
    objects.forEach((o, i) => {
      const oattrs = Array.isArray(o?.Attribute) ? o.Attribute as Json[] : []
      const where = `Event ${eventId} Object[${i}] ${attrString(o ?? {}, 'name')}`
      if (attrString(o ?? {}, 'name') === 'ip-port' && mapIpPort(ctx, o, oattrs, where, eventAt)) return
      const objectTags = tagsOf(o?.Tag)
      oattrs.forEach((a, j) => { mapOne(ctx, a ?? {}, `${where} Attribute[${j}]`, epochMs(o?.timestamp) ?? eventAt, links, objectTags) })
    })
    if (Array.isArray(e.Sighting)) e.Sighting.forEach((x, i) => { ctx.sightings.push({ s: (x ?? {}) as Json, where: `Event ${eventId} Sighting[${i}]` }) })
    mapSightings(ctx, eventAt)
    eventReports(ctx, e, eventAt, links)
    if (ctx.items.length === 0) eventOnly(ctx, e, eventAt)
    items.push(...ctx.items)
    skipped.push(...ctx.skipped)
    duplicates += ctx.duplicates
    values += ctx.values
  }
  return { format: 'misp', values, items, duplicates, skipped }
}

/** Order of TLP levels with "none given" (the import's default) below every level. */
function rankOf (tlp: Tlp | undefined): number {
  return tlp == null ? -1 : TLP_RANK[tlp]
}

/**
 * The event's reports, one per TLP level among its objects and links, loosest first. The report
 * at level L names every object at most as strict as L and carries the links at most as strict
 * as L, so it never reveals a stricter member (not even its id). The loosest report keeps the id
 * derived from the event; the others derive theirs from the event and their level.
 */
function eventReports (ctx: EventContext, e: Json, eventAt: number, links: Link[]): void {
  const members = ctx.items.slice()
  const levels = [...new Set([...members.map(m => m.tlp), ...links.map(l => l.tlp)])].sort((a, b) => rankOf(a) - rankOf(b))
  const info = attrString(e, 'info').trim()
  const published = stixTime(epochMs(e.publish_timestamp) ?? isoMs(attrString(e, 'date')) ?? eventAt)
  const carried = new Set<Link>()
  let first = true
  for (const level of levels) {
    const named = members.filter(m => rankOf(m.tlp) <= rankOf(level))
    if (named.length === 0) continue
    const refs = links.filter(l => rankOf(l.tlp) <= rankOf(level))
    const at = stixTime(Math.max(eventAt, ...named.map(it => Date.parse(String(it.object.modified ?? '')) || 0)))
    const id = first ? `report--${ctx.eventId}` : `report--${seededUuid(`misp-report:${ctx.eventId}:${level ?? ''}`)}`
    const report: Json = {
      type: 'report',
      spec_version: '2.1',
      id,
      created: at,
      modified: at,
      name: `${info !== '' ? info : `MISP event ${ctx.eventId}`}${first ? '' : ` (TLP:${(level ?? 'green').toUpperCase()} part)`}`,
      report_types: ['threat-report'],
      published,
      object_refs: [...new Set(named.map(it => it.object.id as string))]
    }
    if (ctx.tags.labels.length > 0) report.labels = ctx.tags.labels
    if (refs.length > 0) report.external_references = refs.map(l => l.ref)
    const fresh = refs.filter(l => !carried.has(l))
    for (const l of fresh) carried.add(l)
    const item: ImportItem = { object: report, values: fresh.length, where: `Event ${ctx.eventId}${first ? '' : ` report at TLP ${level ?? 'green'}`}` }
    if (level != null) item.tlp = level
    ctx.items.push(item)
    first = false
  }
  for (const l of links) if (!carried.has(l)) ctx.skipped.push({ where: l.where, value: String(l.ref.url), reason: 'no-report' })
}

// ------------------------------------------------------------------ galaxies and sightings

/** MISP galaxy types with a STIX 2.1 SDO of their own; other clusters become `x-misp-galaxy-cluster` objects. */
const GALAXY_SDO: Readonly<Record<string, string>> = {
  'threat-actor': 'threat-actor',
  'mitre-attack-pattern': 'attack-pattern',
  'attack-pattern': 'attack-pattern',
  'mitre-intrusion-set': 'intrusion-set',
  'intrusion-set': 'intrusion-set',
  'mitre-malware': 'malware',
  malware: 'malware',
  ransomware: 'malware',
  rat: 'malware',
  banker: 'malware',
  stealer: 'malware',
  botnet: 'malware',
  backdoor: 'malware',
  'mitre-tool': 'tool',
  tool: 'tool'
}

interface Cluster {
  galaxy: string
  cluster: Json
  /** the cluster's tag name (`misp-galaxy:<type>="<value>"`): a label on the event's objects */
  label: string
}

/** The clusters of a MISP `Galaxy` list (each galaxy with its `GalaxyCluster` list). */
function galaxyClusters (list: unknown): Cluster[] {
  if (!Array.isArray(list)) return []
  const out: Cluster[] = []
  for (const g of list) {
    if (g == null || typeof g !== 'object') continue
    const galaxy = attrString(g as Json, 'type')
    const clusters = (g as Json).GalaxyCluster
    if (!Array.isArray(clusters)) continue
    for (const c of clusters) {
      if (c == null || typeof c !== 'object') continue
      const value = attrString(c as Json, 'value').trim()
      if (value === '') continue
      const type = attrString(c as Json, 'type') || galaxy
      const label = attrString(c as Json, 'tag_name').trim() || `misp-galaxy:${type}="${value}"`
      out.push({ galaxy: type, cluster: c as Json, label })
    }
  }
  return out
}

/** Each galaxy cluster of the event as an SDO (threat actor, malware, attack pattern ...), at the event's TLP. */
function mapGalaxies (ctx: EventContext, clusters: Cluster[], eventAt: number): void {
  for (const { galaxy, cluster, label } of clusters) {
    ctx.values++
    const where = `Event ${ctx.eventId} Galaxy ${galaxy}`
    if (ctx.tags.unknownTlp != null) {
      ctx.skipped.push({ where, value: label, reason: 'rejected:DRAGNET_BAD_TLP', detail: unknownTlpDetail(ctx.tags.unknownTlp) })
      continue
    }
    const type = GALAXY_SDO[galaxy] ?? 'x-misp-galaxy-cluster'
    const at = stixTime(eventAt)
    const value = attrString(cluster, 'value').trim()
    const object: Json = { type, spec_version: '2.1', id: `${type}--${uuidOf(cluster.uuid, `${galaxy}|${value}`, ctx.namespace)}`, created: at, modified: at, name: value, labels: [label] }
    if (type === 'malware') object.is_family = true
    if (type === 'x-misp-galaxy-cluster') object.x_misp_galaxy_type = galaxy
    const description = attrString(cluster, 'description').trim()
    if (description !== '' && description !== value) object.description = description
    if (ctx.seen.has(object.id as string)) { ctx.duplicates++; continue }
    ctx.seen.add(object.id as string)
    ctx.items.push({ object, values: 1, where, ...(ctx.tags.tlp != null ? { tlp: ctx.tags.tlp } : {}) })
  }
}

/**
 * MISP sightings as STIX: a sighting (type 0) becomes a STIX sighting of the attribute's object,
 * a false positive (type 1) an opinion that disagrees with it. Without the attribute in the
 * event (an event of sightings only), the object is the indicator its attribute uuid names.
 * Expiration sightings (type 2) say when to stop using a value, which STIX expresses only in
 * the indicator itself: they are skipped.
 */
function mapSightings (ctx: EventContext, eventAt: number): void {
  for (const { s, where, target, tlp } of ctx.sightings) {
    ctx.values++
    const kind = attrString(s, 'type') || '0'
    const attribute = attrString(s, 'attribute_uuid')
    const ref = target ?? (attribute !== '' ? `indicator--${uuidOf(attribute, attribute, ctx.namespace)}` : undefined)
    if (ref == null || (kind !== '0' && kind !== '1')) {
      ctx.skipped.push({ where, value: `sighting ${attribute}`, reason: kind === '2' ? 'unsupported-type' : 'invalid-value', detail: ref == null ? 'a MISP sighting without attribute_uuid names nothing it saw' : 'MISP expiration sightings have no STIX counterpart' })
      continue
    }
    if (ctx.tags.unknownTlp != null) {
      ctx.skipped.push({ where, value: `sighting ${attribute}`, reason: 'rejected:DRAGNET_BAD_TLP', detail: unknownTlpDetail(ctx.tags.unknownTlp) })
      continue
    }
    const seenAt = stixTime(epochMs(s.date_sighting) ?? epochMs(s.timestamp) ?? eventAt)
    const org = s.Organisation != null && typeof s.Organisation === 'object' ? attrString(s.Organisation as Json, 'name') : ''
    const source = attrString(s, 'source')
    const by = [org !== '' ? `by ${org}` : '', source !== '' ? `(source: ${source})` : ''].filter(x => x !== '').join(' ')
    const uuid = uuidOf(s.uuid, `${attribute}|${kind}|${seenAt}|${org}|${source}`, ctx.namespace)
    const object: Json = kind === '0'
      ? { type: 'sighting', spec_version: '2.1', id: `sighting--${uuid}`, created: seenAt, modified: seenAt, sighting_of_ref: ref, count: 1, first_seen: seenAt, last_seen: seenAt, ...(by !== '' ? { description: `MISP sighting ${by}` } : {}) }
      : { type: 'opinion', spec_version: '2.1', id: `opinion--${uuid}`, created: seenAt, modified: seenAt, object_refs: [ref], opinion: 'disagree', explanation: `false positive (MISP sighting${by !== '' ? ' ' + by : ''})` }
    if (ctx.seen.has(object.id as string)) { ctx.duplicates++; continue }
    ctx.seen.add(object.id as string)
    const level = stricterTlp(ctx.tags.tlp, tlp)
    ctx.items.push({ object, values: 1, where, ...(level != null ? { tlp: level } : {}) })
  }
}

/**
 * An event that yields no object (only tags, say) is kept as what it is: a custom
 * `x-misp-event` object with its info, date and tags as labels, so its classification is not lost.
 */
function eventOnly (ctx: EventContext, e: Json, eventAt: number): void {
  if (ctx.tags.unknownTlp != null || ctx.skipped.length > 0) return
  const at = stixTime(eventAt)
  const info = attrString(e, 'info').trim()
  const object: Json = { type: 'x-misp-event', spec_version: '2.1', id: `x-misp-event--${ctx.eventId}`, created: at, modified: at, name: info !== '' ? info : `MISP event ${ctx.eventId}` }
  if (ctx.tags.labels.length > 0) object.labels = ctx.tags.labels
  const date = attrString(e, 'date')
  if (date !== '') object.x_misp_date = date
  ctx.items.push({ object, values: 0, where: `Event ${ctx.eventId}`, ...(ctx.tags.tlp != null ? { tlp: ctx.tags.tlp } : {}) })
}
