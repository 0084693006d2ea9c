import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { DragnetError } from '../errors.js'
import { writePrivateFile } from '../util/private-file.js'

const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * A listing cursor for a reader below RED: the arrival number where the last scan stopped,
 * sealed (AES-256-GCM). Arrival numbers count every record, so a reader holding them could
 * count the records above its ceiling that arrived between two it may see. The key is this API
 * instance's own unless one is given (`loadCursorKey`: kept in the data dir, so cursors outlive
 * a restart).
 */
export class SealedCursors {
  private readonly key: Buffer

  constructor (key: Buffer = randomBytes(KEY_BYTES)) {
    if (key.length !== KEY_BYTES) throw new TypeError(`a cursor key has ${KEY_BYTES} bytes`)
    this.key = key
  }

  seal (arrival: number): string {
    const plain = Buffer.alloc(8)
    plain.writeBigUInt64BE(BigInt(arrival))
    return this.sealBytes(plain)
  }

  open (cursor: string): number {
    const plain = /^[A-Za-z0-9_-]{48}$/.test(cursor) ? this.openBytes(cursor) : undefined
    if (plain?.length !== 8) throw refused('cursor', 'cursor is not one this node issued (or the node restarted): start again without it')
    return Number(plain.readBigUInt64BE())
  }

  /** Seals a short text (a structured cursor); the answer is base64url. */
  sealText (text: string): string {
    return this.sealBytes(Buffer.from(text, 'utf8'))
  }

  /** The text sealed in `cursor`, or undefined when this key did not seal it (or it was altered). */
  openText (cursor: string): string | undefined {
    if (!/^[A-Za-z0-9_-]{40,200}$/.test(cursor)) return undefined
    return this.openBytes(cursor)?.toString('utf8')
  }

  private sealBytes (plain: Buffer): string {
    const iv = randomBytes(IV_BYTES)
    const c = createCipheriv('aes-256-gcm', this.key, iv)
    const body = Buffer.concat([c.update(plain), c.final()])
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
  }

  private openBytes (cursor: string): Buffer | undefined {
    const raw = Buffer.from(cursor, 'base64url')
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES))
      d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      return Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()])
    } catch {
      return undefined
    }
  }
}

function refused (property: string, message: string): DragnetError {
  return new DragnetError('DRAGNET_BAD_REQUEST', message, { property })
}

/**
 * The cursor key kept in `file` (0600), made on first use. A key that is not 32 bytes of hex is
 * replaced: the cursors issued under it stop working, nothing else depends on it.
 */
export async function loadCursorKey (file: string): Promise<Buffer> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return ''
    throw err
  })
  if (/^[0-9a-f]{64}\s*$/.test(text)) return Buffer.from(text.trim(), 'hex')
  const key = randomBytes(KEY_BYTES)
  await writePrivateFile(file, `${key.toString('hex')}\n`)
  return key
}
