import { existsSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { DragnetError } from '../errors.js'
import { ROLES } from '../identity/roster.js'

/** `config/default.json` in the checkout: every option with its default. */
export const DEFAULT_CONFIG_FILE = findDefaultConfig()

function findDefaultConfig (): string {
  // src/config/config.ts (tsx) and dist/src/config/config.js (built) sit at different depths.
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'config', 'default.json')
    if (existsSync(candidate)) return candidate
    dir = dirname(dir)
  }
  throw new Error('config/default.json not found next to the dragnet installation')
}

const memberSchema = z.object({
  peerId: z.string().min(1),
  name: z.string().default(''),
  country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166 alpha-2 code such as DE').default('ZZ'),
  role: z.enum(ROLES).default('bureau'),
  addrs: z.array(z.string()).default([])
}).strict()

const peerIdText = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{30,100}$/, 'a PeerId (12D3KooW...)')
/** A consumer records are POSTed to (see push/webhooks.ts). */
const webhookSchema = z.object({
  /** names the hook's queue and metrics; default its URL */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash, underscore (at most 64)').optional(),
  url: z.string().regex(/^https?:\/\/[^\s/?#]+(\/[^\s#]*)?$/, 'an http(s) URL'),
  filter: z.object({
    tlp: z.array(z.enum(['clear', 'green', 'amber', 'amber+strict', 'red'])).min(1).default(['clear', 'green']),
    type: z.array(z.string().min(1)).optional(),
    author: z.array(z.string().min(1)).optional()
  }).strict().default({ tlp: ['clear', 'green'] }),
  /** HMAC-SHA256 key: inline, or (better) a file holding it */
  secret: z.string().min(16).optional(),
  secretFile: z.string().optional(),
  maxQueue: z.number().int().min(1).max(10_000_000).default(10_000),
  timeoutMs: z.number().int().min(100).default(10_000),
  retryMinMs: z.number().int().min(10).default(1000),
  retryMaxMs: z.number().int().min(10).default(300_000)
}).strict().refine(h => (h.secret == null) !== (h.secretFile == null), { message: 'give the HMAC key as secret or secretFile (one of them)', path: ['secret'] })
  .refine(h => h.retryMinMs <= h.retryMaxMs, { message: 'retryMinMs must not exceed retryMaxMs', path: ['retryMinMs'] })

export type WebhookConfig = z.infer<typeof webhookSchema>

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'host:port')

const tlpLevel = z.enum(['clear', 'green', 'amber', 'amber+strict', 'red'])

// A URL with user:password in it would put a secret in the config, the logs and `dragnet feeds`.
const feedUrl = z.string().url().regex(/^https?:\/\//i, 'an http(s) URL').refine(u => { const p = new URL(u); return p.username === '' && p.password === '' }, 'credentials do not go in the URL: use auth.passwordFile or auth.tokenFile')

/** One scheduled feed (issue 15); names are binding. Secrets are read from files at each run. */
export const feedSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-", at most 64'),
  kind: z.enum(['taxii', 'misp-feed', 'url-list', 'url-csv']),
  url: feedUrl,
  collection: z.string().min(1).max(300).optional(),
  auth: z.union([
    z.object({ user: z.string(), passwordFile: z.string().min(1) }).strict(),
    z.object({ tokenFile: z.string().min(1) }).strict()
  ]).optional(),
  tlp: tlpLevel.optional(),
  intervalMs: z.number().int().min(1000),
  column: z.union([z.number().int().min(1), z.string().min(1), z.array(z.union([z.number().int().min(1), z.string().min(1)])).min(1)]).optional(),
  timeoutMs: z.number().int().min(100).optional(),
  retries: z.number().int().min(0).max(10).optional(),
  retryDelayMs: z.number().int().min(10).optional(),
  maxBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
  pageSize: z.number().int().min(1).max(10_000).optional()
}).strict()
  .refine(f => f.kind !== 'taxii' || f.collection != null, { message: 'a taxii feed needs collection (the collection id)', path: ['collection'] })
  .refine(f => f.kind === 'taxii' || f.collection == null, { message: 'collection applies to taxii feeds only', path: ['collection'] })
  .refine(f => f.kind === 'url-csv' || f.column == null, { message: 'column applies to url-csv feeds only', path: ['column'] })
  .refine(f => f.kind === 'taxii' || f.pageSize == null, { message: 'pageSize applies to taxii feeds only', path: ['pageSize'] })

