import type { Member } from '../identity/index.js'
import type { Tlp } from '../record/index.js'
import { SCO_TYPES, stricterTlp, tlp2MarkingDefinition, TLP2_MARKING_IDS, tlpOfMarking, type StixObject, type TlpLevel } from '../stix/index.js'
import { uuidv5 } from '../util/uuid.js'

/*
 * What leaves the federation carries what the federation knows about it: the record's TLP, as
 * the standard TLP 2.0 marking, and who signed it, as a STIX identity. A SIEM, OpenCTI or MISP
 * downstream then treats TLP:AMBER as amber and can tell which member said what.
 *
 * The served object is the signed body with two changes, nothing else:
 *  - `object_marking_refs`: TLP marking refs (TLP 1.0 or 2.0) are replaced by the one TLP 2.0
 *    marking of the record's TLP (or of a stricter TLP marking the body carried: nothing is
 *    served looser than its author marked it); other marking refs are kept, in order. TLP refs
 *    in `granular_markings` become TLP 2.0 refs at least as strict as the record.
 *  - `created_by_ref`: when the body names no creator (and is not an SCO, which has none), the
 *    identity of the member whose key signed the record.
 * The signed body itself stays available untouched (`export --raw`, `dragnet get`).
 *
 * A member's identity is derived from its PeerId alone (UUIDv5 in dragnet's namespace), so every
 * node serves the same id for the same member. Its content comes from the serving node's roster:
 * name, role, and the country as a STIX location the identity is `located-at`. Their timestamps
 * are fixed: the objects are generated, not published, and must not change version per export.
 */

/** The UUIDv5 namespace of ids dragnet derives (member identities, their locations). */
export const DRAGNET_STIX_NAMESPACE = 'e66c010e-1854-46c6-ad29-4877c3ab6a06'
const GENERATED_AT = '2024-01-01T00:00:00.000Z'

/** A member that no longer stands in the federation: why, since when, and who holds its key now. */
export interface MemberStanding {
  /** `revoked`, `expired`, `denied` (refused locally) or `rotated` (its key handed over) */
  status: string
  /** ISO time the standing changed (the revocation's, expiry's or hand-over's; none for a local denial) */
  since?: string
  /** the revocation's words; only for callers who may read them */
  reason?: string
  /** a rotated key: the PeerId it was handed over to */
  successor?: string
}

export type MemberInfo = Pick<Member, 'name' | 'country' | 'role'> & { standing?: MemberStanding }

const identityIds = new Map<string, string>()

/** The STIX identity id of the member with this PeerId, the same on every node. */
export function memberIdentityId (peerId: string): string {
  let id = identityIds.get(peerId)
  if (id == null) {
    id = `identity--${uuidv5(`dragnet-member:${peerId}`, DRAGNET_STIX_NAMESPACE)}`
    // Members per federation are bounded; cap the cache anyway.
    if (identityIds.size >= 10_000) identityIds.clear()
    identityIds.set(peerId, id)
  }
  return id
}

function countryOf (member: MemberInfo | undefined): string | undefined {
  const cc = member?.country?.toUpperCase()
  return cc != null && /^[A-Z]{2}$/.test(cc) ? cc : undefined
}

