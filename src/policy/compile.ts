import { DragnetError } from '../errors.js'
import { roleFloor, tlpFloorInbound, tlpFloorOutbound } from './floor.js'
import { parseDuration, policyError, validatePolicyDoc, type ErasureRuleDoc, type RetentionDoc, type GroupDoc, type MatchDoc, type MemberMatcherDoc, type PathSegment, type PolicyDoc, type PolicyIssue, type RuleDoc } from './schema.js'
import type { PolicySubject } from './subject.js'
import type { Decision, Direction, InboundContext, InboundVerdict, Member, OutboundContext, OutboundVerdict } from './types.js'
import { loadWarninglistsSync, WarninglistSet, type WarninglistHit } from './warninglist.js'

/** One matcher of a rule that reads only the record and its author: cached per subject. */
interface StaticCheck {
  matcher: string
  test: (s: PolicySubject, author: Member | undefined) => boolean
  explain: (s: PolicySubject, author: Member | undefined) => string
}

/** One matcher that depends on the peer (or relaying neighbour) or on the clock. */
interface DynamicCheck {
  matcher: string
  test: (s: PolicySubject, other: Member, now: number) => boolean
  explain: (s: PolicySubject, other: Member, now: number) => string
}

interface CompiledRule {
  id: string
  index: number
  direction: Direction
  action: InboundVerdict | OutboundVerdict
  reason: string
  decision: Decision
  statics: StaticCheck[]
  /** every peer/from and clock matcher (explanations use these) */
  dynamics: DynamicCheck[]
  /** the decision path splits them: the peer/from matcher, whose result per member is cached ... */
  memberTest: ((m: Member) => boolean) | null
  /** ... and the clock matchers, evaluated per decision */
  timeChecks: DynamicCheck[]
  /** matcher names in the order they appear in the rule, for explanations */
  order: string[]
}

export interface RuleInfo {
  id: string
  /** position in the file's `rules` list */
  index: number
  direction: Direction
  action: InboundVerdict | OutboundVerdict
  reason: string
}

export interface CheckExplanation {
  matcher: string
  matched: boolean
  detail: string
}

export interface RuleExplanation extends RuleInfo {
  /** the engine reached this rule (the floor allowed and no earlier rule matched) */
  evaluated: boolean
  matched: boolean
  /** this rule made the decision */
  decisive: boolean
  /** every matcher, evaluated even after one failed, so the reader sees each reason */
  checks: CheckExplanation[]
}

export interface Explanation {
  direction: Direction
  decision: Decision
  /** the fixed-rule decision when the TLP floor or a role rule decided, else null */
  floor: Decision | null
  rules: RuleExplanation[]
  warninglistHits: readonly WarninglistHit[]
}

export interface ExplainOptions {
  direction: Direction
  self: Member
  now: number
  /** outbound: the receiving peer (required) */
  peer?: Member
  /** outbound: whether the peer is on the roster (default true) */
  peerOnRoster?: boolean
  /** inbound: the relaying neighbour; default: the author's entry (received directly), else 'self' */
  from?: Member | 'self'
  author?: Member
}

export interface CompileOptions {
  /** file the document came from, for error messages and `Policy.source` */
  source?: string
  /** lists already loaded for `doc.warninglists`; when absent they are read synchronously from disk */
  warninglists?: WarninglistSet
}

class Group {
  readonly countries: ReadonlySet<string> | null
  readonly roles: ReadonlySet<string> | null
  readonly peers: ReadonlySet<string> | null
  readonly exclude: ReadonlySet<string> | null

  constructor (readonly name: string, doc: GroupDoc) {
    this.countries = doc.countries != null ? new Set(doc.countries) : null
    this.roles = doc.roles != null ? new Set(doc.roles) : null
    this.peers = doc.peers != null ? new Set(doc.peers) : null
    this.exclude = doc.exclude != null ? new Set(doc.exclude) : null
  }

  has (m: Member): boolean {
    if (this.exclude?.has(m.peerId) === true) return false
    if (this.peers != null && !this.peers.has(m.peerId)) return false
    if (this.roles != null && !this.roles.has(m.role)) return false
    if (this.countries != null && !this.countries.has(upper(m.country))) return false
    return true
  }
}

