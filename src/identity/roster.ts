import { DragnetError } from '../errors.js'
import { publicKeyOfPeerId } from '../record/index.js'
import type { Handover, KnownMember, RosterView } from './roster-in-force.js'

export const ROLES = ['bureau', 'contributor', 'observer'] as const
export type Role = typeof ROLES[number]

/** A federation member as this node knows it. */
export interface Member {
  peerId: string
  name: string
  country: string
  role: Role
  addrs: string[]
}

/** What changed when the roster in force was replaced. */
export interface RosterChange {
  added: Member[]
  removed: KnownMember[]
  /** members still in force whose entry changed (addresses, name) */
  changed: Member[]
}

/** An author as ingest sees it: a member, or why it is not one. */
export type AuthorStanding =
  | { ok: true, member: Member }
  | { ok: false, status: string, rule: string, reason: string }

/**
 * The members this node trusts, itself included. The connection gater admits only these, and a
 * record is accepted only when its author is one of them, whoever relayed it. With a federation
 * the set changes while the node runs (credentials, revocations, expiry, SIGHUP); `replace`
 * swaps it and says who came and went. Members who left stay `known`, so their earlier records
 * can be shown as revoked rather than as from a stranger.
 */
export class Roster {
  readonly self: Member
  private members = new Map<string, Member>()
  private readonly knownMembers = new Map<string, KnownMember>()
  private handovers = new Map<string, Handover>()
  private readonly listeners: Array<(c: RosterChange) => void> = []
  /** bumped on every change (caches keyed by members check it) */
  version = 0

  constructor (self: Member, peers: Member[]) {
    this.self = self
    this.members.set(self.peerId, self)
    for (const m of peers) {
      try {
        publicKeyOfPeerId(m.peerId)
      } catch (err) {
        throw new DragnetError('DRAGNET_BAD_CONFIG', `roster entry "${m.name}" has an invalid peerId ${m.peerId}: only Ed25519 PeerIds are members`, { property: 'roster' }, { cause: err })
      }
      if (m.peerId === self.peerId) continue
      if (this.members.has(m.peerId)) throw new DragnetError('DRAGNET_BAD_CONFIG', `roster lists ${m.peerId} twice`, { property: 'roster' })
      this.members.set(m.peerId, m)
    }
  }

  get (peerId: string): Member | undefined {
    return this.members.get(peerId)
  }

  has (peerId: string): boolean {
    return this.members.has(peerId)
  }

  /** Everyone but this node. */
  peers (): Member[] {
    return [...this.members.values()].filter(m => m.peerId !== this.self.peerId)
  }

  all (): Member[] {
    return [...this.members.values()]
  }

  /** Everyone this node has heard of, in force or not (members who left included). */
  known (peerId: string): KnownMember | undefined {
    return this.knownMembers.get(peerId) ?? (this.members.has(peerId) ? { ...this.members.get(peerId)!, source: peerId === this.self.peerId ? 'self' : 'local', status: 'member' } : undefined)
  }

  knownAll (): KnownMember[] {
    return [...new Set([...this.members.keys(), ...this.knownMembers.keys()])].map(id => this.known(id)!)
  }

  /** A rotated key's hand-over, if there is one. */
  handover (peerId: string): Handover | undefined {
    return this.handovers.get(peerId)
  }

  /** Adds a listener for changes; returns its removal. */
  onChange (fn: (c: RosterChange) => void): () => void {
    this.listeners.push(fn)
    return () => { const i = this.listeners.indexOf(fn); if (i >= 0) this.listeners.splice(i, 1) }
  }

  /** Swaps in a newly computed roster in force and tells listeners who came and went. */
  replace (view: RosterView): RosterChange {
    const next = new Map<string, Member>()
    for (const m of view.members) {
      if (m.peerId === this.self.peerId) continue
      try { publicKeyOfPeerId(m.peerId) } catch { continue }
      next.set(m.peerId, m)
    }
    next.set(this.self.peerId, this.self)
    const change: RosterChange = { added: [], removed: [], changed: [] }
    const known = new Map(view.known.map(k => [k.peerId, k]))
    for (const [id, m] of next) {
      const prev = this.members.get(id)
      if (prev == null) change.added.push(m)
      else if (JSON.stringify(prev) !== JSON.stringify(m)) change.changed.push(m)
    }
    for (const [id, m] of this.members) {
      if (!next.has(id)) change.removed.push(known.get(id) ?? { ...m, source: 'local', status: 'denied', reason: 'no longer on the roster' })
    }
    this.members = next
    for (const k of view.known) this.knownMembers.set(k.peerId, k)
    for (const k of change.removed) if (!known.has(k.peerId)) this.knownMembers.set(k.peerId, k)
    this.handovers = view.handovers
    if (change.added.length + change.removed.length + change.changed.length === 0) return change
    this.version++
    for (const fn of this.listeners) fn(change)
    return change
  }

  /**
   * Whether `peerId` may author a record signed at `ts`: a member in force; or a key its member
   * handed over, for records signed before the hand-over (attributed to the member's new
   * entry); otherwise why not (revoked, expired, denied, rotated, unknown).
   */
  authorAt (peerId: string, ts: number): AuthorStanding {
    const m = this.members.get(peerId)
    if (m != null) return { ok: true, member: m }
    const h = this.handovers.get(peerId)
    if (h != null) {
      const successor = this.members.get(h.new)
      if (successor != null && ts <= h.at) return { ok: true, member: { ...successor, peerId } }
      if (successor != null) return { ok: false, status: 'rotated', rule: 'roster:rotated-key', reason: `author ${peerId} handed its key over to ${h.new} at ${new Date(h.at).toISOString()}; records it signs after that are refused` }
      return { ok: false, status: 'pending', rule: 'roster:rotated-key', reason: `author ${peerId} handed its key over to ${h.new}, which holds no credential here (yet)` }
    }
    const k = this.knownMembers.get(peerId)
    if (k != null) return { ok: false, status: k.status, rule: `roster:${k.status}-author`, reason: `author ${peerId} (${k.name || 'unnamed'}) is no longer a member: ${k.reason ?? k.status}` }
    return { ok: false, status: 'unknown', rule: 'roster:unknown-author', reason: `author ${peerId} is not on this node's roster` }
  }

  /** The entry policies see for an author (a rotated key's records before the hand-over: its member's). */
  entryOf (peerId: string, ts: number): Member | undefined {
    const s = this.authorAt(peerId, ts)
    return s.ok ? s.member : undefined
  }

  /** Whether a key may sign any record here (a member, a rotated key, a former member whose refusals deserve a clear audit entry). */
  knowsAuthor (peerId: string): boolean {
    return this.members.has(peerId) || this.handovers.has(peerId) || this.knownMembers.has(peerId)
  }

  /** Whether this member may author records at all (observers never do). */
  mayAuthor (peerId: string): boolean {
    const m = this.members.get(peerId)
    return m != null && m.role !== 'observer'
  }
}
