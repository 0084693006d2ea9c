/** Record ids on the wire: the 32-byte sha2-256 digest behind the `1220…` hex id. */
export const DIGEST_BYTES = 32

export function digestOf (id: string): Uint8Array {
  return Buffer.from(id.slice(4), 'hex')
}

export function idOfDigest (d: Uint8Array): string {
  return '1220' + Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex')
}

/** The digest as a 64-character key for sets of ids a session tracks. */
export function digestKey (d: Uint8Array): string {
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex')
}