export const configSchema = z.object({
  name: z.string(),
  country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166 alpha-2 code such as DE'),
  role: z.enum(ROLES),
  listen: z.array(z.string()),
  announce: z.array(z.string()),
  api: z.union([hostPort, z.literal(false), z.object({
    address: hostPort,
    /** native HTTPS: PEM files of the certificate (chain) and its private key */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().nullable().default(null)
  }).strict()]),
  roster: z.union([z.array(memberSchema), z.string(), z.object({
    members: z.union([z.array(memberSchema), z.string()]).default([]),
    deny: z.array(peerIdText).default([])
  }).strict()]),
  federation: z.object({
    roots: z.array(peerIdText),
    threshold: z.number().int().min(1)
  }).strict().refine(f => f.roots.length === 0 || f.threshold <= new Set(f.roots).size, { message: 'threshold must not exceed the number of distinct roots', path: ['threshold'] }),
  policy: z.string().nullable(),
  psk: z.string().nullable(),
  transport: z.enum(['tcp', 'memory']),
  record: z.object({ maxBytes: z.number().int().min(1024).max(16 * 1024 * 1024), maxDepth: z.number().int().min(4).max(256), maxSkewMs: z.number().int().min(0) }).strict(),
  gossip: z.object({
    maxFrameBytes: z.number().int().min(4096),
    maxBatchRecords: z.number().int().min(1),
    lazyFlushMs: z.number().int().min(0),
    treeRepairMs: z.number().int().min(1),
    seenCacheSize: z.number().int().min(100),
    ioTimeoutMs: z.number().int().min(100)
  }).strict(),
  limits: z.object({
    peerRecordsPerSec: z.number().positive(),
    peerBytesPerSec: z.number().positive(),
    peerFramesPerSec: z.number().positive(),
    peerIdsPerSec: z.number().positive(),
    authorRecordsPerSec: z.number().positive(),
    authorBurstRecords: z.number().int().min(1),
    strikesPerPeer: z.number().int().min(1),
    queueRecords: z.number().int().min(1),
    // at least one admission chunk (replication/admission.ts)
    ingestInFlightRecords: z.number().int().min(64),
    penaltyCooldownMs: z.number().int().min(0),
    redialMinMs: z.number().int().min(10),
    redialMaxMs: z.number().int().min(10)
  }).strict(),
  sync: z.object({
    enabled: z.boolean(),
    intervalMs: z.number().int().min(100),
    maxFrameBytes: z.number().int().min(4096),
    maxRecordsPerBatch: z.number().int().min(1),
    maxSessionMs: z.number().int().min(100),
    maxRounds: z.number().int().min(2),
    maxIdsPerSession: z.number().int().min(1)
  }).strict(),
  ingest: z.object({ verifyWorkers: z.number().int().min(0).max(64) }).strict(),
  audit: z.object({ maxEntries: z.number().int().min(100), pruneIntervalMs: z.number().int().min(100) }).strict(),
  retention: z.object({ intervalMs: z.number().int().min(50) }).strict(),
  taxii: z.object({ publicClear: z.boolean(), readTokens: z.array(z.string().min(16)) }).strict(),
  http: z.object({
    hosts: z.array(z.string().regex(/^[A-Za-z0-9._-]+$|^\[[0-9a-fA-F:.]+\]$/, 'a host name or IP address (no port, no scheme)')),
    publicUrl: z.string().regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'an http(s) URL such as https://dragnet.example.org').nullable(),
    requestTimeoutMs: z.number().int().min(100),
    headersTimeoutMs: z.number().int().min(100),
    keepAliveTimeoutMs: z.number().int().min(100),
    idleTimeoutMs: z.number().int().min(100),
    maxConnections: z.number().int().min(1),
    maxBodyBytes: z.number().int().min(1024).max(1024 * 1024 * 1024),
    closeGraceMs: z.number().int().min(0)
  }).strict().refine(h => h.headersTimeoutMs <= h.requestTimeoutMs, { message: 'headersTimeoutMs must not exceed requestTimeoutMs', path: ['headersTimeoutMs'] }),
  webhooks: z.array(webhookSchema).refine(hs => new Set(hs.map(h => h.name ?? h.url)).size === hs.length, { message: 'two webhooks with one name (or URL): give each a name' }),
  stream: z.object({ keepAliveMs: z.number().int().min(100), maxClients: z.number().int().min(1) }).strict(),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }).strict(),
  feeds: z.array(feedSchema).refine(fs => new Set(fs.map(f => f.name)).size === fs.length, 'feed names must be unique')
}).strict()

