import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { DragnetError } from '../errors.js'

/**
 * A listing cursor for a reader below RED: the arrival number where the last scan stopped,
 * sealed (AES-256-GCM under a key of this API instance). Arrival numbers count every record, so
 * a reader holding them could count the records above its ceiling that arrived between two it
 * may see.
 */
export class SealedCursors {
  private readonly key = randomBytes(32)

  seal (arrival: number): string {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', this.key, iv)
    const plain = Buffer.alloc(8)
    plain.writeBigUInt64BE(BigInt(arrival))
    const body = Buffer.concat([c.update(plain), c.final()])
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
  }

  open (cursor: string): number {
    const raw = /^[A-Za-z0-9_-]{48}$/.test(cursor) ? Buffer.from(cursor, 'base64url') : Buffer.alloc(0)
    try {
      if (raw.length !== 36) throw new Error('length')
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12))
      d.setAuthTag(raw.subarray(12, 28))
      return Number(Buffer.concat([d.update(raw.subarray(28)), d.final()]).readBigUInt64BE())
    } catch {
      throw new DragnetError('DRAGNET_BAD_REQUEST', 'cursor is not one this node issued (or the node restarted): start again without it', { property: 'cursor' })
    }
  }
}