const upper = (c: string): string => typeof c === 'string' ? c.toUpperCase() : ''
const list = (xs: Iterable<unknown>): string => `[${[...xs].map(String).join(', ')}]`
const inOrNot = (ok: boolean): string => ok ? 'in' : 'not in'

interface MemberPart {
  test: (m: Member | undefined, id: string) => boolean
  explain: (m: Member | undefined, id: string) => string
}

/**
 * Fields of a peer/from/author matcher. Without a roster entry (unknown author) the positive
 * country/role/group fields fail and their not_* forms hold: a member we know nothing about is in
 * no country, role or group.
 */
function memberParts (doc: MemberMatcherDoc, groups: ReadonlyMap<string, Group>, label: string): MemberPart[] {
  const parts: MemberPart[] = []
  const ids = (xs: string[] | undefined, negate: boolean): void => {
    if (xs == null) return
    const set = new Set(xs)
    const name = negate ? 'not_id' : 'id'
    parts.push({
      test: negate ? (_m, id) => !set.has(id) : (_m, id) => set.has(id),
      explain: (_m, id) => `${label} ${name}: ${id} ${inOrNot(set.has(id))} ${list(set)}`
    })
  }
  const attr = (xs: string[] | undefined, negate: boolean, field: 'country' | 'role', get: (m: Member) => string): void => {
    if (xs == null) return
    const set = new Set(xs)
    const has = (m: Member | undefined): boolean => m != null && set.has(get(m))
    const name = negate ? `not_${field}` : field
    parts.push({
      test: negate ? m => !has(m) : has,
      explain: m => m == null ? `${label} ${name}: no roster entry` : `${label} ${name}: ${get(m)} ${inOrNot(has(m))} ${list(set)}`
    })
  }
  const grp = (xs: string[] | undefined, negate: boolean): void => {
    if (xs == null) return
    const gs = xs.map(g => groups.get(g)!)
    const has = (m: Member | undefined): boolean => {
      if (m == null) return false
      for (const g of gs) if (g.has(m)) return true
      return false
    }
    const name = negate ? 'not_group' : 'group'
    parts.push({
      test: negate ? m => !has(m) : has,
      explain: m => {
        if (m == null) return `${label} ${name}: no roster entry`
        const inGroups = gs.filter(g => g.has(m)).map(g => g.name)
        return `${label} ${name}: ${m.peerId} is in ${inGroups.length > 0 ? list(inGroups) : 'none'} of ${list(xs)}`
      }
    })
  }
  ids(doc.id, false)
  attr(doc.country, false, 'country', m => upper(m.country))
  attr(doc.role, false, 'role', m => m.role)
  grp(doc.group, false)
  ids(doc.not_id, true)
  attr(doc.not_country, true, 'country', m => upper(m.country))
  attr(doc.not_role, true, 'role', m => m.role)
  grp(doc.not_group, true)
  return parts
}

function allParts (parts: MemberPart[]): (m: Member | undefined, id: string) => boolean {
  if (parts.length === 1) return parts[0].test
  return (m, id) => {
    for (let i = 0; i < parts.length; i++) if (!parts[i].test(m, id)) return false
    return true
  }
}

function explainParts (parts: MemberPart[], m: Member | undefined, id: string): string {
  return parts.map(p => `${p.explain(m, id)} (${p.test(m, id) ? 'ok' : 'fails'})`).join('; ')
}

interface CompileContext {
  groups: ReadonlyMap<string, Group>
  warninglists: WarninglistSet
  issues: PolicyIssue[]
}