export type RawConfig = z.infer<typeof configSchema>
export type MemberConfig = z.infer<typeof memberSchema>
export type FeedConfig = z.infer<typeof feedSchema>

export interface ApiTls { cert: string, key: string }

/** The resolved node configuration: roster loaded, paths absolute, `api` as host:port (or false) with its TLS files apart. */
export interface NodeConfig extends Omit<RawConfig, 'roster' | 'api'> {
  roster: MemberConfig[]
  /** `roster.deny`: members this jurisdiction refuses whatever the federation's roots say */
  rosterDeny: string[]
  api: string | false
  /** `api.tls`: the API serves HTTPS only */
  apiTls: ApiTls | null
  /** where the config came from (for messages and relative paths) */
  sources: string[]
}

export type ConfigOverrides = { [K in keyof RawConfig]?: RawConfig[K] extends object ? Partial<RawConfig[K]> | RawConfig[K] : RawConfig[K] }

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function merge (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue
    out[k] = isPlainObject(v) && isPlainObject(base[k]) ? merge(base[k] as Record<string, unknown>, v) : v
  }
  return out
}

/** Parses JSON or YAML by extension (YAML is a superset of JSON, so unknown extensions try YAML). */
export function parseConfigText (text: string, file: string): unknown {
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`, {}, { cause: err })
  }
}

async function readConfigFile (file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `cannot read config ${file}: ${err.code ?? err.message}`, {}, { cause: err })
  }
  const parsed = parseConfigText(text, file)
  if (parsed == null) return {}
  if (!isPlainObject(parsed)) throw new DragnetError('DRAGNET_BAD_CONFIG', `${file}: a config file holds one object of options`)
  return parsed
}

function rebase (value: string | null | undefined, baseDir: string): string | null | undefined {
  if (value == null) return value
  return isAbsolute(value) ? value : resolve(baseDir, value)
}

/** Secret files of feeds (auth.passwordFile, auth.tokenFile) are relative to the config file too. */
function rebaseFeedSecrets (feeds: unknown, base: string): void {
  if (!Array.isArray(feeds)) return
  for (const f of feeds) {
    const auth = isPlainObject(f) && isPlainObject(f.auth) ? f.auth : undefined
    if (auth == null) continue
    for (const k of ['passwordFile', 'tokenFile']) if (typeof auth[k] === 'string') auth[k] = rebase(auth[k], base)
  }
}

function formatIssues (err: z.ZodError, source: string): string {
  return err.issues.map(i => `${source}: ${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')
}

/** Config file a data dir carries by itself, used when `--config` is not given. */
export function dataDirConfigFile (dataDir: string): string | undefined {
  for (const name of ['config.yaml', 'config.yml', 'config.json']) {
    const f = join(dataDir, name)
    if (existsSync(f)) return f
  }
  return undefined
}

/**
 * default.json, then the node metadata written by `init`, then the config file, then overrides
 * from the command line. Paths in a file (roster, policy, psk) are relative to that file.
 */
export async function loadConfig (opts: { file?: string, dataDir?: string, overrides?: Record<string, unknown>, metadata?: Record<string, unknown> } = {}): Promise<NodeConfig> {
  const sources = [DEFAULT_CONFIG_FILE]
  let merged = JSON.parse(readFileSync(DEFAULT_CONFIG_FILE, 'utf8')) as Record<string, unknown>
  if (opts.metadata != null) merged = merge(merged, opts.metadata)
  const file = opts.file ?? (opts.dataDir != null ? dataDirConfigFile(opts.dataDir) : undefined)
  if (file != null) {
    const abs = resolve(file)
    const fromFile = await readConfigFile(abs)
    const base = dirname(abs)
    if (typeof fromFile.roster === 'string') fromFile.roster = rebase(fromFile.roster, base)
    if (isPlainObject(fromFile.roster) && typeof fromFile.roster.members === 'string') fromFile.roster = { ...fromFile.roster, members: rebase(fromFile.roster.members, base) }
    if (typeof fromFile.policy === 'string') fromFile.policy = rebase(fromFile.policy, base)
    if (typeof fromFile.psk === 'string') fromFile.psk = rebase(fromFile.psk, base)
    rebaseFeedSecrets(fromFile.feeds, base)
    if (isPlainObject(fromFile.api) && isPlainObject(fromFile.api.tls)) {
      const tls = fromFile.api.tls
      for (const k of ['cert', 'key']) if (typeof tls[k] === 'string') tls[k] = rebase(tls[k] as string, base)
    }
    if (Array.isArray(fromFile.webhooks)) {
      for (const h of fromFile.webhooks) if (isPlainObject(h) && typeof h.secretFile === 'string') h.secretFile = rebase(h.secretFile, base)
    }
    merged = merge(merged, fromFile)
    sources.push(abs)
  }
  if (opts.overrides != null) {
    // `--api HOST:PORT` moves the API; TLS files configured for it stay.
    const over = { ...opts.overrides }
    if (typeof over.api === 'string' && isPlainObject(merged.api)) over.api = { ...merged.api, address: over.api }
    merged = merge(merged, over)
  }
  const result = configSchema.safeParse(merged)
  if (!result.success) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `invalid configuration: ${formatIssues(result.error, sources[sources.length - 1])}`)
  }
  const cfg = result.data
  for (const [key, list] of [['listen', cfg.listen], ['announce', cfg.announce]] as const) {
    for (const a of list) {
      try {
        multiaddr(a)
      } catch (err: any) {
        throw new DragnetError('DRAGNET_BAD_CONFIG', `invalid configuration: ${key}: "${a}" is not a multiaddr (${err.message})`, { property: key })
      }
    }
  }
  const entries = typeof cfg.roster === 'object' && !Array.isArray(cfg.roster) ? cfg.roster.members : cfg.roster
  const rosterDeny = typeof cfg.roster === 'object' && !Array.isArray(cfg.roster) ? cfg.roster.deny : []
  const roster = typeof entries === 'string' ? await loadRosterFile(entries) : entries
  const api = typeof cfg.api === 'object' ? cfg.api.address : cfg.api
  const apiTls = typeof cfg.api === 'object' ? cfg.api.tls : null
  return { ...cfg, roster, rosterDeny, api, apiTls, sources }
}

export async function loadRosterFile (file: string): Promise<MemberConfig[]> {
  const parsed = parseConfigText(await readFile(file, 'utf8').catch((err) => {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `cannot read roster ${file}: ${err.code ?? err.message}`, {}, { cause: err })
  }), file)
  const list = isPlainObject(parsed) && 'roster' in parsed ? parsed.roster : parsed
  const result = z.array(memberSchema).safeParse(list)
  if (!result.success) throw new DragnetError('DRAGNET_BAD_CONFIG', `invalid roster: ${formatIssues(result.error, file)}`)
  return result.data
}

export function parseHostPort (s: string): { host: string, port: number } {
  const idx = s.lastIndexOf(':')
  let host = s.slice(0, idx)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  return { host, port: Number(s.slice(idx + 1)) }
}
