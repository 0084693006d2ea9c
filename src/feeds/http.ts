import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FeedConfig } from '../config/config.js'
import { DragnetError, isDragnetError } from '../errors.js'

/*
 * One HTTP GET of a feed document, bounded three ways: a deadline for the whole exchange (headers
 * and body), a cap on the bytes read (checked on Content-Length first, then while reading, so an
 * endless body stops at the cap), and a few retries with doubling, jittered delays for what may
 * pass (no answer, a timeout, 5xx, 429). A 4xx other than 429, an oversized body or a cancelled
 * run are final. Secrets come from files, read at each request so a rotated token is used at
 * once; they go into the Authorization header and nowhere else (not into errors, not into logs).
 */

export const FEED_DEFAULTS = {
  timeoutMs: 30_000,
  retries: 2,
  retryDelayMs: 1000,
  maxBytes: 64 * 1024 * 1024
} as const

export interface FeedResponse {
  status: number
  headers: Headers
  text: string
}

export interface GetInit {
  accept?: string
  /** `If-None-Match` / `If-Modified-Since` validators; a 304 answer is returned, not thrown */
  conditional?: { etag?: string, lastModified?: string }
  signal?: AbortSignal
}

/** The URL as it may be shown: no query string (it can hold an API key). */
export function displayUrl (url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return '(invalid URL)'
  }
}

async function readSecret (file: string, what: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `cannot read the feed's ${what} file ${file}: ${String(err.code ?? err.message)}`)
  }
}

/** The Authorization header of a feed, from its secret file; none without auth. */
export async function authHeader (feed: Pick<FeedConfig, 'auth'>): Promise<string | undefined> {
  const auth = feed.auth
  if (auth == null) return undefined
  if ('tokenFile' in auth) return `Bearer ${await readSecret(auth.tokenFile, 'token')}`
  const password = await readSecret(auth.passwordFile, 'password')
  return `Basic ${Buffer.from(`${auth.user}:${password}`).toString('base64')}`
}

/** Reads at most `max` bytes of the body; more is DRAGNET_TOO_LARGE. */
async function readCapped (res: Response, max: number, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  const tooLarge = (): DragnetError => new DragnetError('DRAGNET_TOO_LARGE', `${displayUrl(url)} sends more than ${max} bytes (the feed's maxBytes)`)
  if (declared > max) { await res.body?.cancel(); throw tooLarge() }
  if (res.body == null) return ''
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength
    if (total > max) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function retryable (err: unknown): boolean {
  return isDragnetError(err, 'DRAGNET_TIMEOUT') || (isDragnetError(err, 'DRAGNET_FEED_HTTP') && err.details.retry === true)
}

/** One attempt: a DragnetError for every failure, the deadline covering headers and body. */
async function attempt (url: string, headers: Record<string, string>, feed: Limits, signal: AbortSignal | undefined): Promise<FeedResponse> {
  const deadline = AbortSignal.timeout(feed.timeoutMs)
  const both = signal != null ? AbortSignal.any([signal, deadline]) : deadline
  const shown = displayUrl(url)
  try {
    const res = await fetch(url, { headers, signal: both, redirect: 'follow' })
    if (res.status === 304) { await res.body?.cancel(); return { status: 304, headers: res.headers, text: '' } }
    if (res.status < 200 || res.status >= 300) {
      await res.body?.cancel()
      const retry = res.status >= 500 || res.status === 429
      throw new DragnetError('DRAGNET_FEED_HTTP', `${shown} answered HTTP ${res.status}${res.statusText !== '' ? ` ${res.statusText}` : ''}`, { status: res.status, retry })
    }
    return { status: res.status, headers: res.headers, text: await readCapped(res, feed.maxBytes, url) }
  } catch (err: any) {
    if (isDragnetError(err)) throw err
    if (signal?.aborted === true) throw new DragnetError('DRAGNET_STOPPED', 'the feed run was cancelled (the node is stopping)')
    if (deadline.aborted) throw new DragnetError('DRAGNET_TIMEOUT', `${shown} did not answer in full within ${feed.timeoutMs} ms`)
    const cause = String(err.cause?.code ?? err.cause?.message ?? err.message)
    throw new DragnetError('DRAGNET_FEED_HTTP', `cannot reach ${shown}: ${cause}`, { retry: true })
  }
}

type Limits = Required<Pick<FeedConfig, 'timeoutMs' | 'retries' | 'retryDelayMs' | 'maxBytes'>>

export function limitsOf (feed: FeedConfig): Limits {
  return {
    timeoutMs: feed.timeoutMs ?? FEED_DEFAULTS.timeoutMs,
    retries: feed.retries ?? FEED_DEFAULTS.retries,
    retryDelayMs: feed.retryDelayMs ?? FEED_DEFAULTS.retryDelayMs,
    maxBytes: feed.maxBytes ?? FEED_DEFAULTS.maxBytes
  }
}

/** GETs one feed document with the feed's auth, deadline, size cap and retries. */
export async function getFeed (feed: FeedConfig, url: string, init: GetInit = {}): Promise<FeedResponse> {
  const limits = limitsOf(feed)
  const headers: Record<string, string> = { 'user-agent': 'dragnet-feeds' }
  if (init.accept != null) headers.accept = init.accept
  const auth = await authHeader(feed)
  if (auth != null) headers.authorization = auth
  if (init.conditional?.etag != null) headers['if-none-match'] = init.conditional.etag
  if (init.conditional?.lastModified != null) headers['if-modified-since'] = init.conditional.lastModified
  for (let i = 0; ; i++) {
    try {
      return await attempt(url, headers, limits, init.signal)
    } catch (err) {
      if (i >= limits.retries || !retryable(err)) {
        if (isDragnetError(err) && i > 0) err.message += ` (${i + 1} attempts)`
        throw err
      }
      // Doubling with jitter, so feeds failing together do not retry in step.
      const delay = limits.retryDelayMs * 2 ** i * (0.75 + Math.random() / 2)
      try {
        await sleep(delay, undefined, { signal: init.signal })
      } catch {
        throw new DragnetError('DRAGNET_STOPPED', 'the feed run was cancelled (the node is stopping)')
      }
    }
  }
}
