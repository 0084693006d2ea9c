/*
 * Policy file format (YAML or JSON; `.json` files and content starting with `{` are read as JSON,
 * everything else as YAML 1.2). Unknown fields are errors everywhere, so a typo can never turn a
 * rule into a catch-all.
 *
 *   name: eu-bureau                      # required, shown in audits
 *   description: free text               # optional
 *   groups:                              # optional; names [A-Za-z0-9_-]
 *     eu:       { countries: [DE, FR] }  # ISO 3166 alpha-2, any case
 *     partners: { peers: [12D3KooW...], roles: [bureau], exclude: [12D3KooW...] }
 *       # a member is in a group when every selector present (countries, roles, peers) matches
 *       # it (values within one selector are alternatives) and it is not in `exclude`;
 *       # for a union of groups, list several groups in a matcher
 *   warninglists:                        # MISP warninglist files or directories (recursive),
 *     - warninglists/                    #   relative to the policy file
 *     - { path: ../../data/misp-warninglists, optional: true }   # absent → silently skipped
 *   defaults: { inbound: accept, outbound: send }                 # these are the defaults
 *     # feedback_to_author: true (default) — a sighting or opinion is always sent to the author
 *     #   of the object it is about (TLP floor still applies), before any rule; false: rules decide
 *   rules:                               # ordered; the first rule that matches decides
 *     - id: no-personal-data-outside-eu  # [A-Za-z0-9][A-Za-z0-9._-]*, unique
 *       direction: outbound              # inbound | outbound
 *       match:                           # every matcher present must match (AND); list values
 *                                        # are alternatives (OR); a missing `match` matches all
 *         peer:   { id, country, role, group, not_id, not_country, not_role, not_group }
 *                                        # outbound only: the receiving peer
 *         from:   { ...same fields }     # inbound only: the neighbour that relayed the record
 *                                        #   (this node's own entry for local publication)
 *         author: { ...same fields }     # `id` compares the record's author PeerId; the other
 *                                        #   fields need the author's roster entry: without one,
 *                                        #   positive fields fail and not_* fields hold
 *         tlp: [green, clear]
 *         type: [indicator, observed-data]          # STIX type of the record body
 *         labels: { any: [..], all: [..], none: [..] }   # body.labels, exact strings
 *         confidence: { min: 50, max: 100, missing: no-match }
 *                                        # inclusive range over body.confidence; a record
 *                                        #   without a confidence satisfies no range unless
 *                                        #   `missing: match`
 *         age: { min: 1h, max: 30d }     # now - record ts, inclusive; units ms s m h d w,
 *                                        #   combinable (1d12h), or a number of milliseconds
 *         expired: true                  # indicator valid_until <= now (no valid_until: false)
 *         revoked: true                  # body.revoked
 *         author_revoked: true           # the author is no longer a member in force here
 *                                        #   (revoked, expired, denied): its earlier records
 *         observables: { kinds: [email-addr, user-account] }   # any of these SCO types occurs
 *                                        #   in the record (pattern, refs, extracted observables,
 *                                        #   or the body itself)
 *         disagreements: { gte: 2 }      # members that disagree with the object (STIX opinions,
 *                                        #   newest per member, every TLP held here); gte/lte inclusive
 *         sightings: { gte: 10, lte: 100 }  # total sighting count reported for the object
 *         target: { held: false }        # a sighting or opinion whose object this node never
 *                                        #   held (inbound); no other record matches `target`
 *         warninglist: { hit: true, lists: [rfc1918] }
 *                                        # hit: true → some observable is on a list (one of
 *                                        #   `lists`, by file id or MISP name, when given);
 *                                        #   hit: false → none is
 *       action: withhold                 # inbound: accept | reject; outbound: send | withhold
 *       reason: free text shown in the audit
 *
 * Scalars are accepted where a list is expected (`tlp: green` = `tlp: [green]`).
 */
import { z } from 'zod'
import { DragnetError } from '../errors.js'
import { TLP_LEVELS } from '../record/index.js'
import { ROLES } from './types.js'

export const RULE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
export const GROUP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/
// base58btc (12D3KooW..., Qm...) or base32 CIDv1 (bafz...) PeerId text; the roster checks keys.
const PEER_ID_RE = /^(?:[1-9A-HJ-NP-Za-km-z]{40,64}|b[a-z2-7]{50,70})$/
const COUNTRY_RE = /^[A-Za-z]{2}$/
const STIX_TYPE_RE = /^[a-z0-9][a-z0-9-]*[a-z0-9]$/

