import { resolve } from 'node:path'
import { loadConfig, type NodeConfig } from '../config/config.js'
import { DragnetError, ERROR_STATUS, type ErrorCode } from '../errors.js'
import { readMetadata, readRuntime, readToken, type RuntimeInfo } from '../identity/index.js'
import { silentLogger } from '../log.js'
import { DragnetNode } from '../node.js'

export function dataDirOf (opts: { data?: string }): string {
  return resolve(opts.data ?? process.env.DRAGNET_DATA ?? './data')
}

export async function configFor (dataDir: string, opts: { config?: string, api?: string, listen?: string[] } = {}): Promise<NodeConfig> {
  const metadata = await readMetadata(dataDir)
  const overrides: Record<string, unknown> = {}
  if (opts.api != null) overrides.api = opts.api
  if (opts.listen != null && opts.listen.length > 0) overrides.listen = opts.listen
  return await loadConfig({
    file: opts.config,
    dataDir,
    overrides,
    metadata: metadata != null ? { name: metadata.name, country: metadata.country, role: metadata.role } : undefined
  })
}

/** A running node on this data dir, reached through its local API. */
export class RemoteNode {
  constructor (readonly runtime: RuntimeInfo, readonly token: string | undefined) {}

  private url (path: string): string {
    return `http://${this.runtime.api}${path}`
  }

  async request<T> (method: string, path: string, body?: unknown, write = false): Promise<{ status: number, body: T }> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (write && this.token != null) headers.authorization = `Bearer ${this.token}`
    let res: Response
    try {
      res = await fetch(this.url(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch (err: any) {
      throw new DragnetError('DRAGNET_NODE_UNREACHABLE', `a node runs on this data dir (pid ${this.runtime.pid}) but its API at ${this.runtime.api} does not answer: ${err.message}`)
    }
    const text = await res.text()
    let parsed: any
    try { parsed = text === '' ? undefined : JSON.parse(text) } catch { parsed = text }
    return { status: res.status, body: parsed as T }
  }

  /** Like request, but a non-2xx answer becomes the DragnetError it names. */
  async call<T> (method: string, path: string, body?: unknown, write = false): Promise<T> {
    const r = await this.request<any>(method, path, body, write)
    if (r.status >= 300 && r.status !== 207) {
      const code: ErrorCode = r.body?.code in ERROR_STATUS ? r.body.code : 'DRAGNET_INTERNAL'
      throw new DragnetError(code, r.body?.message ?? `HTTP ${r.status}`, r.body?.details ?? {})
    }
    return r.body as T
  }
}

/** The running node's API when a node runs on this dir; otherwise undefined (open the store yourself). */
export async function runningNode (dataDir: string): Promise<RemoteNode | undefined> {
  const runtime = await readRuntime(dataDir)
  if (runtime?.api == null) return undefined
  return new RemoteNode(runtime, await readToken(dataDir))
}

/** Opens the data dir without networking, runs `fn`, closes again. */
export async function withOfflineNode<T> (dataDir: string, opts: { config?: string }, fn: (node: DragnetNode) => Promise<T>): Promise<T> {
  const config = await configFor(dataDir, opts)
  const node = await DragnetNode.open({ dataDir, config, log: silentLogger(), network: false })
  try {
    await node.start()
    return await fn(node)
  } finally {
    await node.stop()
  }
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}