/** A member's identity, and where it has a country, the location and the `located-at` relationship. */
export function memberObjects (peerId: string, member: MemberInfo | undefined): StixObject[] {
  const id = memberIdentityId(peerId)
  const name = member?.name != null && member.name !== '' ? member.name : peerId
  const identity: StixObject = { type: 'identity', spec_version: '2.1', id, created: GENERATED_AT, modified: GENERATED_AT, name }
  const country = countryOf(member)
  if (member != null) {
    identity.description = `dragnet federation member ${name} (${country ?? 'no country'}, ${member.role}); records it signs carry its PeerId ${peerId}`
    identity.identity_class = 'organization'
    identity.roles = [member.role]
  } else {
    identity.description = `the dragnet node with PeerId ${peerId}, not on this node's roster`
    identity.identity_class = 'unknown'
  }
  identity.external_references = [{ source_name: 'dragnet', external_id: peerId, description: 'libp2p PeerId (Ed25519) of the member node: the key that signs its records' }]
  if (member?.standing != null) markStanding(identity, member.standing)
  if (country == null) return [identity]
  const location: StixObject = { type: 'location', spec_version: '2.1', id: `location--${uuidv5(`dragnet-country:${country}`, DRAGNET_STIX_NAMESPACE)}`, created: GENERATED_AT, modified: GENERATED_AT, name: country, country }
  const located: StixObject = {
    type: 'relationship',
    spec_version: '2.1',
    id: `relationship--${uuidv5(`dragnet-located-at:${peerId}:${country}`, DRAGNET_STIX_NAMESPACE)}`,
    created: GENERATED_AT,
    modified: GENERATED_AT,
    relationship_type: 'located-at',
    source_ref: id,
    target_ref: location.id
  }
  return [identity, location, located]
}

const STANDING_LINE: Record<string, string> = {
  revoked: 'Its membership was revoked by the federation\'s roots',
  expired: 'Its membership credential expired',
  denied: 'The exporting node refuses it locally',
  rotated: 'This key was handed over to a new key of the member'
}

/**
 * Says on the identity that its member no longer stands, the STIX way: the identity is the
 * exporter's object, so the change is a new version of it (`modified` at the standing's time,
 * every node computes the same), a line in its description for people, and custom properties
 * for machines (`x_dragnet_member_status`, `_since`, `_reason`, `x_dragnet_successor_peer_id`).
 * It is not `revoked: true`: the organisation still exists and its earlier records stand.
 */
function markStanding (identity: StixObject, st: MemberStanding): void {
  const when = st.since != null && Date.parse(st.since) > Date.parse(GENERATED_AT) ? new Date(st.since).toISOString() : undefined
  const line = `${STANDING_LINE[st.status] ?? `Its standing is ${st.status}`}${when != null ? ` on ${when}` : ''}${st.successor != null ? ` (${st.successor})` : ''}: records it signed before stay valid, new ones are refused.`
  identity.description = `${String(identity.description)}\n${line}`
  if (when != null) identity.modified = when
  identity.x_dragnet_member_status = st.status
  if (when != null) identity.x_dragnet_member_status_since = when
  if (st.reason != null) identity.x_dragnet_member_status_reason = st.reason
  if (st.successor != null) identity.x_dragnet_successor_peer_id = st.successor
}

export interface ServedObject {
  object: StixObject
  /** TLP levels whose TLP 2.0 marking definitions the object references */
  tlps: TlpLevel[]
  /** the author PeerId, when the object now names its identity as creator */
  creator?: string
}

function rewriteGranular (markings: unknown, level: TlpLevel, tlps: Set<TlpLevel>): unknown {
  if (!Array.isArray(markings)) return markings
  return markings.map((g: unknown) => {
    if (g == null || typeof g !== 'object') return g
    const ref = (g as Record<string, unknown>).marking_ref
    const t = typeof ref === 'string' ? tlpOfMarking(ref) : undefined
    if (t == null) return g
    const served = stricterTlp(level, t)
    tlps.add(served)
    return { ...(g as Record<string, unknown>), marking_ref: TLP2_MARKING_IDS[served] }
  })
}

/** The object as served outside the federation: the record's TLP 2.0 marking and its author as creator. */
export function serveBody (body: StixObject, tlp: Tlp, author: string): ServedObject {
  // A TLP marking definition is a fixed standard object: marking it would change it.
  if (body.type === 'marking-definition' && tlpOfMarking(body.id) != null) return { object: body, tlps: [] }
  let level: TlpLevel = tlp
  const others: unknown[] = []
  if (Array.isArray(body.object_marking_refs)) {
    for (const r of body.object_marking_refs) {
      const t = typeof r === 'string' ? tlpOfMarking(r) : undefined
      if (t != null) level = stricterTlp(level, t)
      else if (!others.includes(r)) others.push(r)
    }
  }
  const tlps = new Set<TlpLevel>([level])
  const object: StixObject = { ...body, object_marking_refs: [TLP2_MARKING_IDS[level], ...others] }
  if (body.granular_markings !== undefined) object.granular_markings = rewriteGranular(body.granular_markings, level, tlps)
  // SCOs have no `created` and no creator; every other object may name one.
  if (typeof body.created === 'string' && body.created_by_ref === undefined) {
    object.created_by_ref = memberIdentityId(author)
    return { object, tlps: [...tlps], creator: author }
  }
  return { object, tlps: [...tlps] }
}