/** STIX 2.1 cyber-observable types; custom ones start with `x-`. */
export const SCO_TYPES = [
  'artifact', 'autonomous-system', 'directory', 'domain-name', 'email-addr', 'email-message',
  'file', 'ipv4-addr', 'ipv6-addr', 'mac-addr', 'mutex', 'network-traffic', 'process', 'software',
  'url', 'user-account', 'windows-registry-key', 'x509-certificate'
] as const

export const MEMBER_MATCHER_FIELDS = ['id', 'country', 'role', 'group', 'not_id', 'not_country', 'not_role', 'not_group'] as const
export const MATCH_FIELDS = ['peer', 'from', 'author', 'tlp', 'type', 'labels', 'confidence', 'age', 'expired', 'revoked', 'author_revoked', 'observables', 'warninglist', 'disagreements', 'sightings', 'target'] as const
const RULE_FIELDS = ['id', 'direction', 'match', 'action', 'reason'] as const
const DOC_FIELDS = ['name', 'description', 'groups', 'warninglists', 'defaults', 'rules', 'retention', 'erasure'] as const
const GROUP_FIELDS = ['countries', 'roles', 'peers', 'exclude', 'description'] as const

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const DURATION_RE = /^(?:\d+(?:ms|s|m|h|d|w))+$/
const DURATION_PART_RE = /(\d+)(ms|s|m|h|d|w)/g

/** `30d`, `12h`, `1d12h`, `500ms`, or a non-negative integer of milliseconds; null if neither. */
export function parseDuration (v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null
  if (typeof v !== 'string' || !DURATION_RE.test(v)) return null
  let ms = 0
  for (const m of v.matchAll(DURATION_PART_RE)) ms += Number(m[1]) * UNITS[m[2]]
  return Number.isSafeInteger(ms) ? ms : null
}

const scalarToList = (v: unknown): unknown => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? [v] : v

function listOf<T extends z.ZodType> (item: T, what: string) {
  return z.preprocess(scalarToList, z.array(item, { error: `expected a list of ${what}` }).min(1, { error: `expected at least one ${what}` }))
}

const str = (what: string) => z.string({ error: iss => iss.input === undefined ? `required: ${what}` : `expected ${what}` }).min(1, { error: `expected ${what}, got an empty string` })
const peerId = z.string({ error: 'expected a libp2p PeerId' }).regex(PEER_ID_RE, { error: 'expected a libp2p PeerId such as 12D3KooW...' })
const country = z.string({ error: 'expected an ISO 3166 alpha-2 country code such as DE' })
  .regex(COUNTRY_RE, { error: 'expected an ISO 3166 alpha-2 country code such as DE' })
  .transform(c => c.toUpperCase())
const role = z.enum(ROLES, { error: `expected a role: ${ROLES.join(', ')}` })
const groupRef = z.string({ error: 'expected a group name' }).regex(GROUP_NAME_RE, { error: 'expected a group name' })
const tlp = z.enum(TLP_LEVELS, { error: `expected a TLP level: ${TLP_LEVELS.join(', ')}` })
const stixType = z.string({ error: 'expected a STIX type such as indicator' }).regex(STIX_TYPE_RE, { error: 'expected a STIX type such as indicator' })
const scoType = z.string({ error: 'expected a STIX cyber-observable type such as email-addr' })
  .refine(t => (SCO_TYPES as readonly string[]).includes(t) || (t.startsWith('x-') && STIX_TYPE_RE.test(t)), {
    error: `expected a STIX cyber-observable type (${SCO_TYPES.join(', ')}, or a custom x-...)`
  })
const confidenceValue = z.number({ error: 'expected a number 0-100' })
  .min(0, { error: 'expected a number 0-100' }).max(100, { error: 'expected a number 0-100' })
const DURATION_HINT = 'expected a duration such as 90d, 12h, 30m, 45s, 1d12h, or a number of milliseconds'
const duration = z.custom<string | number>(v => parseDuration(v) != null, { error: DURATION_HINT })
const bool = z.boolean({ error: 'expected true or false' })

function atLeastOne (fields: readonly string[]) {
  return (v: Record<string, unknown>): boolean => fields.some(f => v[f] !== undefined)
}

