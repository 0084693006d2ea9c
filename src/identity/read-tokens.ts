import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { DragnetError } from '../errors.js'
import { TLP_LEVELS, type Tlp } from '../record/index.js'
import { withFileLock, writePrivateFile } from '../util/private-file.js'
import { FILES } from './data-dir.js'

/*
 * Read tokens: credentials for the node's readers (a SIEM, an OpenCTI connector pulling TAXII),
 * each with a TLP ceiling. A reader sees records at or below its ceiling and never writes. The
 * file keeps only a SHA-256 of each token: the token is random (256 bits), so a hash is as good
 * as a password hash, and a copy of the file opens nothing. The node's API re-reads the file
 * when it changes, so a token created or revoked by the CLI counts at once.
 */

export interface ReadTokenEntry {
  name: string
  /** hex SHA-256 of the token */
  sha256: string
  maxTlp: Tlp
  createdAt: string
}

const entrySchema = z.object({
  name: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  maxTlp: z.enum(TLP_LEVELS),
  createdAt: z.string()
}).strict()

const fileSchema = z.object({ version: z.literal(1), tokens: z.array(entrySchema) }).strict()

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const TOKEN_PREFIX = 'drt_'

export function readTokensFile (dataDir: string): string {
  return join(dataDir, FILES.readTokens)
}

export function hashToken (token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** The read tokens of a data dir; none when the file does not exist. */
export async function loadReadTokens (dataDir: string): Promise<ReadTokenEntry[]> {
  const file = readTokensFile(dataDir)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return []
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `${file} is not valid JSON: ${String(err.message)}`)
  }
  const r = fileSchema.safeParse(parsed)
  if (!r.success) throw new DragnetError('DRAGNET_BAD_CONFIG', `${file} is damaged: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`)
  return r.data.tokens
}

async function saveReadTokens (dataDir: string, tokens: ReadTokenEntry[]): Promise<void> {
  await writePrivateFile(readTokensFile(dataDir), JSON.stringify({ version: 1, tokens }, null, 2) + '\n')
}

/** A new read token: stored hashed; the token itself is returned once and never again. */
export async function createReadToken (dataDir: string, name: string, maxTlp: Tlp): Promise<{ token: string, entry: ReadTokenEntry }> {
  if (!NAME.test(name)) throw new DragnetError('DRAGNET_BAD_REQUEST', `a token name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(name)}`, { property: 'name' })
  return await withFileLock(readTokensFile(dataDir), async () => {
    const tokens = await loadReadTokens(dataDir)
    if (tokens.some(t => t.name === name)) throw new DragnetError('DRAGNET_CONFLICT', `a read token named ${name} exists; revoke it first (dragnet token revoke --data ${dataDir} ${name}) or choose another name`, { property: 'name' })
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
    const entry: ReadTokenEntry = { name, sha256: hashToken(token), maxTlp, createdAt: new Date().toISOString() }
    await saveReadTokens(dataDir, [...tokens, entry])
    return { token, entry }
  })
}

export async function revokeReadToken (dataDir: string, name: string): Promise<ReadTokenEntry> {
  return await withFileLock(readTokensFile(dataDir), async () => {
    const tokens = await loadReadTokens(dataDir)
    const gone = tokens.find(t => t.name === name)
    if (gone == null) throw new DragnetError('DRAGNET_NOT_FOUND', `no read token named ${name} in ${dataDir} (dragnet token list --data ${dataDir})`, { property: 'name' })
    await saveReadTokens(dataDir, tokens.filter(t => t !== gone))
    return gone
  })
}

/** The entry whose hash matches; every entry is compared, so timing tells nothing of which. */
export function matchReadToken (tokens: readonly ReadTokenEntry[], given: string): ReadTokenEntry | undefined {
  const h = Buffer.from(hashToken(given), 'hex')
  let found: ReadTokenEntry | undefined
  for (const t of tokens) {
    if (timingSafeEqual(h, Buffer.from(t.sha256, 'hex')) && found == null) found = t
  }
  return found
}

/**
 * The read tokens as they are on disk now: the file is stat'ed on every call and re-read when it
 * changed (writes replace it by rename, so its inode changes with every create or revoke).
 * A file that cannot be read or parsed keeps nobody in: it counts as holding no tokens.
 */
export class ReadTokenFile {
  private tokens: ReadTokenEntry[] = []
  private signature = ''
  private readonly file: string

  constructor (private readonly dataDir: string, private readonly onError: (err: Error) => void = () => {}) {
    this.file = readTokensFile(dataDir)
  }

  async current (): Promise<readonly ReadTokenEntry[]> {
    let sig: string
    try {
      const st = await stat(this.file, { bigint: true })
      sig = `${st.ino}:${st.size}:${st.mtimeNs}`
    } catch (err: any) {
      if (err.code !== 'ENOENT') this.onError(err)
      sig = 'none'
    }
    if (sig === this.signature) return this.tokens
    try {
      this.tokens = sig === 'none' ? [] : await loadReadTokens(this.dataDir)
    } catch (err: any) {
      this.onError(err)
      this.tokens = []
    }
    this.signature = sig
    return this.tokens
  }
}
