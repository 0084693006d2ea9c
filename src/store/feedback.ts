/*
 * The feedback index: what members said about a STIX object through sightings ("we saw this
 * too") and opinions ("agree", "false positive: CDN address"), summarised per object so a lookup
 * reads one small entry per object however many sightings it has.
 *
 *  - `fbc:<target>!<feedback STIX id>` holds the contribution of the newest version of one
 *    sighting or opinion to one target. A newer version (a sighting whose count grew, an opinion
 *    changed or revoked) replaces it: its old contribution is taken out of the summary first.
 *  - `fb:<target>` holds the summary, split by TLP so a reader with a TLP ceiling only learns
 *    what it may see. Its size grows with the members that gave feedback, never with sightings.
 *
 * first_seen / last_seen only widen: a newer version of a sighting that narrows its window leaves
 * the summary's window as it was (recomputing a minimum needs every sighting again).
 */
import type { Tlp } from '../record/index.js'
import { compareVersionNames } from '../stix/timestamp.js'

export type Stance = 'agree' | 'disagree' | 'neutral'

/** One feedback object's contribution to one target. */
export interface Contribution {
  kind: 'sighting' | 'opinion'
  target: string
  /** the sighting's or opinion's STIX id */
  source: string
  author: string
  tlp: Tlp
  /** the source's version (`modified`), to keep the newest */
  modified: string
  /** a revoked source contributes nothing */
  revoked: boolean
  count?: number
  first?: string
  last?: string
  stance?: Stance
  reason?: string
}

export interface OpinionEntry {
  stance: Stance
  reason?: string
  modified: string
  source: string
}

/** What one TLP level contributes to a target's summary. */
export interface TlpShare {
  sightings: number
  /** member → sightings it reported */
  sighters: Record<string, number>
  first?: string
  last?: string
  /** member → its newest opinion of the target at this TLP */
  opinions: Record<string, OpinionEntry>
}

export interface FeedbackSummary {
  /** the target's owner (the reporting member), once known here */
  owner?: string
  byTlp: Partial<Record<Tlp, TlpShare>>
}

/** The node-wide counts of one target (every TLP), kept in memory for policy decisions. */
export interface FeedbackCounts {
  owner?: string
  sightings: number
  agree: number
  disagree: number
}

const STANCE: Record<string, Stance> = { 'strongly-agree': 'agree', agree: 'agree', neutral: 'neutral', disagree: 'disagree', 'strongly-disagree': 'disagree' }

function versionOf (body: Record<string, unknown>): string {
  if (typeof body.modified === 'string') return body.modified
  return typeof body.created === 'string' ? body.created : ''
}

/** The STIX ids a sighting or an opinion is about (none for any other object). */
export function feedbackTargets (body: Record<string, unknown>): string[] {
  if (body.type === 'sighting') return typeof body.sighting_of_ref === 'string' ? [body.sighting_of_ref] : []
  if (body.type === 'opinion' && Array.isArray(body.object_refs)) return [...new Set(body.object_refs.filter((r): r is string => typeof r === 'string'))]
  return []
}

/** The contributions of a validated STIX body signed by `author` at `tlp`: one per target. */
export function contributionsOf (body: Record<string, unknown>, author: string, tlp: Tlp): Contribution[] {
  const targets = feedbackTargets(body)
  if (targets.length === 0) return []
  const base = { source: String(body.id), author, tlp, modified: versionOf(body), revoked: body.revoked === true }
  if (body.type === 'sighting') {
    const c: Contribution = { ...base, kind: 'sighting', target: targets[0], count: typeof body.count === 'number' ? body.count : 1 }
    if (typeof body.first_seen === 'string') c.first = body.first_seen
    if (typeof body.last_seen === 'string') c.last = body.last_seen
    return [c]
  }
  const stance = STANCE[String(body.opinion)] ?? 'neutral'
  return targets.map(target => ({ ...base, kind: 'opinion' as const, target, stance, ...(typeof body.explanation === 'string' ? { reason: body.explanation } : {}) }))
}

function share (s: FeedbackSummary, tlp: Tlp): TlpShare {
  let t = s.byTlp[tlp]
  if (t == null) {
    t = { sightings: 0, sighters: {}, opinions: {} }
    s.byTlp[tlp] = t
  }
  return t
}

/**
 * Applies `next` (the newest version of a feedback object) to a summary, replacing `prev` (its
 * version counted so far). Returns false when `next` is not newer than `prev`: nothing changes.
 */
export function applyContribution (s: FeedbackSummary, prev: Contribution | undefined, next: Contribution): boolean {
  if (prev != null) {
    const order = compareVersionNames(next.modified, prev.modified)
    if (order < 0 || (order === 0 && (prev.revoked || !next.revoked))) return false
  }
  if (prev != null && !prev.revoked) remove(s, prev)
  if (next.revoked) return true
  const t = share(s, next.tlp)
  if (next.kind === 'sighting') {
    const n = next.count ?? 1
    t.sightings += n
    t.sighters[next.author] = (t.sighters[next.author] ?? 0) + n
    const first = next.first ?? next.last
    const last = next.last ?? next.first
    if (first != null && (t.first == null || compareVersionNames(first, t.first) < 0)) t.first = first
    if (last != null && (t.last == null || compareVersionNames(last, t.last) > 0)) t.last = last
  } else {
    const had = t.opinions[next.author]
    if (had == null || compareVersionNames(had.modified, next.modified) <= 0) t.opinions[next.author] = { stance: next.stance!, modified: next.modified, source: next.source, ...(next.reason != null ? { reason: next.reason } : {}) }
  }
  return true
}

function remove (s: FeedbackSummary, c: Contribution): void {
  const t = s.byTlp[c.tlp]
  if (t == null) return
  if (c.kind === 'sighting') {
    const n = c.count ?? 1
    t.sightings = Math.max(0, t.sightings - n)
    const left = (t.sighters[c.author] ?? 0) - n
    if (left > 0) t.sighters[c.author] = left
    else delete t.sighters[c.author]
  } else if (t.opinions[c.author]?.source === c.source) {
    delete t.opinions[c.author]
  }
}

/** Counts over every TLP: what this node's own policy sees. */
export function countsOf (s: FeedbackSummary): FeedbackCounts {
  const out: FeedbackCounts = { sightings: 0, agree: 0, disagree: 0 }
  if (s.owner != null) out.owner = s.owner
  const opinions = mergeOpinions(s, undefined)
  for (const t of Object.values(s.byTlp)) out.sightings += t.sightings
  for (const o of opinions.values()) {
    if (o.stance === 'agree') out.agree++
    else if (o.stance === 'disagree') out.disagree++
  }
  return out
}

/** Per member, its newest opinion among the TLPs visible (all when `tlps` is undefined). */
export function mergeOpinions (s: FeedbackSummary, tlps: ReadonlySet<Tlp> | undefined): Map<string, OpinionEntry> {
  const out = new Map<string, OpinionEntry>()
  for (const [tlp, t] of Object.entries(s.byTlp) as Array<[Tlp, TlpShare]>) {
    if (tlps != null && !tlps.has(tlp)) continue
    for (const [member, o] of Object.entries(t.opinions)) {
      const had = out.get(member)
      if (had == null || compareVersionNames(had.modified, o.modified) < 0) out.set(member, o)
    }
  }
  return out
}
