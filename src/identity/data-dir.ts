import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { DragnetError } from '../errors.js'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, restrictMode, restrictTree, writePrivateFile } from '../util/private-file.js'
import { NodeIdentity, keyFileExists, loadIdentity, saveIdentity } from './identity.js'
import { ROLES, type Role } from './roster.js'

/*
 * A node's data directory:
 *   node.key       Ed25519 libp2p private key (protobuf), mode 0600 — the member identity
 *   node.json      metadata written by `init`: name, country, role, peerId, createdAt
 *   api-token      bearer token for the local API's writes, mode 0600
 *   read-tokens.json  read tokens with a TLP ceiling, SHA-256 hashed, mode 0600
 *   store/         the LevelDB replica
 *   runtime.json   present while a node runs: pid and API address (the CLI finds the node by it)
 *   config.yaml    optional node config picked up when --config is not given
 */
export const FILES = {
  key: 'node.key',
  metadata: 'node.json',
  token: 'api-token',
  readTokens: 'read-tokens.json',
  store: 'store',
  runtime: 'runtime.json',
  /** the key that seals TAXII cursors for readers below RED (src/api/sealed-cursor.ts) */
  cursorKey: 'cursor.key'
} as const

/** Files the node writes beside its store, snapshots of the store's indexes included. */
const NODE_FILES = [FILES.key, FILES.metadata, FILES.token, FILES.readTokens, FILES.runtime, FILES.cursorKey, 'store.index.snap', 'store.sync.snap']

export const metadataSchema = z.object({
  name: z.string(),
  country: z.string().regex(/^[A-Z]{2}$/),
  role: z.enum(ROLES),
  peerId: z.string(),
  createdAt: z.string()
})

export type NodeMetadata = z.infer<typeof metadataSchema>

export interface InitOptions {
  name?: string
  country?: string
  role?: Role
  force?: boolean
  /** deterministic identity (simulations) */
  seed?: Uint8Array
}

/**
 * The data dir 0700 and what the node keeps in it 0600, the LevelDB files included: the store
 * holds RED records, the key is the member. Run by `init` and whenever a node opens the dir, so
 * a directory made by hand (or by an older dragnet) with 0755 and 0644 is tightened.
 */
export async function restrictDataDir (dir: string): Promise<void> {
  await restrictMode(dir, PRIVATE_DIR_MODE)
  for (const f of NODE_FILES) await restrictMode(join(dir, f), PRIVATE_FILE_MODE)
  await restrictTree(join(dir, FILES.store))
}

/**
 * Commands other than `init` and `start` work on an existing node only: a mistyped `--data`
 * must not answer "no records" from an empty store, or sign with a fresh, unknown key.
 */
export async function requireNode (dir: string): Promise<void> {
  if (await keyFileExists(dir)) return
  throw new DragnetError('DRAGNET_NO_NODE', `no dragnet node in ${dir} (no ${FILES.key}): check --data, or create a node there with: dragnet init --data ${dir}`, { dataDir: dir })
}

async function writeMetadata (dir: string, metadata: NodeMetadata): Promise<void> {
  await writePrivateFile(join(dir, FILES.metadata), JSON.stringify(metadata, null, 2) + '\n')
}

export async function initDataDir (dir: string, opts: InitOptions = {}): Promise<{ identity: NodeIdentity, metadata: NodeMetadata }> {
  const country = (opts.country ?? 'ZZ').toUpperCase()
  if (!/^[A-Z]{2}$/.test(country)) throw new DragnetError('DRAGNET_BAD_CONFIG', `country must be an ISO 3166 alpha-2 code such as DE, got ${opts.country}`, { property: 'country' })
  const role = opts.role ?? 'bureau'
  if (!(ROLES as readonly string[]).includes(role)) throw new DragnetError('DRAGNET_BAD_CONFIG', `role must be one of ${ROLES.join(', ')}, got ${role}`, { property: 'role' })
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  if (opts.force !== true && await keyFileExists(dir)) {
    throw new DragnetError('DRAGNET_KEY_EXISTS', `${join(dir, FILES.key)} already exists; pass --force to replace this node's identity`)
  }
  const identity = opts.seed != null ? await NodeIdentity.fromSeed(opts.seed) : await NodeIdentity.generate()
  await saveIdentity(dir, identity, { force: true })
  const metadata: NodeMetadata = { name: opts.name ?? '', country, role, peerId: identity.peerId, createdAt: new Date().toISOString() }
  await writeMetadata(dir, metadata)
  await writePrivateFile(join(dir, FILES.token), randomBytes(24).toString('base64url') + '\n')
  await restrictDataDir(dir)
  return { identity, metadata }
}