const memberMatcher = z.strictObject({
  id: listOf(peerId, 'PeerIds').optional(),
  country: listOf(country, 'country codes').optional(),
  role: listOf(role, 'roles').optional(),
  group: listOf(groupRef, 'group names').optional(),
  not_id: listOf(peerId, 'PeerIds').optional(),
  not_country: listOf(country, 'country codes').optional(),
  not_role: listOf(role, 'roles').optional(),
  not_group: listOf(groupRef, 'group names').optional()
}, { error: 'expected an object' }).refine(atLeastOne(MEMBER_MATCHER_FIELDS), { error: `expected at least one of ${MEMBER_MATCHER_FIELDS.join(', ')}` })

const labelsMatcher = z.strictObject({
  any: listOf(str('a label'), 'labels').optional(),
  all: listOf(str('a label'), 'labels').optional(),
  none: listOf(str('a label'), 'labels').optional()
}, { error: 'expected an object with any, all and/or none' }).refine(atLeastOne(['any', 'all', 'none']), { error: 'expected at least one of any, all, none' })

const confidenceMatcher = z.strictObject({
  min: confidenceValue.optional(),
  max: confidenceValue.optional(),
  missing: z.enum(['match', 'no-match'], { error: 'expected match or no-match' }).optional()
}, { error: 'expected an object with min and/or max' })
  .refine(atLeastOne(['min', 'max']), { error: 'expected at least one of min, max' })
  .refine(v => v.min == null || v.max == null || v.min <= v.max, { error: 'min is greater than max', path: ['min'] })

const ageMatcher = z.strictObject({
  min: duration.optional(),
  max: duration.optional()
}, { error: 'expected an object with min and/or max' })
  .refine(atLeastOne(['min', 'max']), { error: 'expected at least one of min, max' })
  .refine(v => v.min == null || v.max == null || parseDuration(v.min)! <= parseDuration(v.max)!, { error: 'min is longer than max', path: ['min'] })

const countValue = z.number({ error: 'expected a whole number 0 or more' }).int({ error: 'expected a whole number 0 or more' }).min(0, { error: 'expected a whole number 0 or more' })
const countMatcher = z.strictObject({
  gte: countValue.optional(),
  lte: countValue.optional()
}, { error: 'expected an object with gte and/or lte' })
  .refine(atLeastOne(['gte', 'lte']), { error: 'expected at least one of gte, lte' })
  .refine(v => v.gte == null || v.lte == null || v.gte <= v.lte, { error: 'gte is greater than lte', path: ['gte'] })

const matchSchema = z.strictObject({
  peer: memberMatcher.optional(),
  from: memberMatcher.optional(),
  author: memberMatcher.optional(),
  tlp: listOf(tlp, 'TLP levels').optional(),
  type: listOf(stixType, 'STIX types').optional(),
  labels: labelsMatcher.optional(),
  confidence: confidenceMatcher.optional(),
  age: ageMatcher.optional(),
  expired: bool.optional(),
  revoked: bool.optional(),
  author_revoked: bool.optional(),
  observables: z.strictObject({ kinds: listOf(scoType, 'STIX cyber-observable types') }, { error: 'expected an object with kinds' }).optional(),
  disagreements: countMatcher.optional(),
  sightings: countMatcher.optional(),
  target: z.strictObject({ held: bool }, { error: 'expected an object with held' }).optional(),
  warninglist: z.strictObject({
    hit: bool,
    lists: listOf(str('a warninglist name'), 'warninglist names').optional()
  }, { error: 'expected an object with hit (and optionally lists)' }).optional()
}, { error: 'expected an object of matchers' })

const required = (what: string) => (iss: { input: unknown }) => iss.input === undefined ? `required: ${what}` : `expected ${what}`

/** `observable: email` in retention and erasure rules: the observable kinds dragnet indexes, as STIX SCO types. */
export const OBSERVABLE_KIND_SCO: Readonly<Record<string, readonly string[]>> = {
  email: ['email-addr'],
  ip: ['ipv4-addr', 'ipv6-addr'],
  ipv4: ['ipv4-addr'],
  ipv6: ['ipv6-addr'],
  domain: ['domain-name'],
  url: ['url'],
  hash: ['file'],
  file: ['file']
}

/**
 * The record matchers of retention and erasure rules: a rule about a stored record, so no
 * neighbour (`peer`, `from`); `observable: email` is short for `observables: { kinds: [email-addr] }`.
 */
