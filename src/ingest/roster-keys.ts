import type { Member, Roster } from '../identity/index.js'
import { publicKeyOfPeerId } from '../record/index.js'

/**
 * Roster members by their raw 32-byte Ed25519 key, as envelopes and gossip frames carry them.
 * A key not in here is not a member: such a record can be refused before its signature is
 * checked, and such an author key in a frame needs no cache entry. Sized by the roster, never by
 * what peers send.
 */
export class RosterKeys {
  private byKey = new Map<string, Member>()
  private formerKeys = new Set<string>()
  private version = -1

  constructor (private readonly roster: Roster) {
    this.refresh()
  }

  /** The roster changes while the node runs (membership): the map follows its version. */
  private refresh (): void {
    if (this.version === this.roster.version) return
    this.version = this.roster.version
    this.byKey = new Map()
    for (const m of this.roster.all()) this.byKey.set(keyString(publicKeyOfPeerId(m.peerId)), m)
    this.formerKeys = new Set()
    for (const k of this.roster.knownAll()) if (!this.byKey.has(keyString(publicKeyOfPeerId(k.peerId)))) this.formerKeys.add(keyString(publicKeyOfPeerId(k.peerId)))
  }

  member (key: Uint8Array): Member | undefined {
    this.refresh()
    return this.byKey.get(keyString(key))
  }

  /** A key that is not a member now but once was (revoked, expired, rotated): refused with a clear reason, not screened out. */
  former (key: Uint8Array): boolean {
    this.refresh()
    return this.formerKeys.has(keyString(key))
  }
}

/** 32 bytes as a 32-character map key (latin1 keeps one byte per character). */
export function keyString (key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, 32).toString('latin1')
}

export function keyHex (key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, 32).toString('hex')
}