const LEVEL_ORDER: readonly TlpLevel[] = ['clear', 'green', 'amber', 'amber+strict', 'red']

// STIX 2.1 SDOs and SROs (all carry `created`) that are never generated here: their bodies can be
// served by inserting two members at the front of the signed bytes, without parsing them.
const SPLICE_WITH_CREATOR = new Set([
  'attack-pattern', 'campaign', 'course-of-action', 'grouping', 'incident', 'indicator', 'infrastructure', 'intrusion-set',
  'malware', 'malware-analysis', 'note', 'observed-data', 'opinion', 'report', 'threat-actor', 'tool', 'vulnerability', 'sighting'
])
const MARKING_REFS_KEY = Buffer.from('"object_marking_refs"')
const GRANULAR_KEY = Buffer.from('"granular_markings"')
const CREATOR_KEY = Buffer.from('"created_by_ref"')

/**
 * Collects what a set of served objects references: TLP 2.0 marking definitions and member
 * identities. `extras()` returns those objects, leaving out ids already served as records.
 */
export class Provenance {
  private readonly tlps = new Set<TlpLevel>()
  private readonly creators = new Set<string>()
  private readonly servedIds = new Set<string>()

  constructor (private readonly memberOf: (peerId: string) => MemberInfo | undefined) {}

  /** Serves one record's body and notes what it references. */
  serve (body: StixObject, tlp: Tlp, author: string): StixObject {
    const s = serveBody(body, tlp, author)
    for (const t of s.tlps) this.tlps.add(t)
    if (s.creator != null) this.creators.add(s.creator)
    this.servedIds.add(body.id)
    return s.object
  }

  /**
   * `serve` on JSON bytes, returning JSON bytes. Bodies of the common shape (an SDO, SRO or SCO
   * of a standard type naming no markings and no creator) are served by splicing the two members
   * in front of the signed bytes: serving pages of records then costs about what copying them
   * does. Anything else is parsed.
   */
  serveBytes (body: Uint8Array, tlp: Tlp, author: string, type: string): Uint8Array {
    const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    const creator = SPLICE_WITH_CREATOR.has(type)
    if (b[0] !== 0x7b || b[1] !== 0x22 || !(creator || SCO_TYPES.has(type)) || b.includes(MARKING_REFS_KEY) || b.includes(GRANULAR_KEY) || b.includes(CREATOR_KEY)) {
      return Buffer.from(JSON.stringify(this.serve(JSON.parse(b.toString('utf8')) as StixObject, tlp, author)))
    }
    this.tlps.add(tlp)
    let head = '{'
    if (creator) {
      head += `"created_by_ref":"${memberIdentityId(author)}",`
      this.creators.add(author)
    }
    head += `"object_marking_refs":["${TLP2_MARKING_IDS[tlp]}"],`
    return Buffer.concat([Buffer.from(head), b.subarray(1)])
  }

  /** How many TLP levels and creators are referenced so far: extras() changes only when this does. */
  get references (): number {
    return this.tlps.size + this.creators.size
  }

  /** The referenced marking definitions and identities (with locations), each once. */
  extras (): StixObject[] {
    const out: StixObject[] = []
    const ids = new Set(this.servedIds)
    const add = (o: StixObject): void => {
      if (ids.has(o.id)) return
      ids.add(o.id)
      out.push(o)
    }
    for (const level of LEVEL_ORDER) if (this.tlps.has(level)) add(tlp2MarkingDefinition(level))
    for (const peerId of [...this.creators].sort()) for (const o of memberObjects(peerId, this.memberOf(peerId))) add(o)
    return out
  }
}
