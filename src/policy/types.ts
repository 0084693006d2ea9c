import type { Tlp } from '../record/index.js'

import type { Role } from '../identity/roster.js'

export { ROLES, type Role } from '../identity/roster.js'

/**
 * A roster entry as the policy sees it. Roster entries with more fields (addresses, keys) fit
 * structurally. `country` is ISO 3166 alpha-2; the engine compares it case-insensitively.
 */
export interface Member {
  peerId: string
  name: string
  country: string
  role: Role
}

export type Direction = 'inbound' | 'outbound'
export type InboundVerdict = 'accept' | 'reject'
export type OutboundVerdict = 'send' | 'withhold'
export type Verdict = InboundVerdict | OutboundVerdict

/**
 * Every decision names the rule that made it: a policy rule id, `default:inbound` /
 * `default:outbound`, or a fixed rule (`tlp-floor:*`, `role:*`) no policy can change.
 */
export interface Decision {
  readonly verdict: Verdict
  readonly rule: string
  readonly reason: string
}

/** The record fields the TLP floor reads; a `PolicySubject` and a decoded record both fit. */
export interface FloorSubject {
  readonly author: string
  readonly tlp: Tlp
  readonly to?: readonly string[]
}

export interface InboundContext {
  /** this node's own roster entry */
  self: Member
  /** the neighbour that handed the record over, or 'self' for local publication/import */
  from: Member | 'self'
  /** the author's roster entry, when the author is on the roster */
  author?: Member
  /** evaluation time in ms since the epoch */
  now: number
}

export interface OutboundContext {
  self: Member
  /** the receiving peer */
  peer: Member
  author?: Member
  now: number
  /** whether `peer` is on this node's roster (false for the public TAXII collection) */
  peerOnRoster: boolean
}