function compileRule (rule: RuleDoc, index: number, cx: CompileContext): CompiledRule {
  const m: MatchDoc = rule.match ?? {}
  const statics: StaticCheck[] = []
  const dynamics: DynamicCheck[] = []
  const order: string[] = []
  const at = (...p: PathSegment[]): PathSegment[] => ['rules', index, 'match', ...p]

  const other = rule.direction === 'outbound' ? m.peer : m.from
  const otherName = rule.direction === 'outbound' ? 'peer' : 'from'
  let memberTest: ((m: Member) => boolean) | null = null
  if (other != null) {
    const parts = memberParts(other, cx.groups, otherName)
    const test = allParts(parts)
    memberTest = o => test(o, o.peerId)
    dynamics.push({ matcher: otherName, test: (_s, o) => test(o, o.peerId), explain: (_s, o) => explainParts(parts, o, o.peerId) })
    order.push(otherName)
  }
  if (m.author != null) {
    const parts = memberParts(m.author, cx.groups, 'author')
    const test = allParts(parts)
    statics.push({ matcher: 'author', test: (s, a) => test(a, s.author), explain: (s, a) => explainParts(parts, a, s.author) })
    order.push('author')
  }
  if (m.tlp != null) {
    const set: ReadonlySet<string> = new Set(m.tlp)
    statics.push({ matcher: 'tlp', test: s => set.has(s.tlp), explain: s => `tlp ${s.tlp} ${inOrNot(set.has(s.tlp))} ${list(set)}` })
    order.push('tlp')
  }
  if (m.type != null) {
    const set: ReadonlySet<string> = new Set(m.type)
    statics.push({ matcher: 'type', test: s => set.has(s.type), explain: s => `type ${s.type} ${inOrNot(set.has(s.type))} ${list(set)}` })
    order.push('type')
  }
  if (m.labels != null) {
    const any = m.labels.any != null ? new Set(m.labels.any) : null
    const all = m.labels.all ?? null
    const none = m.labels.none ?? null
    const test = (s: PolicySubject): boolean => {
      const ls = s.labels
      if (all != null) for (const l of all) if (!ls.has(l)) return false
      if (none != null) for (const l of none) if (ls.has(l)) return false
      if (any != null) {
        for (const l of ls) if (any.has(l)) return true
        return false
      }
      return true
    }
    statics.push({
      matcher: 'labels',
      test,
      explain: s => {
        const parts: string[] = []
        if (any != null) parts.push(`any of ${list(any)}`)
        if (all != null) parts.push(`all of ${list(all)}`)
        if (none != null) parts.push(`none of ${list(none)}`)
        return `labels ${list(s.labels)} ${test(s) ? 'satisfy' : 'do not satisfy'} ${parts.join(', ')}`
      }
    })
    order.push('labels')
  }
  if (m.confidence != null) {
    const min = m.confidence.min ?? 0
    const max = m.confidence.max ?? 100
    const missing = m.confidence.missing === 'match'
    const test = (s: PolicySubject): boolean => {
      const c = s.confidence
      return c === undefined ? missing : c >= min && c <= max
    }
    statics.push({
      matcher: 'confidence',
      test,
      explain: s => s.confidence === undefined
        ? `no confidence; missing: ${missing ? 'match' : 'no-match'}`
        : `confidence ${s.confidence} ${test(s) ? 'within' : 'outside'} ${min}-${max}`
    })
    order.push('confidence')
  }
  if (m.age != null) {
    const min = m.age.min != null ? parseDuration(m.age.min)! : -Infinity
    const max = m.age.max != null ? parseDuration(m.age.max)! : Infinity
    const test = (s: PolicySubject, _o: Member, now: number): boolean => {
      const age = now - s.ts
      return age >= min && age <= max
    }
    dynamics.push({
      matcher: 'age',
      test,
      explain: (s, o, now) => `age ${formatMs(now - s.ts)} ${test(s, o, now) ? 'within' : 'outside'} ${Number.isFinite(min) ? formatMs(min) : '0'}..${Number.isFinite(max) ? formatMs(max) : '∞'}`
    })
    order.push('age')
  }
  if (m.expired != null) {
    const want = m.expired
    dynamics.push({
      matcher: 'expired',
      test: (s, _o, now) => s.expiredAt(now) === want,
      explain: (s, _o, now) => {
        const v = s.validUntil
        const state = v !== v ? 'no valid_until (not expired)' : s.expiredAt(now) ? `expired at ${new Date(v).toISOString()}` : `valid until ${new Date(v).toISOString()}`
        return `${state}; rule wants expired: ${want}`
      }
    })
    order.push('expired')
  }
  if (m.author_revoked != null) {
    // A record reaches a policy only with an author entry when its author is in force (a
    // rotated key's earlier records carry their member's entry); none means it left.
    const want = m.author_revoked
    statics.push({ matcher: 'author_revoked', test: (_s, a) => (a == null) === want, explain: (s, a) => `author ${s.author} ${a == null ? 'is no longer a member in force' : 'is a member in force'}; rule wants author_revoked ${want}` })
    order.push('author_revoked')
  }
  if (m.revoked != null) {
    const want = m.revoked
    statics.push({ matcher: 'revoked', test: s => s.revoked === want, explain: s => `revoked: ${s.revoked}; rule wants ${want}` })
    order.push('revoked')
  }
  if (m.observables != null) {
    const kinds = m.observables.kinds
    const test = (s: PolicySubject): boolean => {
      const present = s.scoTypes
      for (const k of kinds) if (present.has(k)) return true
      return false
    }
    statics.push({
      matcher: 'observables',
      test,
      explain: s => `observable types ${list(s.scoTypes)} ${test(s) ? 'include' : 'include none of'} ${list(kinds)}`
    })
    order.push('observables')
  }
  countCheck(m.disagreements, 'disagreements', s => s.feedback.disagree, statics, order)
  countCheck(m.sightings, 'sightings', s => s.feedback.sightings, statics, order)
  if (m.target != null) {
    const want = m.target.held
    const test = (s: PolicySubject): boolean => s.targets.length > 0 && s.targets.every(t => t.held) === want
    statics.push({
      matcher: 'target',
      test,
      explain: s => s.targets.length === 0
        ? 'not a sighting or opinion (no target)'
        : `targets ${s.targets.map(t => `${t.id} ${t.held ? 'held' : 'never held'}`).join(', ')}; rule wants held: ${want}`
    })
    order.push('target')
  }
  if (m.warninglist != null) {
    const want = m.warninglist.hit
    const set = cx.warninglists
    let ids: ReadonlySet<string> | null = null
    if (set.lists.length === 0 && set.missingOptional.length === 0) {
      cx.issues.push({ path: at('warninglist'), message: 'this policy loads no warninglists; add paths under warninglists' })
    }
    if (m.warninglist.lists != null) {
      const found = new Set<string>()
      for (const [j, name] of m.warninglist.lists.entries()) {
        const idx = set.resolve(name)
        if (idx.length === 0 && set.missingOptional.length === 0 && set.lists.length > 0) {
          const known = set.lists.map(l => l.id)
          cx.issues.push({ path: at('warninglist', 'lists', j), message: `unknown warninglist "${name}"; loaded: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''}` })
        }
        for (const i of idx) found.add(set.lists[i].id)
      }
      ids = found
    }
    const test = (s: PolicySubject): boolean => {
      const hits = s.warninglistHits(set)
      if (ids == null) return (hits.length > 0) === want
      for (const h of hits) if (ids.has(h.list)) return want
      return !want
    }
    statics.push({
      matcher: 'warninglist',
      test,
      explain: s => {
        const hits = s.warninglistHits(set).filter(h => ids == null || ids.has(h.list))
        const what = hits.length > 0 ? `hits ${hits.map(h => `${h.value} on ${h.list} (${h.entry})`).join(', ')}` : 'no hits'
        return `warninglist ${what}${ids != null ? ` among ${list(ids)}` : ''}; rule wants hit: ${want}`
      }
    })
    order.push('warninglist')
  }
  // Cheap, selective matchers first; the warninglist lookup (the only costly one) last.
  const COST: Record<string, number> = { tlp: 0, type: 1, revoked: 2, author: 3, labels: 4, confidence: 5, disagreements: 5, sightings: 5, target: 5, observables: 6, warninglist: 9, expired: 0, age: 1, peer: 2, from: 2, author_revoked: 3 }
  statics.sort((a, b) => COST[a.matcher] - COST[b.matcher])
  dynamics.sort((a, b) => COST[a.matcher] - COST[b.matcher])
  const action = rule.action as InboundVerdict | OutboundVerdict
  const reason = rule.reason ?? `rule ${rule.id}: ${action}`
  return {
    id: rule.id,
    index,
    direction: rule.direction,
    action,
    reason,
    decision: Object.freeze({ verdict: action, rule: rule.id, reason }),
    statics,
    dynamics,
    memberTest,
    timeChecks: dynamics.filter(d => d.matcher !== otherName),
    order
  }
}

