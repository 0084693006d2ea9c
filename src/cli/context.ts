import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { rootCertificates } from 'node:tls'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import type { NodeConfig } from '../config/config.js'
import { DragnetError, ERROR_STATUS, type ErrorCode } from '../errors.js'
import { readMetadata, readRuntime, readToken, requireNode, type RuntimeInfo } from '../identity/index.js'
import type { DragnetNode } from '../node.js'

export function dataDirOf (opts: { data?: string }): string {
  return resolve(opts.data ?? process.env.DRAGNET_DATA ?? './data')
}

export async function configFor (dataDir: string, opts: { config?: string, api?: string, listen?: string[] } = {}): Promise<NodeConfig> {
  const metadata = await readMetadata(dataDir)
  const overrides: Record<string, unknown> = {}
  if (opts.api != null) overrides.api = opts.api
  if (opts.listen != null && opts.listen.length > 0) overrides.listen = opts.listen
  // Imported here, like the node below, so that commands which never open a node start fast.
  const { loadConfig } = await import('../config/config.js')
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

  /** The API's base URL; an API on every interface is reached on loopback. */
  get baseUrl (): string {
    const api = this.runtime.api ?? ''
    const idx = api.lastIndexOf(':')
    let host = api.slice(0, idx)
    if (host === '0.0.0.0') host = '127.0.0.1'
    else if (host === '[::]') host = '[::1]'
    return `${this.runtime.apiTls != null ? 'https' : 'http'}://${host}${api.slice(idx)}`
  }

  /** The CLI runs as the node's operator: it sends the API token, which reads every TLP. */
  get headers (): Record<string, string> {
    return this.token != null ? { authorization: `Bearer ${this.token}` } : {}
  }

  private url (path: string): string {
    return `${this.baseUrl}${path}`
  }

  async request<T> (method: string, path: string, body?: unknown, _write = false): Promise<{ status: number, body: T }> {
    const headers: Record<string, string> = { ...this.headers }
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await this.fetch(this.url(path), { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    } catch (err: any) {
      throw new DragnetError('DRAGNET_NODE_UNREACHABLE', `a node runs on this data dir (pid ${this.runtime.pid}) but its API at ${this.runtime.api} does not answer: ${err.message}`)
    }
    const text = await res.text()
    let parsed: any
    try { parsed = text === '' ? undefined : JSON.parse(text) } catch { parsed = text }
    return { status: res.status, body: parsed as T }
  }

  /**
   * fetch, but an API serving HTTPS (api.tls) is reached trusting exactly the certificate the
   * node was started with: it is ours, self-signed or not, and need not name 127.0.0.1.
   */
  async fetch (url: string, init: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Response> {
    const tls = this.runtime.apiTls
    if (tls == null) return await fetch(url, init)
    const pem = await readFile(tls.cert, 'utf8')
    const pinned = new X509Certificate(pem)
    return await new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, {
        method: init.method ?? 'GET',
        headers: init.headers,
        // A self-signed certificate is its own anchor; a CA-issued one chains to the usual roots.
        ca: [pem, ...rootCertificates],
        checkServerIdentity: (_host, cert) => cert.fingerprint256 === pinned.fingerprint256 ? undefined : new Error(`the API's certificate is not ${tls.cert}`)
      }, (res) => {
        const headers = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (v != null) headers.set(k, Array.isArray(v) ? v.join(', ') : v)
        const status = res.statusCode ?? 500
        const body = status === 204 || status === 304 ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>
        resolve(new Response(body, { status, headers }))
      })
      req.on('error', reject)
      req.end(init.body)
    })
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

/** Opens an existing node's data dir without networking, runs `fn`, closes again. */
export async function withOfflineNode<T> (dataDir: string, opts: { config?: string }, fn: (node: DragnetNode) => Promise<T>): Promise<T> {
  await requireNode(dataDir)
  const config = await configFor(dataDir, opts)
  const [{ DragnetNode }, { silentLogger }] = await Promise.all([import('../node.js'), import('../log.js')])
  const node = await DragnetNode.open({ dataDir, config, log: silentLogger(), network: false, create: false })
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
