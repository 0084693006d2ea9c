import type { Member } from '../identity/index.js'
import type { Policy, PolicySubject } from '../policy/index.js'

export interface Federation {
  members: Member[]
  /** the policy each member declares (its file), which the invariants hold it to */
  policies: Policy[]
  adjacency: number[][]
  up: boolean[]
  now: number
}

export interface RecordFacts {
  id: string
  subject: PolicySubject
  /** the publishing member's index; null for records injected by an outside actor */
  author: number | null
  /** authors not in the federation (actors) are looked up here for policy matchers */
  authorMember?: Member
}

/**
 * The members that should hold a record: starting from its author (or, for an actor's records,
 * the members it handed them to), every hop u → v the record may take — u's outbound policy
 * sends it to v (the TLP floor included: amber stops after the author, red never leaves) and
 * v's inbound policy accepts it from u. Only members that are up take part.
 */
export function entitledMembers (fed: Federation, rec: RecordFacts, seeds: number[] = []): Set<number> {
  const author = rec.author != null ? fed.members[rec.author] : rec.authorMember
  const out = new Set<number>()
  const queue: number[] = []
  const start = rec.author != null && fed.up[rec.author] ? [rec.author, ...seeds] : seeds
  for (const s of start) if (fed.up[s] && !out.has(s)) { out.add(s); queue.push(s) }
  while (queue.length > 0) {
    const u = queue.shift()!
    for (const v of fed.adjacency[u]) {
      if (out.has(v) || !fed.up[v]) continue
      const send = fed.policies[u].outbound(rec.subject, { self: fed.members[u], peer: fed.members[v], author, now: fed.now, peerOnRoster: true })
      if (send.verdict !== 'send') continue
      const accept = fed.policies[v].inbound(rec.subject, { self: fed.members[v], from: fed.members[u], author, now: fed.now })
      if (accept.verdict !== 'accept') continue
      out.add(v)
      queue.push(v)
    }
  }
  return out
}

/** Whether member `u` may hand the record to `peer` (an outside member such as the spy) under its declared policy. */
export function mayHandTo (fed: Federation, u: number, rec: RecordFacts, peer: Member): { ok: boolean, rule: string } {
  const author = rec.author != null ? fed.members[rec.author] : rec.authorMember
  const d = fed.policies[u].outbound(rec.subject, { self: fed.members[u], peer, author, now: fed.now, peerOnRoster: true })
  return { ok: d.verdict === 'send', rule: d.rule }
}