/** A `{ gte, lte }` matcher over a feedback count of the subject. */
function countCheck (doc: { gte?: number, lte?: number } | undefined, matcher: string, get: (s: PolicySubject) => number, statics: StaticCheck[], order: string[]): void {
  if (doc == null) return
  const gte = doc.gte ?? 0
  const lte = doc.lte ?? Infinity
  const test = (s: PolicySubject): boolean => { const n = get(s); return n >= gte && n <= lte }
  statics.push({ matcher, test, explain: s => `${matcher} ${get(s)} ${test(s) ? 'within' : 'outside'} ${gte}..${Number.isFinite(lte) ? lte : '∞'}` })
  order.push(matcher)
}

/** Feedback goes back to the author of what it is about, before any rule (the TLP floor still first). */
export const FEEDBACK_TO_AUTHOR = Object.freeze({
  verdict: 'send' as const,
  rule: 'feedback:to-author',
  reason: 'a sighting or opinion goes back to the author of the object it is about, whatever the rules say (defaults.feedback_to_author)'
})

function feedbackRule (enabled: boolean, s: PolicySubject, peer: Member): Decision | null {
  if (!enabled) return null
  for (const t of s.targets) if (t.owner === peer.peerId) return FEEDBACK_TO_AUTHOR
  return null
}