const recordMatchSchema = z.preprocess(v => {
  if (v == null || typeof v !== 'object' || Array.isArray(v) || !('observable' in v)) return v
  const { observable, ...rest } = v as Record<string, unknown>
  const names = Array.isArray(observable) ? observable : [observable]
  const kinds = names.flatMap(n => OBSERVABLE_KIND_SCO[String(n)] ?? [`unknown:${String(n)}`])
  return { ...rest, observables: { kinds: [...((rest.observables as { kinds?: string[] } | undefined)?.kinds ?? []), ...kinds] } }
}, matchSchema.omit({ peer: true, from: true }).superRefine((m, ctx) => {
  for (const k of m.observables?.kinds ?? []) {
    if (k.startsWith('unknown:')) ctx.addIssue({ code: 'custom', path: ['observable'], message: `unknown observable ${k.slice(8)}; expected one of ${Object.keys(OBSERVABLE_KIND_SCO).join(', ')}` })
  }
}))

const retentionSchema = z.strictObject({
  id: z.string({ error: 'expected a rule id' }).regex(RULE_ID_RE, { error: 'expected a rule id of letters, digits, ".", "_" and "-"' }).optional(),
  match: recordMatchSchema.optional(),
  days: z.number({ error: required('days, a number of days') }).positive({ error: 'expected a positive number of days' }),
  reason: z.string({ error: 'expected text' }).optional()
}, { error: 'expected a retention rule: { match, days }' })

const erasureRuleSchema = z.strictObject({
  id: z.string({ error: required('a rule id') }).regex(RULE_ID_RE, { error: 'expected a rule id of letters, digits, ".", "_" and "-"' }),
  match: recordMatchSchema.optional(),
  action: z.enum(['honour', 'refuse'], { error: required('an action: honour or refuse') }),
  reason: z.string({ error: 'expected text' }).optional()
}, { error: 'expected an erasure rule: { id, match, action }' })

const ruleSchema = z.strictObject({
  id: z.string({ error: required('a rule id') }).regex(RULE_ID_RE, { error: 'expected a rule id of letters, digits, ".", "_" and "-"' }),
  direction: z.enum(['inbound', 'outbound'], { error: required('inbound or outbound') }),
  match: matchSchema.optional(),
  action: z.enum(['accept', 'reject', 'send', 'withhold'], { error: required('an action: accept or reject (inbound), send or withhold (outbound)') }),
  reason: z.string({ error: 'expected text' }).optional()
}, { error: 'expected a rule object' })

const groupSchema = z.strictObject({
  countries: listOf(country, 'country codes').optional(),
  roles: listOf(role, 'roles').optional(),
  peers: listOf(peerId, 'PeerIds').optional(),
  exclude: listOf(peerId, 'PeerIds').optional(),
  description: z.string({ error: 'expected text' }).optional()
}, { error: 'expected a group object' }).refine(atLeastOne(['countries', 'roles', 'peers']), { error: 'expected at least one of countries, roles, peers' })

const warninglistRef = z.preprocess(
  v => typeof v === 'string' ? { path: v } : v,
  z.strictObject({ path: str('a file or directory path'), optional: bool.optional() }, { error: 'expected a path, or an object with path and optional' })
)

export const policyDocSchema = z.strictObject({
  name: str('a policy name'),
  description: z.string({ error: 'expected text' }).optional(),
  groups: z.record(z.string(), groupSchema, { error: 'expected an object of named groups' }).optional(),
  warninglists: z.array(warninglistRef, { error: 'expected a list of paths' }).optional(),
  defaults: z.strictObject({
    inbound: z.enum(['accept', 'reject'], { error: 'expected accept or reject' }).optional(),
    outbound: z.enum(['send', 'withhold'], { error: 'expected send or withhold' }).optional(),
    feedback_to_author: bool.optional()
  }, { error: 'expected an object with inbound, outbound and/or feedback_to_author' }).optional(),
  rules: z.array(ruleSchema, { error: 'expected a list of rules' }).optional(),
  retention: z.array(retentionSchema, { error: 'expected a list of retention rules' }).optional(),
  erasure: z.array(erasureRuleSchema, { error: 'expected a list of erasure rules' }).optional()
}, { error: 'expected a policy object' })