export async function readMetadata (dir: string): Promise<NodeMetadata | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, FILES.metadata), 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    throw err
  }
  const parsed = metadataSchema.safeParse(JSON.parse(text))
  if (!parsed.success) throw new DragnetError('DRAGNET_BAD_CONFIG', `${join(dir, FILES.metadata)} is damaged: ${parsed.error.issues[0].message}`)
  return parsed.data
}

/**
 * Opens a data dir, tightening its modes. With `create` (the default; `start` on an empty dir)
 * a dir without a key is initialised with `defaults`; without it, it is refused (DRAGNET_NO_NODE).
 */
export async function openDataDir (dir: string, defaults: InitOptions = {}, opts: { create?: boolean } = {}): Promise<{ identity: NodeIdentity, metadata: NodeMetadata, created: boolean }> {
  if (!await keyFileExists(dir)) {
    if (opts.create === false) await requireNode(dir)
    const { identity, metadata } = await initDataDir(dir, defaults)
    return { identity, metadata, created: true }
  }
  await restrictDataDir(dir)
  const identity = await loadIdentity(dir)
  let metadata = await readMetadata(dir)
  if (metadata == null) {
    metadata = { name: defaults.name ?? '', country: (defaults.country ?? 'ZZ').toUpperCase(), role: defaults.role ?? 'bureau', peerId: identity.peerId, createdAt: new Date().toISOString() }
    await writeMetadata(dir, metadata)
  }
  if (metadata.peerId !== identity.peerId) {
    throw new DragnetError('DRAGNET_BAD_KEY', `${join(dir, FILES.metadata)} names ${metadata.peerId} but node.key is ${identity.peerId}`)
  }
  await ensureToken(dir)
  return { identity, metadata, created: false }
}

export async function ensureToken (dir: string): Promise<string> {
  try {
    return (await readFile(join(dir, FILES.token), 'utf8')).trim()
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
  }
  const token = randomBytes(24).toString('base64url')
  await writePrivateFile(join(dir, FILES.token), token + '\n')
  return token
}

export async function readToken (dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, FILES.token), 'utf8')).trim()
  } catch (err: any) {
    if (err.code === 'ENOENT') return undefined
    throw err
  }
}

export interface RuntimeInfo {
  pid: number
  api?: string
  /** the API serves HTTPS with this certificate (file): the CLI trusts exactly it */
  apiTls?: { cert: string }
  peerId: string
  startedAt: string
  listen: string[]
}

export async function writeRuntime (dir: string, info: RuntimeInfo): Promise<void> {
  await writePrivateFile(join(dir, FILES.runtime), JSON.stringify(info, null, 2) + '\n')
}

export async function clearRuntime (dir: string): Promise<void> {
  await rm(join(dir, FILES.runtime), { force: true })
}

/** The running node's runtime info, if one runs on this dir (a stale file from a dead process is ignored). */
export async function readRuntime (dir: string): Promise<RuntimeInfo | undefined> {
  let info: RuntimeInfo
  try {
    info = JSON.parse(await readFile(join(dir, FILES.runtime), 'utf8')) as RuntimeInfo
  } catch {
    return undefined
  }
  try {
    process.kill(info.pid, 0)
  } catch (err: any) {
    if (err.code === 'ESRCH') return undefined
  }
  return info
}
