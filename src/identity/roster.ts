import { DragnetError } from '../errors.js'
import { publicKeyOfPeerId } from '../record/index.js'

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

/**
 * The members this node trusts, itself included. The connection gater admits only these, and a
 * record is accepted only when its author is one of them, whoever relayed it.
 */
export class Roster {
  readonly self: Member
  private readonly members = new Map<string, Member>()

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

  /** Whether this member may author records at all (observers never do). */
  mayAuthor (peerId: string): boolean {
    const m = this.members.get(peerId)
    return m != null && m.role !== 'observer'
  }
}