export type PolicyDoc = z.output<typeof policyDocSchema>
export type RuleDoc = z.output<typeof ruleSchema>
export type RetentionDoc = z.output<typeof retentionSchema>
export type ErasureRuleDoc = z.output<typeof erasureRuleSchema>
export type MatchDoc = z.output<typeof matchSchema>
export type MemberMatcherDoc = z.output<typeof memberMatcher>
export type GroupDoc = z.output<typeof groupSchema>
export type WarninglistRef = z.output<typeof warninglistRef>

export type PathSegment = string | number

export interface PolicyIssue {
  path: PathSegment[]
  message: string
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/

/** `rules[3] (id "eu-personal-data").match.confidence.min`, naming the rule by its id when it has one. */
export function formatPath (path: readonly PathSegment[], raw: unknown): string {
  let out = ''
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]
    if (typeof seg === 'number') out += `[${seg}]`
    else out += IDENT_RE.test(seg) ? (out === '' ? seg : `.${seg}`) : `[${JSON.stringify(seg)}]`
    if (i === 1 && path[0] === 'rules' && typeof seg === 'number') {
      const id = ruleIdAt(raw, seg)
      if (id != null) out += ` (id ${JSON.stringify(id)})`
    }
  }
  return out
}

function ruleIdAt (raw: unknown, index: number): string | null {
  const rules = (raw as { rules?: unknown } | null)?.rules
  if (!Array.isArray(rules)) return null
  const id = (rules[index] as { id?: unknown } | null)?.id
  return typeof id === 'string' ? id : null
}

function knownFields (path: readonly PathSegment[]): readonly string[] | null {
  if (path.length === 0) return DOC_FIELDS
  const last = path[path.length - 1]
  if (path[0] === 'rules') {
    if (path.length === 2) return RULE_FIELDS
    if (last === 'match') return MATCH_FIELDS
    if (last === 'peer' || last === 'from' || last === 'author') return MEMBER_MATCHER_FIELDS
  }
  if (path[0] === 'groups' && path.length === 2) return GROUP_FIELDS
  return null
}

/** One problem as reported: the path as text, and for rule problems the rule index, id and field. */
export interface PolicyProblem {
  path: string
  message: string
  rule?: number
  ruleId?: string
  field?: string
}

function describeIssue (issue: PolicyIssue, raw: unknown): PolicyProblem {
  const out: PolicyProblem = { path: formatPath(issue.path, raw), message: issue.message }
  if (issue.path[0] === 'rules' && typeof issue.path[1] === 'number') {
    out.rule = issue.path[1]
    const id = ruleIdAt(raw, issue.path[1])
    if (id != null) out.ruleId = id
    out.field = formatPath(issue.path.slice(2), raw)
  }
  return out
}

function comparePaths (a: readonly PathSegment[], b: readonly PathSegment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === y) continue
    if (typeof x === 'number' && typeof y === 'number') return x - y
    if (typeof x === 'number') return -1
    if (typeof y === 'number') return 1
    return x < y ? -1 : 1
  }
  return a.length - b.length
}

/**
 * The one error every invalid policy produces. The message names every problem, one a line,
 * each with its path (`rules[3] (id "eu-personal-data").match.confidence.min`); details give
 * the first problem's property, rule, ruleId and field, and `issues` all of them.
 */