function formatMs (ms: number): string {
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(ms)
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]]
  let out = ''
  for (const [u, size] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${u}`
      rest %= size
    }
  }
  if (rest > 0 || out === '') out += `${rest}ms`
  return sign + out
}

function staticMatch (r: CompiledRule, s: PolicySubject, author: Member | undefined): boolean {
  const checks = r.statics
  for (let i = 0; i < checks.length; i++) if (!checks[i].test(s, author)) return false
  return true
}

function timeMatch (r: CompiledRule, s: PolicySubject, other: Member, now: number): boolean {
  const checks = r.timeChecks
  for (let i = 0; i < checks.length; i++) if (!checks[i].test(s, other, now)) return false
  return true
}

/** Which rules' peer/from matcher a member satisfies; valid while its country and role are unchanged. */
interface MemberVerdicts {
  country: string
  role: string
  inbound: Uint8Array | null
  outbound: Uint8Array | null
}

const MAX_CACHED_MEMBERS = 4096

const NO_CANDIDATES = new Int32Array(0)

/** The retention period a rule of the policy sets for a record. */
export interface Retention {
  /** the retention rule's id (`retention[<index>]` when it has none) */
  rule: string
  days: number
  reason: string
}

/** Whether this node honours an erasure request for one of its stored records, and by which rule. */
export interface ErasureDecision {
  verdict: 'honour' | 'refuse'
  rule: string
  reason: string
}

const DAY_MS = 86_400_000

/** Retention and erasure rules match a stored record: a rule's record matchers, evaluated with this node as the "neighbour". */
function recordRule (id: string, index: number, match: RuleDoc['match'], reason: string, cx: CompileContext): CompiledRule {
  return compileRule({ id, direction: 'inbound', match, action: 'accept', reason }, index, cx)
}

function recordMatches (r: CompiledRule, s: PolicySubject, author: Member | undefined, self: Member, now: number): boolean {
  return staticMatch(r, s, author) && timeMatch(r, s, self, now)
}

/**
 * A compiled jurisdiction policy. Decisions are pure functions of (subject, context); the fixed
 * rules (TLP floor, roles) are checked before any policy rule.
 */
export class Policy {
  readonly name: string
  readonly description: string
  /** file the policy was loaded from, or null */
  readonly source: string | null
  readonly defaults: { readonly inbound: InboundVerdict, readonly outbound: OutboundVerdict, readonly feedbackToAuthor: boolean }
  readonly rules: readonly RuleInfo[]
  readonly groups: readonly string[]
  readonly warninglists: WarninglistSet
  /**
   * Whether any rule of a direction looks at observables (kinds or warninglist hits). When none
   * does, callers may build subjects without extracting observables — which costs more than the
   * whole decision.
   */
  readonly needsObservables: { readonly inbound: boolean, readonly outbound: boolean }
  /** retention rules in file order (the first that matches a record sets its period) */
  readonly retentionRules: ReadonlyArray<{ readonly rule: string, readonly days: number }>
  private readonly retain: ReadonlyArray<{ compiled: CompiledRule, days: number }>
  private readonly erasureRules: ReadonlyArray<{ compiled: CompiledRule, action: 'honour' | 'refuse' }>
  private readonly inRules: readonly CompiledRule[]
  private readonly outRules: readonly CompiledRule[]
  private readonly groupMap: ReadonlyMap<string, Group>
  private readonly defaultIn: Decision
  private readonly defaultOut: Decision
  private readonly scratch: Int32Array
  // Peer matchers depend only on the member (id, country, role) and the policy's groups, so
  // their results are kept per member instead of being recomputed for every record.
  private readonly memberCache = new Map<string, MemberVerdicts>()

  /** Use `compilePolicy`, `loadPolicy` or `defaultPolicy`. */
  constructor (doc: PolicyDoc, warninglists: WarninglistSet, source: string | null, raw: unknown) {
    this.name = doc.name
    this.description = doc.description ?? ''
    this.source = source
    const inbound = doc.defaults?.inbound ?? 'accept'
    const outbound = doc.defaults?.outbound ?? 'send'
    this.defaults = Object.freeze({ inbound, outbound, feedbackToAuthor: doc.defaults?.feedback_to_author ?? true })
    this.defaultIn = Object.freeze({ verdict: inbound, rule: 'default:inbound', reason: `no rule matched; the inbound default is ${inbound}` })
    this.defaultOut = Object.freeze({ verdict: outbound, rule: 'default:outbound', reason: `no rule matched; the outbound default is ${outbound}` })
    const groups = new Map<string, Group>()
    for (const [name, g] of Object.entries(doc.groups ?? {})) groups.set(name, new Group(name, g))
    this.groupMap = groups
    this.groups = [...groups.keys()]
    this.warninglists = warninglists
    const cx: CompileContext = { groups, warninglists, issues: [] }
    const compiled = (doc.rules ?? []).map((r, i) => compileRule(r, i, cx))
    this.retain = (doc.retention ?? []).map((r: RetentionDoc, i) => {
      const id = r.id ?? `retention[${i}]`
      return { compiled: recordRule(id, i, r.match, r.reason ?? `retention: ${r.days} days (${id})`, cx), days: r.days }
    })
    this.retentionRules = Object.freeze(this.retain.map(r => Object.freeze({ rule: r.compiled.id, days: r.days })))
    this.erasureRules = (doc.erasure ?? []).map((r: ErasureRuleDoc, i) => ({ compiled: recordRule(r.id, i, r.match, r.reason ?? `erasure rule ${r.id}: ${r.action}`, cx), action: r.action }))
    if (cx.issues.length > 0) throw policyError(cx.issues, raw, source ?? undefined)
    this.inRules = compiled.filter(r => r.direction === 'inbound')
    this.outRules = compiled.filter(r => r.direction === 'outbound')
    this.scratch = new Int32Array(Math.max(this.inRules.length, this.outRules.length))
    this.rules = Object.freeze(compiled.map(r => Object.freeze({ id: r.id, index: r.index, direction: r.direction, action: r.action, reason: r.reason })))
    const uses = (dir: Direction): boolean => (doc.rules ?? []).some(r => r.direction === dir && (r.match?.observables != null || r.match?.warninglist != null))
    this.needsObservables = Object.freeze({ inbound: uses('inbound'), outbound: uses('outbound') })
  }

  /** Whether a member belongs to a named group of this policy (false for unknown groups). */
  inGroup (member: Member, group: string): boolean {
    return this.groupMap.get(group)?.has(member) ?? false
  }

  /** Positions (in inRules/outRules) of the rules whose record and author matchers hold. */
  private candidates (s: PolicySubject, direction: Direction, author: Member | undefined): Int32Array {
    let c = s.evalCache
    if (c == null || c.owner !== this || c.author !== author) {
      c = { owner: this, author, inbound: null, outbound: null }
      s.evalCache = c
    }
    let found = direction === 'inbound' ? c.inbound : c.outbound
    if (found == null) {
      const rules = direction === 'inbound' ? this.inRules : this.outRules
      if (rules.length === 0) {
        found = NO_CANDIDATES
      } else {
        const tmp = this.scratch
        let n = 0
        for (let i = 0; i < rules.length; i++) if (staticMatch(rules[i], s, author)) tmp[n++] = i
        found = n === 0 ? NO_CANDIDATES : tmp.slice(0, n)
      }
      if (direction === 'inbound') c.inbound = found
      else c.outbound = found
    }
    return found
  }

  private memberVerdicts (m: Member, direction: Direction): Uint8Array {
    let v = this.memberCache.get(m.peerId)
    if (v == null || v.country !== m.country || v.role !== m.role) {
      if (this.memberCache.size >= MAX_CACHED_MEMBERS) this.memberCache.clear()
      v = { country: m.country, role: m.role, inbound: null, outbound: null }
      this.memberCache.set(m.peerId, v)
    }
    let out = direction === 'inbound' ? v.inbound : v.outbound
    if (out == null) {
      const rules = direction === 'inbound' ? this.inRules : this.outRules
      out = new Uint8Array(rules.length)
      for (let i = 0; i < rules.length; i++) {
        const t = rules[i].memberTest
        out[i] = t == null || t(m) ? 1 : 0
      }
      if (direction === 'inbound') v.inbound = out
      else v.outbound = out
    }
    return out
  }

  /** May this node accept `s`, handed over by `ctx.from`? */
  inbound (s: PolicySubject, ctx: InboundContext): Decision {
    const floor = tlpFloorInbound(s, ctx) ?? roleFloor('inbound', ctx.author)
    if (floor != null) return floor
    const other = ctx.from === 'self' ? ctx.self : ctx.from
    const cand = this.candidates(s, 'inbound', ctx.author)
    if (cand.length === 0) return this.defaultIn
    const mv = this.memberVerdicts(other, 'inbound')
    const rules = this.inRules
    for (let i = 0; i < cand.length; i++) {
      const at = cand[i]
      if (mv[at] === 1 && timeMatch(rules[at], s, other, ctx.now)) return rules[at].decision
    }
    return this.defaultIn
  }

  /** May this node send `s` to `ctx.peer`? */
  outbound (s: PolicySubject, ctx: OutboundContext): Decision {
    const floor = tlpFloorOutbound(s, ctx) ?? roleFloor('outbound', ctx.author) ?? feedbackRule(this.defaults.feedbackToAuthor, s, ctx.peer)
    if (floor != null) return floor
    const cand = this.candidates(s, 'outbound', ctx.author)
    if (cand.length === 0) return this.defaultOut
    const mv = this.memberVerdicts(ctx.peer, 'outbound')
    const rules = this.outRules
    for (let i = 0; i < cand.length; i++) {
      const at = cand[i]
      if (mv[at] === 1 && timeMatch(rules[at], s, ctx.peer, ctx.now)) return rules[at].decision
    }
    return this.defaultOut
  }

  /** The retention period of a stored record: the first retention rule that matches it, or none (kept until purged). */
  retention (s: PolicySubject, author: Member | undefined, self: Member, now: number): Retention | undefined {
    for (const r of this.retain) {
      if (recordMatches(r.compiled, s, author, self, now)) return { rule: r.compiled.id, days: r.days, reason: r.compiled.reason }
    }
    return undefined
  }

  /** When a record's retention period ends (ms), from its signing time; undefined when no rule applies. */
  retentionEnds (s: PolicySubject, author: Member | undefined, self: Member, now: number): (Retention & { until: number }) | undefined {
    const r = this.retention(s, author, self, now)
    return r == null ? undefined : { ...r, until: s.ts + r.days * DAY_MS }
  }

  /**
   * Whether to honour an erasure request for a stored record. Only the record's own author or a
   * root of this node's federation (`federation.roots`) may ask (`erasure:not-author` refuses
   * anyone else); then the first erasure rule that matches decides, and without one the request
   * is honoured (`erasure:default` for the author, `erasure:root` for a root).
   */
  erasure (s: PolicySubject, requester: string, author: Member | undefined, self: Member, now: number, requesterIsRoot = false): ErasureDecision {
    const byAuthor = requester === s.author
    if (!byAuthor && !requesterIsRoot) return { verdict: 'refuse', rule: 'erasure:not-author', reason: `${requester} is neither the author of this record (${s.author}) nor a federation root; only they may ask to erase it` }
    for (const r of this.erasureRules) {
      if (recordMatches(r.compiled, s, author, self, now)) return { verdict: r.action, rule: r.compiled.id, reason: r.compiled.reason }
    }
    return byAuthor
      ? { verdict: 'honour', rule: 'erasure:default', reason: 'requests from the record\'s own author are honoured' }
      : { verdict: 'honour', rule: 'erasure:root', reason: 'requests from a root of the federation are honoured' }
  }

  /** The decision plus every rule of the direction with each matcher's verdict and why (for `dragnet policy test`). */
  explain (s: PolicySubject, opts: ExplainOptions): Explanation {
    const { direction, self, now, author } = opts
    let decision: Decision
    let floor: Decision | null
    let other: Member
    if (direction === 'outbound') {
      if (opts.peer == null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'explaining an outbound decision needs the receiving peer')
      const ctx: OutboundContext = { self, peer: opts.peer, author, now, peerOnRoster: opts.peerOnRoster ?? true }
      floor = tlpFloorOutbound(s, ctx) ?? roleFloor('outbound', author) ?? feedbackRule(this.defaults.feedbackToAuthor, s, opts.peer)
      decision = this.outbound(s, ctx)
      other = opts.peer
    } else {
      const from = opts.from ?? author ?? 'self'
      const ctx: InboundContext = { self, from, author, now }
      floor = tlpFloorInbound(s, ctx) ?? roleFloor('inbound', author)
      decision = this.inbound(s, ctx)
      other = from === 'self' ? self : from
    }
    const rules = direction === 'inbound' ? this.inRules : this.outRules
    let reached = floor == null
    const out: RuleExplanation[] = []
    for (const r of rules) {
      const byName = new Map<string, CheckExplanation>()
      for (const c of r.statics) byName.set(c.matcher, { matcher: c.matcher, matched: c.test(s, author), detail: c.explain(s, author) })
      for (const c of r.dynamics) byName.set(c.matcher, { matcher: c.matcher, matched: c.test(s, other, now), detail: c.explain(s, other, now) })
      const checks = r.order.map(name => byName.get(name)!)
      const matched = checks.every(c => c.matched)
      const decisive = reached && matched
      out.push({ id: r.id, index: r.index, direction: r.direction, action: r.action, reason: r.reason, evaluated: reached, matched, decisive, checks })
      if (decisive) reached = false
    }
    return { direction, decision, floor, rules: out, warninglistHits: s.warninglistHits(this.warninglists) }
  }
}

/**
 * Validates `doc` (a parsed policy file) and compiles it. Warninglist paths are relative to
 * `baseDir`; pass `opts.warninglists` to reuse lists loaded elsewhere (no disk access then).
 */
export function compilePolicy (doc: unknown, baseDir: string, opts: CompileOptions = {}): Policy {
  const valid = validatePolicyDoc(doc, opts.source)
  let lists = opts.warninglists
  if (lists == null) {
    const refs = valid.warninglists ?? []
    lists = refs.length === 0 ? new WarninglistSet() : withSource(() => loadWarninglistsSync(refs, baseDir), opts.source)
  }
  return new Policy(valid, lists, opts.source ?? null, doc)
}

/** Rethrows a warninglist loading error with the policy file in front, as every policy error has. */
export function withSource<T> (fn: () => T, source: string | undefined): T {
  try {
    return fn()
  } catch (err) {
    throw prefixError(err, source)
  }
}

export function prefixError (err: unknown, source: string | undefined): unknown {
  if (source == null || !(err instanceof DragnetError) || err.code !== 'DRAGNET_BAD_POLICY' || err.message.startsWith(`${source}: `)) return err
  return new DragnetError(err.code, `${source}: ${err.message}`, { ...err.details, policy: source }, { cause: err })
}

let defaultInstance: Policy | null = null

/** The policy of a node without a policy file: accept and send everything the fixed rules allow. */
export function defaultPolicy (): Policy {
  defaultInstance ??= compilePolicy({ name: 'default' }, '.', { warninglists: new WarninglistSet() })
  return defaultInstance
}
