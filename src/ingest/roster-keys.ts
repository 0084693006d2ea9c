import type { Member, Roster } from '../identity/index.js'
import { publicKeyOfPeerId } from '../record/index.js'

/**
 * Roster members by their raw 32-byte Ed25519 key, as envelopes and gossip frames carry them.
 * A key not in here is not a member: such a record can be refused before its signature is
 * checked, and such an author key in a frame needs no cache entry. Sized by the roster, never by
 * what peers send.
 */
export class RosterKeys {
  private readonly byKey = new Map<string, Member>()

  constructor (roster: Roster) {
    for (const m of roster.all()) this.byKey.set(keyString(publicKeyOfPeerId(m.peerId)), m)
  }

  member (key: Uint8Array): Member | undefined {
    return this.byKey.get(keyString(key))
  }
}

/** 32 bytes as a 32-character map key (latin1 keeps one byte per character). */
export function keyString (key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, 32).toString('latin1')
}

export function keyHex (key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, 32).toString('hex')
}
