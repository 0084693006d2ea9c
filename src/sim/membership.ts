import { docToJson, parseDoc, signDoc, type MembershipDoc, type NodeIdentity, type Role } from '../identity/index.js'

/*
 * The federation of a membership scenario: some members are its roots (threshold k), and every
 * member holds a credential they signed instead of an entry on a hand-made roster. Documents are
 * made the way operators make them with `dragnet member issue | sign | revoke`: the first root
 * drafts and signs, the next k − 1 roots add their signatures; `publish` hands them to a node.
 */

const YEAR_MS = 365 * 86_400_000

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

export interface SimRootsInit {
  /** the roots' node keys, in signing order */
  roots: NodeIdentity[]
  threshold: number
}

export class SimRoots {
  /** every document issued so far (what a member is handed when it is set up) */
  readonly issued: Array<Record<string, unknown>> = []

  constructor (private readonly init: SimRootsInit) {}

  get peerIds (): string[] {
    return this.init.roots.map(r => r.peerId)
  }

  get threshold (): number {
    return this.init.threshold
  }

  /** k root signatures on a draft: the first root issues, the others sign. */
  private signed (doc: MembershipDoc): Record<string, unknown> {
    let d = doc
    for (const root of this.init.roots.slice(0, this.init.threshold)) d = signDoc(d, root)
    const json = docToJson(d)
    this.issued.push(json)
    return json
  }

  credential (peerId: string, m: { name: string, country: string, role: Role }, now = Date.now()): Record<string, unknown> {
    return this.signed(parseDoc({ dragnet: 'membership/v1', kind: 'credential', body: { peerId, name: m.name, country: m.country, role: m.role, addrs: [], notBefore: iso(now - 60_000), notAfter: iso(now + YEAR_MS) }, sigs: [] }))
  }

  revocation (peerId: string, reason: string, now = Date.now()): Record<string, unknown> {
    return this.signed(parseDoc({ dragnet: 'membership/v1', kind: 'revocation', body: { peerId, reason, at: iso(now) }, sigs: [] }))
  }
}
