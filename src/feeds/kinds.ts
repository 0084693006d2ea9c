import type { FeedConfig } from '../config/config.js'
import { DragnetError } from '../errors.js'
import type { ImportFormat, ImportSummary } from '../import/index.js'
import { displayUrl, type FeedResponse, type GetInit } from './http.js'
import type { FeedState } from './state.js'

/*
 * One fetcher per feed kind. A fetcher walks its source (pages, manifest and events, one list),
 * hands each document to `importText` (the import path: parse, then publish as this node's
 * records with skipExisting) and moves its position in `state` forward only past what was
 * imported: a run cut short loses nothing, and nothing is imported twice (what a later run
 * fetches again is a duplicate to skipExisting, never a second record).
 */

export interface FeedContext {
  feed: FeedConfig
  state: FeedState
  signal: AbortSignal
  get: (url: string, init?: Omit<GetInit, 'signal'>) => Promise<FeedResponse>
  /** parses one document and publishes what it holds through the import path */
  importText: (text: string, format: ImportFormat, name: string) => Promise<ImportSummary>
  /** imports objects already parsed from JSON (a TAXII page) */
  importJson: (json: unknown, format: ImportFormat, name: string) => Promise<ImportSummary>
  /** writes the state file (after the position moved) */
  save: () => Promise<void>
  /** a part of the source failed but the run goes on (one MISP event of many) */
  partFailed: (what: string, err: unknown) => void
}

export type Fetcher = (ctx: FeedContext) => Promise<void>

export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1'
/** Pages one TAXII run reads at most; a server that never says `more: false` cannot hold the node. */
const MAX_TAXII_PAGES = 100_000
const TAXII_PAGE_SIZE = 1000

