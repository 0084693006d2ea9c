// The console talks to the node's REST API on its own origin with the user's bearer token. The
// token lives in sessionStorage: it is gone when the tab closes and is never sent anywhere else
// (the node's CSP admits no other origin).

const TOKEN_KEY = 'dragnet.token'

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

export function savedToken (): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function saveToken (token: string | null): void {
  if (token == null) sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

export async function api<T = any> (path: string, init: { method?: string, body?: unknown, token?: string } = {}): Promise<T> {
  const token = init.token ?? savedToken()
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token != null) headers.authorization = `Bearer ${token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}), credentials: 'omit', cache: 'no-store' })
  const text = await res.text()
  let body: any
  try { body = text === '' ? undefined : JSON.parse(text) } catch { body = undefined }
  if (!res.ok && res.status !== 207) throw new ApiError(res.status, body?.code ?? `HTTP_${res.status}`, body?.message ?? `${res.status} ${res.statusText}`)
  return body as T
}

export type Tlp = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red'
export const TLPS: Tlp[] = ['clear', 'green', 'amber', 'amber+strict', 'red']

export interface Whoami {
  caller: { kind: string, name: string, maxTlp: Tlp, canWrite: boolean, tlps: Tlp[] }
  node: { peerId: string, name: string, country: string, role: string }
}

export type { FeedItem } from '../../src/api/answers'

export type { PeerRow } from '../../src/net/peer-row'

export interface Decision { verdict: string, rule: string, reason: string }

export interface Explanation {
  direction: string
  decision: Decision
  floor: Decision | null
  rules: Array<{ id: string, index: number, action: string, reason: string, evaluated: boolean, matched: boolean, decisive: boolean, checks: Array<{ matcher: string, matched: boolean, detail: string }> }>
  warninglistHits: Array<{ kind: string, value: string, list: string, entry: string }>
}

export type { AuditEntry } from '../../src/store/audit-entry'

export const RECORD_ID = /^1220[0-9a-f]{64}$/
