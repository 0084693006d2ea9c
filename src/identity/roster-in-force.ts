import type { MembershipDoc } from './membership.js'
import type { Member } from './roster.js'

/** Where a member's standing comes from, and whether it holds now. */
export type MemberStatus = 'member' | 'revoked' | 'expired' | 'pending' | 'denied' | 'rotated'

export interface KnownMember extends Member {
  source: 'self' | 'credential' | 'local' | 'credential+local'
  status: MemberStatus
  /** why it is not a member now (revocation reason, expiry, local denial, hand-over) */
  reason?: string
  /** since when it is not (ISO): the revocation's, expiry's or hand-over's time; none for a local denial */
  since?: string
  notBefore?: string
  notAfter?: string
  /** a rotated key: the PeerId it handed over to, and when */
  successor?: string
  handoverAt?: number
}

export interface Handover {
  old: string
  new: string
  at: number
}

export interface RosterInput {
  self: Member
  /** entries from the local roster file or config */
  local: Member[]
  /** `roster.deny`: PeerIds this jurisdiction refuses whatever the roots say */
  deny: string[]
  /** documents whose signatures have been verified (credentials may have expired since) */
  docs: MembershipDoc[]
  now: number
}

export interface RosterView {
  /** everyone in force, this node included */
  members: Member[]
  /** everyone this node has heard of, in force or not */
  known: KnownMember[]
  /** hand-overs by old PeerId */
  handovers: Map<string, Handover>
}

type CredentialDoc = Extract<MembershipDoc, { kind: 'credential' }>

/** The credential in force for each PeerId: the newest whose window holds `now`, else the newest at all. */
function pickCredentials (docs: MembershipDoc[], now: number): Map<string, { doc: CredentialDoc, valid: boolean }> {
  const out = new Map<string, { doc: CredentialDoc, valid: boolean }>()
  for (const d of docs) {
    if (d.kind !== 'credential') continue
    const b = d.body
    const valid = Date.parse(b.notBefore) <= now && now < Date.parse(b.notAfter)
    const prev = out.get(b.peerId)
    if (prev == null || (valid && !prev.valid) || (valid === prev.valid && b.notBefore > prev.doc.body.notBefore)) out.set(b.peerId, { doc: d, valid })
  }
  return out
}

/**
 * The roster in force = valid credentials − revocations − handed-over keys + local entries −
 * local denials. A local entry is this jurisdiction's own word and stands even for a member the
 * roots revoked; a denial beats everything. This node is always in.
 */
export function rosterInForce (input: RosterInput): RosterView {
  const { self, now } = input
  const deny = new Set(input.deny)
  const revoked = new Map<string, { reason: string, at: string }>()
  const handovers = new Map<string, Handover>()
  for (const d of input.docs) {
    if (d.kind === 'revocation') revoked.set(d.body.peerId, { reason: `revoked at ${d.body.at}: ${d.body.reason}`, at: d.body.at })
    if (d.kind === 'handover') {
      const at = Date.parse(d.body.at)
      const prev = handovers.get(d.body.old)
      if (prev == null || at < prev.at) handovers.set(d.body.old, { old: d.body.old, new: d.body.new, at })
    }
  }
  const known = new Map<string, KnownMember>()
  for (const { doc, valid } of pickCredentials(input.docs, now).values()) {
    const b = doc.body
    const k: KnownMember = { peerId: b.peerId, name: b.name, country: b.country, role: b.role, addrs: b.addrs, source: 'credential', status: 'member', notBefore: b.notBefore, notAfter: b.notAfter }
    const h = handovers.get(b.peerId)
    if (!valid) Object.assign(k, Date.parse(b.notBefore) > now ? { status: 'pending', reason: `credential valid from ${b.notBefore}` } : { status: 'expired', reason: `credential expired at ${b.notAfter}`, since: b.notAfter })
    if (h != null) Object.assign(k, { status: 'rotated', reason: `key handed over to ${h.new} at ${new Date(h.at).toISOString()}`, successor: h.new, handoverAt: h.at, since: new Date(h.at).toISOString() })
    const r = revoked.get(b.peerId)
    if (r != null) Object.assign(k, { status: 'revoked', reason: r.reason, since: r.at })
    known.set(b.peerId, k)
  }
  for (const m of input.local) {
    const prev = known.get(m.peerId)
    if (prev == null) { known.set(m.peerId, { ...m, source: 'local', status: 'member' }); continue }
    // The local entry's own words win; the credential's addresses are kept beside its own.
    known.set(m.peerId, { ...prev, ...m, addrs: [...new Set([...m.addrs, ...prev.addrs])], source: 'credential+local', status: 'member', reason: undefined, since: undefined })
  }
  for (const id of deny) {
    const k = known.get(id)
    if (k != null) Object.assign(k, { status: 'denied', reason: 'refused locally (roster.deny)', since: undefined })
  }
  known.set(self.peerId, { ...self, source: 'self', status: 'member' })
  const members = [...known.values()].filter(k => k.status === 'member').map(({ peerId, name, country, role, addrs }) => ({ peerId, name, country, role, addrs }))
  return { members, known: [...known.values()], handovers }
}