export function policyError (issues: PolicyIssue[], raw: unknown, source?: string): DragnetError {
  const seen = new Set<string>()
  const sorted = issues.slice().sort((a, b) => comparePaths(a.path, b.path)).filter(i => {
    const k = `${JSON.stringify(i.path)}|${i.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
  const problems = sorted.map(i => describeIssue(i, raw))
  const first = problems[0]
  const prefix = source != null ? `${source}: ` : ''
  const line = (p: PolicyProblem): string => `${p.path === '' ? '(policy)' : p.path}: ${p.message}`
  const message = problems.length === 1
    ? `${prefix}${line(first)}`
    : `${prefix}${problems.length} problems:\n${problems.map(p => `  ${line(p)}`).join('\n')}`
  const details: Record<string, unknown> = { property: first.path }
  if (source != null) details.file = source
  if (first.rule != null) {
    details.rule = first.rule
    if (first.ruleId != null) details.ruleId = first.ruleId
    details.field = first.field
  }
  details.issues = problems
  return new DragnetError('DRAGNET_BAD_POLICY', message, details)
}

function issuesFromZod (err: z.ZodError): PolicyIssue[] {
  const out: PolicyIssue[] = []
  for (const iss of err.issues) {
    const path = iss.path.map(p => typeof p === 'symbol' ? String(p) : p)
    if (iss.code === 'unrecognized_keys') {
      const known = knownFields(path)
      for (const key of iss.keys) {
        out.push({ path: [...path, key], message: `unknown field${known != null ? `; expected one of ${known.join(', ')}` : ''}` })
      }
    } else {
      out.push({ path, message: iss.message })
    }
  }
  return out
}

const INBOUND_ACTIONS = new Set(['accept', 'reject'])
const OUTBOUND_ACTIONS = new Set(['send', 'withhold'])

interface IndexedRule {
  index: number
  rule: RuleDoc
}

/**
 * Checks that span fields: unique ids, actions and matchers that fit the direction, known
 * groups. `groups` is null when the groups did not validate: references are not checked then.
 */
function crossCheck (groups: Record<string, GroupDoc> | null, rules: readonly IndexedRule[]): PolicyIssue[] {
  const issues: PolicyIssue[] = []
  for (const name of Object.keys(groups ?? {})) {
    if (!GROUP_NAME_RE.test(name)) issues.push({ path: ['groups', name], message: 'group names are letters, digits, "_" and "-"' })
  }
  const seen = new Map<string, number>()
  for (const { index: i, rule } of rules) {
    const prev = seen.get(rule.id)
    if (prev != null) issues.push({ path: ['rules', i, 'id'], message: `duplicate rule id; rules[${prev}] has it already` })
    else seen.set(rule.id, i)
    const fits = rule.direction === 'inbound' ? INBOUND_ACTIONS : OUTBOUND_ACTIONS
    if (!fits.has(rule.action)) {
      issues.push({ path: ['rules', i, 'action'], message: `${rule.action} is not an ${rule.direction} action; expected ${[...fits].join(' or ')}` })
    }
    const m = rule.match
    if (m == null) continue
    if (m.peer != null && rule.direction !== 'outbound') issues.push({ path: ['rules', i, 'match', 'peer'], message: 'peer applies to outbound rules only; inbound rules match the relaying neighbour with from' })
    if (m.from != null && rule.direction !== 'inbound') issues.push({ path: ['rules', i, 'match', 'from'], message: 'from applies to inbound rules only; outbound rules match the receiving peer with peer' })
    if (groups == null) continue
    for (const key of ['peer', 'from', 'author'] as const) {
      const mm = m[key]
      if (mm == null) continue
      for (const field of ['group', 'not_group'] as const) {
        for (const [j, g] of (mm[field] ?? []).entries()) {
          if (!Object.hasOwn(groups, g)) issues.push({ path: ['rules', i, 'match', key, field, j], message: `unknown group "${g}"; define it under groups` })
        }
      }
    }
  }
  return issues
}

const groupsSchema = policyDocSchema.shape.groups

/**
 * What of an invalid document is valid on its own: its groups (null if they are not) and each
 * rule that validates, so that cross-field problems are reported beside the schema problems.
 */
function validParts (raw: unknown): { groups: Record<string, GroupDoc> | null, rules: IndexedRule[] } {
  const doc = typeof raw === 'object' && raw !== null ? raw as { groups?: unknown, rules?: unknown } : {}
  const g = groupsSchema.safeParse(doc.groups)
  const rules: IndexedRule[] = []
  if (Array.isArray(doc.rules)) {
    doc.rules.forEach((r, index) => {
      const res = ruleSchema.safeParse(r)
      if (res.success) rules.push({ index, rule: res.data })
    })
  }
  return { groups: g.success ? g.data ?? {} : null, rules }
}

/** Validates a parsed policy document; throws DRAGNET_BAD_POLICY naming every problem with its rule and field. */
export function validatePolicyDoc (raw: unknown, source?: string): PolicyDoc {
  const res = policyDocSchema.safeParse(raw)
  if (!res.success) {
    const parts = validParts(raw)
    throw policyError([...issuesFromZod(res.error), ...crossCheck(parts.groups, parts.rules)], raw, source)
  }
  const issues = crossCheck(res.data.groups ?? {}, (res.data.rules ?? []).map((rule, index) => ({ index, rule })))
  if (issues.length > 0) throw policyError(issues, raw, source)
  return res.data
}