function parseJson (text: string, what: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (err) {
    throw new DragnetError('DRAGNET_BAD_FEED', `${what} is not JSON: ${(err as Error).message}`)
  }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

function withSlash (url: string): string {
  return url.endsWith('/') ? url : `${url}/`
}

/** A TAXII 2.1 envelope as the objects endpoint answers it, checked before anything is imported. */
function taxiiEnvelope (json: unknown, what: string): { objects: unknown[], more: boolean, next?: string } {
  if (!isObject(json)) throw new DragnetError('DRAGNET_BAD_FEED', `${what} is not a TAXII envelope (a JSON object)`)
  const { objects, more, next } = json
  if (objects !== undefined && !Array.isArray(objects)) throw new DragnetError('DRAGNET_BAD_FEED', `${what}: objects is not a list`)
  if (more !== undefined && typeof more !== 'boolean') throw new DragnetError('DRAGNET_BAD_FEED', `${what}: more is not true or false`)
  if (next !== undefined && typeof next !== 'string') throw new DragnetError('DRAGNET_BAD_FEED', `${what}: next is not a string`)
  return { objects: objects ?? [], more: more === true, ...(typeof next === 'string' ? { next } : {}) }
}

/**
 * TAXII 2.1: the collection's objects endpoint from the `added_after` cursor, page after page
 * until `more` is false. Pages follow `next` from the run's starting `added_after` (servers that
 * page by date alone get the date the last page ended at). The cursor moves to the latest
 * X-TAXII-Date-Added-Last only when the run reached the end: many records can share one date, so
 * a run cut short between two of them must not skip the rest; it reads those pages again next
 * time, and what it had imported is a duplicate then, not a second record.
 */
export const taxii: Fetcher = async (ctx) => {
  const base = new URL(`collections/${encodeURIComponent(ctx.feed.collection ?? '')}/objects/`, withSlash(ctx.feed.url))
  let after = ctx.state.cursor
  let latest = ctx.state.cursor
  let next: string | undefined
  for (let page = 1; page <= MAX_TAXII_PAGES; page++) {
    const url = new URL(base)
    url.searchParams.set('limit', String(ctx.feed.pageSize ?? TAXII_PAGE_SIZE))
    if (after != null) url.searchParams.set('added_after', after)
    if (next != null) url.searchParams.set('next', next)
    const res = await ctx.get(url.toString(), { accept: TAXII_MEDIA_TYPE })
    const what = `page ${page} of ${displayUrl(base.toString())}`
    const env = taxiiEnvelope(parseJson(res.text, what), what)
    if (env.objects.length > 0) await ctx.importJson(env.objects, 'stix', what)
    const last = res.headers.get('x-taxii-date-added-last') ?? undefined
    if (last != null && (latest == null || taxiiTime(last) > taxiiTime(latest))) latest = last
    if (!env.more) {
      if (latest != null) ctx.state.cursor = latest
      await ctx.save()
      return
    }
    next = env.next
    if (next == null) {
      // Paging by date alone needs the date to move, or the same page would come back forever.
      if (last == null || last === after) throw new DragnetError('DRAGNET_BAD_FEED', `${what} says more but gives neither next nor a later X-TAXII-Date-Added-Last`)
      after = last
    }
  }
  throw new DragnetError('DRAGNET_BAD_FEED', `${displayUrl(base.toString())} still has more after ${MAX_TAXII_PAGES} pages`)
}

/** A TAXII timestamp as comparable text: fractions padded to microseconds (".3Z" and ".300000Z" are one time). */
function taxiiTime (ts: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/i.exec(ts)
  return m == null ? ts : `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `manifest.json` of a MISP feed: event uuid → the event's timestamp. */
function mispManifest (json: unknown, what: string): Map<string, string> {
  if (!isObject(json)) throw new DragnetError('DRAGNET_BAD_FEED', `${what} is not a MISP feed manifest (a JSON object of events by uuid)`)
  const out = new Map<string, string>()
  for (const [uuid, entry] of Object.entries(json)) {
    const ts = isObject(entry) ? entry.timestamp : undefined
    if (!UUID.test(uuid) || (typeof ts !== 'string' && typeof ts !== 'number')) {
      throw new DragnetError('DRAGNET_BAD_FEED', `${what}: entry ${uuid.slice(0, 60)} is not an event uuid with a timestamp`)
    }
    out.set(uuid.toLowerCase(), String(ts))
  }
  return out
}

/**
 * A MISP feed: `manifest.json`, then `<uuid>.json` for each event that is new or whose timestamp
 * changed since the version imported. An event that fails is reported and retried next run; the
 * others are imported.
 */
export const mispFeed: Fetcher = async (ctx) => {
  const base = withSlash(ctx.feed.url)
  const what = `${displayUrl(base)}manifest.json`
  const manifest = mispManifest(parseJson((await ctx.get(new URL('manifest.json', base).toString())).text, what), what)
  const seen = ctx.state.manifest ?? {}
  ctx.state.manifest = Object.fromEntries(Object.entries(seen).filter(([uuid]) => manifest.has(uuid)))
  for (const [uuid, ts] of manifest) {
    if (ctx.state.manifest[uuid] === ts) continue
    if (ctx.signal.aborted) throw new DragnetError('DRAGNET_STOPPED', 'the feed run was cancelled (the node is stopping)')
    try {
      const res = await ctx.get(new URL(`${uuid}.json`, base).toString())
      await ctx.importText(res.text, 'misp', `event ${uuid}`)
      ctx.state.manifest[uuid] = ts
      await ctx.save()
    } catch (err) {
      if ((err as DragnetError).code === 'DRAGNET_STOPPED') throw err
      ctx.partFailed(`event ${uuid}`, err)
    }
  }
  await ctx.save()
}

/**
 * A text list or CSV on a URL. The server's validators (ETag, Last-Modified) are kept: an
 * unchanged document answers 304 and nothing is read again.
 */
function listFetcher (format: 'iocs' | 'csv'): Fetcher {
  return async (ctx) => {
    const conditional = { ...(ctx.state.etag != null ? { etag: ctx.state.etag } : {}), ...(ctx.state.lastModified != null ? { lastModified: ctx.state.lastModified } : {}) }
    const res = await ctx.get(ctx.feed.url, { conditional })
    if (res.status === 304) return
    // A list never starts with "{" or "<": that is JSON or an HTML page (a login or error page
    // answered 200), whose words would only be skipped one by one.
    const head = /^\uFEFF?\s*([{<])/.exec(res.text.slice(0, 1024))
    if (head != null) throw new DragnetError('DRAGNET_BAD_FEED', `${displayUrl(ctx.feed.url)} sends ${head[1] === '{' ? 'JSON' : 'HTML or XML'}, not a ${format === 'csv' ? 'CSV file' : 'list of values'}`)
    await ctx.importText(res.text, format, displayUrl(ctx.feed.url))
    const etag = res.headers.get('etag')
    const lastModified = res.headers.get('last-modified')
    delete ctx.state.etag
    delete ctx.state.lastModified
    if (etag != null) ctx.state.etag = etag
    if (lastModified != null) ctx.state.lastModified = lastModified
    await ctx.save()
  }
}

export const FETCHERS: Record<FeedConfig['kind'], Fetcher> = {
  taxii,
  'misp-feed': mispFeed,
  'url-list': listFetcher('iocs'),
  'url-csv': listFetcher('csv')
}
