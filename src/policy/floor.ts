import type { Decision, FloorSubject, Member } from './types.js'

/*
 * Fixed rules that hold whatever a policy file says. A policy can only narrow them: the engine
 * evaluates these first and a policy rule is consulted only when they allow.
 *
 * Outbound, node S to peer P:
 *   red           never sent, not even by its author
 *   amber*        only by the author, only to a roster peer, and (with a `to` list) only to a
 *                 listed recipient; never relayed
 *   green         only to roster peers
 *   clear         to anyone, the public TAXII collection included
 * Inbound at S from neighbour F:
 *   red           rejected unless S is the author
 *   amber*        rejected unless F is the author and (with a `to` list) S is a recipient
 *   green, clear  accepted by the floor
 *   local input   (from = 'self') passes when S is the author; a foreign record handed in
 *                 locally (import) is treated as relayed by S itself
 * Roles: an observer never authors; records whose author is an observer are rejected and never
 * sent.
 */

function fixed (verdict: Decision['verdict'], rule: string, reason: string): Decision {
  return Object.freeze({ verdict, rule, reason })
}

export const FLOOR = Object.freeze({
  outRed: fixed('withhold', 'tlp-floor:red', 'TLP:RED never leaves the authoring node'),
  outAmberRelay: fixed('withhold', 'tlp-floor:amber-relay', 'TLP:AMBER goes only from its author directly; this node is not the author'),
  outAmberNotListed: fixed('withhold', 'tlp-floor:amber-recipient', 'TLP:AMBER record is addressed to other recipients'),
  outAmberNotRoster: fixed('withhold', 'tlp-floor:amber-recipient', 'TLP:AMBER goes only to the author\'s roster peers; this peer is not on the roster'),
  outGreen: fixed('withhold', 'tlp-floor:green-outside-federation', 'TLP:GREEN stays inside the federation; this peer is not on the roster'),
  outObserver: fixed('withhold', 'role:observer-author', 'observers never author records; the author is an observer'),
  inRed: fixed('reject', 'tlp-floor:red', 'TLP:RED is kept only by its author; this node is not the author'),
  inAmberRelay: fixed('reject', 'tlp-floor:amber-relay', 'TLP:AMBER must come directly from its author; it was relayed'),
  inAmberRecipient: fixed('reject', 'tlp-floor:amber-recipient', 'TLP:AMBER record is not addressed to this node'),
  inObserver: fixed('reject', 'role:observer-author', 'observers never author records; the author is an observer')
})

const isAmber = (tlp: string): boolean => tlp === 'amber' || tlp === 'amber+strict'

export interface FloorOutboundContext {
  self: Pick<Member, 'peerId'>
  peer: Pick<Member, 'peerId'>
  peerOnRoster: boolean
}

export interface FloorInboundContext {
  self: Pick<Member, 'peerId'>
  from: Pick<Member, 'peerId'> | 'self'
}

/** The TLP floor for sending `s` to `ctx.peer`: a withhold decision, or null when the floor allows. */
export function tlpFloorOutbound (s: FloorSubject, ctx: FloorOutboundContext): Decision | null {
  switch (s.tlp) {
    case 'clear':
      return null
    case 'green':
      return ctx.peerOnRoster ? null : FLOOR.outGreen
    case 'amber':
    case 'amber+strict':
      if (s.author !== ctx.self.peerId) return FLOOR.outAmberRelay
      if (!ctx.peerOnRoster) return FLOOR.outAmberNotRoster
      if (s.to != null && s.to.length > 0 && !s.to.includes(ctx.peer.peerId)) return FLOOR.outAmberNotListed
      return null
    default:
      // red, and anything that is not a known level: nothing unknown may leave.
      return FLOOR.outRed
  }
}

/** The TLP floor for accepting `s` from `ctx.from`: a reject decision, or null when the floor allows. */
export function tlpFloorInbound (s: FloorSubject, ctx: FloorInboundContext): Decision | null {
  if (s.tlp === 'clear' || s.tlp === 'green') return null
  const selfId = ctx.self.peerId
  if (isAmber(s.tlp)) {
    const fromId = ctx.from === 'self' ? selfId : ctx.from.peerId
    if (fromId !== s.author) return FLOOR.inAmberRelay
    if (s.author === selfId) return null
    if (s.to != null && s.to.length > 0 && !s.to.includes(selfId)) return FLOOR.inAmberRecipient
    return null
  }
  return s.author === selfId ? null : FLOOR.inRed
}

/** Observers never author: a record whose author's roster entry says observer is refused both ways. */
export function roleFloor (direction: 'inbound' | 'outbound', author: Pick<Member, 'role'> | undefined): Decision | null {
  if (author?.role !== 'observer') return null
  return direction === 'inbound' ? FLOOR.inObserver : FLOOR.outObserver
}
