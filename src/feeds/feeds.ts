import { createHash } from 'node:crypto'
import type { FeedConfig } from '../config/config.js'
import { DragnetError, toDragnetError } from '../errors.js'
import { parseImport, parseStix, runImport, skippedTotal, type ImportFormat, type ImportSummary, type ImportVerdict, type ParsedImport } from '../import/index.js'
import type { Logger } from '../log.js'
import type { Tlp } from '../record/index.js'
import { displayUrl, getFeed } from './http.js'
import { FETCHERS, type FeedContext } from './kinds.js'
import { addCounts, FeedStateFile, zeroCounts, type FeedCounts, type FeedRun, type FeedState } from './state.js'

/*
 * Scheduled feeds: each configured feed runs every `intervalMs` while the node serves, and on
 * demand (`dragnet feeds run NAME`, here or with the node stopped). A run of a feed never
 * overlaps another run of it: a request while one is under way waits for that run's result.
 * Whatever a feed does (time out, answer 500, send garbage) ends its run with an error in its
 * state and a log line; the node and the other feeds go on.
 */

export interface FeedsComponents {
  dataDir: string
  /** publishes one chunk of objects at one TLP as this node's records, in import mode (skipExisting) */
  publish: (objects: Array<Record<string, unknown>>, tlp: Tlp) => Promise<ImportVerdict[]>
  /** this member's PeerId: objects made from bare values get its ids, as `dragnet import` gives them */
  namespace: string
  log: Logger
}

/** One feed as `dragnet feeds` and GET /api/feeds show it. */
export interface FeedStatus {
  name: string
  kind: FeedConfig['kind']
  /** without query string */
  url: string
  collection?: string
  tlp?: Tlp
  intervalMs: number
  /** a run is under way now */
  running: boolean
  /** when the last run started */
  lastRun: string | null
  result: FeedRun['result'] | null
  error?: { code: string, message: string }
  /** what the last run imported */
  counts: FeedCounts | null
  durationMs?: number
  /** documents the last run fetched (TAXII pages, MISP manifest and events, the list) */
  documents?: number
  skipped?: Record<string, number>
  /** when the next scheduled run is due; null when the node does not run the schedule */
  nextRun: string | null
  lastSuccess: string | null
  runs: number
  failures: number
  /** every run's counts added up */
  totals: FeedCounts
  /** TAXII: the added_after cursor */
  cursor?: string
  /** MISP feed: events imported at their current version */
  events?: number
}

/**
 * What a feed's position belongs to: the same feed name reading another source starts afresh.
 * A digest, as the URL's query string may hold an API key the state file must not.
 */
function sourceKey (feed: FeedConfig): string {
  return createHash('sha256').update(JSON.stringify([feed.kind, feed.url, feed.collection ?? null])).digest('hex').slice(0, 32)
}

function countsOf (s: ImportSummary): FeedCounts {
  return { values: s.values, imported: s.imported, duplicates: s.duplicates, skipped: skippedTotal(s), stored: s.records.stored, rejected: s.records.rejected }
}

/** Counts of one run, over every document it imported. */
class Tally {
  documents = 0
  counts = zeroCounts()
  skippedBy: Record<string, number> = {}
  readonly failed: Array<{ what: string, err: DragnetError }> = []

  add (s: ImportSummary): void {
    this.counts = addCounts(this.counts, countsOf(s))
    for (const [k, v] of Object.entries(s.skipped)) this.skippedBy[k] = (this.skippedBy[k] ?? 0) + v
  }
}

/** The error a run ends with when parts of it failed: the first part's code, every part named. */
function partsError (failed: Tally['failed']): DragnetError {
  const list = failed.slice(0, 5).map(f => `${f.what}: ${f.err.code}: ${f.err.message}`).join('; ')
  const more = failed.length > 5 ? `; and ${failed.length - 5} more` : ''
  return new DragnetError(failed[0].err.code, `${failed.length} part${failed.length > 1 ? 's' : ''} of the feed failed (retried next run): ${list}${more}`)
}

const MAX_TIMER_MS = 2 ** 31 - 1
/** Feeds due at start-up begin this far apart, not all at once. */
const START_STAGGER_MS = 250

export class Feeds {
  private readonly feeds: Map<string, FeedConfig>
  private file: FeedStateFile | null = null
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly inflight = new Map<string, Promise<FeedStatus>>()
  private controller = new AbortController()
  private scheduling = false
  private readonly runListeners = new Set<(status: FeedStatus) => void>()

  constructor (private readonly components: FeedsComponents, feeds: FeedConfig[]) {
    this.feeds = new Map(feeds.map(f => [f.name, f]))
  }

  /** the schedule runs (the node serves); otherwise feeds run on demand only */
  get scheduled (): boolean {
    return this.scheduling
  }

  get names (): string[] {
    return [...this.feeds.keys()]
  }

  /** Starts the schedule: each feed runs when its persisted next run is due (at once if past). */
  async start (): Promise<void> {
    if (this.scheduling || this.feeds.size === 0) return
    const file = await this.stateFile()
    this.controller = new AbortController()
    this.scheduling = true
    const now = Date.now()
    let i = 0
    for (const feed of this.feeds.values()) {
      const due = Date.parse(file.of(feed.name, sourceKey(feed)).nextRun ?? '')
      this.schedule(feed, Number.isFinite(due) && due > now ? due : now + START_STAGGER_MS * i++)
    }
  }

  /** Stops the schedule, cancels runs under way (their position so far is kept) and waits for them. */
  async stop (): Promise<void> {
    this.scheduling = false
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.controller.abort()
    await Promise.allSettled([...this.inflight.values()])
  }

  /** Runs one feed now (or joins the run under way) and returns its status after the run. */
  async run (name: string): Promise<FeedStatus> {
    const feed = this.feeds.get(name)
    if (feed == null) throw new DragnetError('DRAGNET_NOT_FOUND', this.feeds.size === 0 ? `no feed ${name}: this node has no feeds configured` : `no feed ${name} (configured: ${this.names.join(', ')})`)
    const under = this.inflight.get(name)
    if (under != null) return await under
    const run = this.runOnce(feed).finally(() => { this.inflight.delete(name) })
    this.inflight.set(name, run)
    return await run
  }

  /** Calls `fn` after every run of any feed with its status; returns the unsubscribe. */
  onRun (fn: (status: FeedStatus) => void): () => void {
    this.runListeners.add(fn)
    return () => { this.runListeners.delete(fn) }
  }

  async list (): Promise<FeedStatus[]> {
    await this.stateFile()
    return this.statuses()
  }

  /** The statuses from memory (metrics read them at every scrape). */
  statuses (): FeedStatus[] {
    return [...this.feeds.values()].map(f => feedStatus(f, this.file?.states[f.name], this.inflight.has(f.name), this.scheduling))
  }

  private opening: Promise<FeedStateFile> | null = null

  /** Opened once: runs started together must share one state, or each would write its own. */
  private async stateFile (): Promise<FeedStateFile> {
    this.opening ??= FeedStateFile.open(this.components.dataDir).then(f => { this.file = f; return f }, (err) => { this.opening = null; throw err })
    return await this.opening
  }

  private schedule (feed: FeedConfig, at: number): void {
    const old = this.timers.get(feed.name)
    if (old != null) clearTimeout(old)
    if (!this.scheduling) return
    const state = this.file?.of(feed.name, sourceKey(feed))
    if (state != null) state.nextRun = new Date(at).toISOString()
    const timer = setTimeout(() => {
      this.timers.delete(feed.name)
      this.run(feed.name).catch((err: Error) => { this.components.log.error({ feed: feed.name, err: err.message }, 'feed run failed') })
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())))
    timer.unref?.()
    this.timers.set(feed.name, timer)
  }

  private async runOnce (feed: FeedConfig): Promise<FeedStatus> {
    const file = await this.stateFile()
    const state = file.of(feed.name, sourceKey(feed))
    const started = Date.now()
    const tally = new Tally()
    const ctx = this.context(feed, state, file, tally)
    let error: DragnetError | undefined
    try {
      await FETCHERS[feed.kind](ctx)
      if (tally.failed.length > 0) error = partsError(tally.failed)
    } catch (err) {
      error = toDragnetError(err)
    }
    const finished = Date.now()
    state.lastRun = {
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      result: error == null ? 'ok' : 'error',
      ...(error != null ? { error: { code: error.code, message: error.message } } : {}),
      documents: tally.documents,
      counts: tally.counts,
      ...(Object.keys(tally.skippedBy).length > 0 ? { skippedBy: tally.skippedBy } : {})
    }
    state.runs++
    state.totals = addCounts(state.totals, tally.counts)
    if (error == null) state.lastSuccess = state.lastRun.finishedAt
    else state.failures++
    this.schedule(feed, finished + feed.intervalMs)
    await file.save()
    this.logRun(feed, state.lastRun)
    const status = feedStatus(feed, state, false, this.scheduling)
    for (const fn of this.runListeners) fn(status)
    return status
  }

  private context (feed: FeedConfig, state: FeedState, file: FeedStateFile, tally: Tally): FeedContext {
    const signal = this.controller.signal
    const publish = async (parsed: ParsedImport, name: string): Promise<ImportSummary> => {
      const summary = await runImport(parsed, { ...(feed.tlp != null ? { tlp: feed.tlp } : {}), file: name, publish: this.components.publish })
      tally.add(summary)
      return summary
    }
    return {
      feed,
      state,
      signal,
      get: async (url, init) => {
        const res = await getFeed(feed, url, { ...init, signal })
        tally.documents++
        return res
      },
      importText: async (text, format: ImportFormat, name) => await publish(parseImport(text, { format, name, namespace: this.components.namespace, ...(feed.column != null ? { column: feed.column } : {}) }), name),
      importJson: async (json, format, name) => {
        if (format !== 'stix') throw new DragnetError('DRAGNET_INTERNAL', `importJson takes STIX, not ${format}`)
        return await publish(parseStix(json), name)
      },
      save: async () => { await file.save() },
      partFailed: (what, err) => { tally.failed.push({ what, err: toDragnetError(err) }) }
    }
  }

  private logRun (feed: FeedConfig, run: FeedRun): void {
    const fields = { feed: feed.name, kind: feed.kind, url: displayUrl(feed.url), durationMs: run.durationMs, documents: run.documents, ...run.counts }
    if (run.error == null) this.components.log.info(fields, 'feed run done')
    else this.components.log.warn({ ...fields, code: run.error.code, err: run.error.message }, 'feed run failed')
  }
}

/** A feed's status from its config and persisted state (none yet: never run). */
export function feedStatus (feed: FeedConfig, state: FeedState | undefined, running: boolean, scheduled: boolean): FeedStatus {
  const run = state?.lastRun
  const out: FeedStatus = {
    name: feed.name,
    kind: feed.kind,
    url: displayUrl(feed.url),
    ...(feed.collection != null ? { collection: feed.collection } : {}),
    ...(feed.tlp != null ? { tlp: feed.tlp } : {}),
    intervalMs: feed.intervalMs,
    running,
    lastRun: run?.startedAt ?? null,
    result: run?.result ?? null,
    ...(run?.error != null ? { error: run.error } : {}),
    counts: run?.counts ?? null,
    ...(run != null ? { durationMs: run.durationMs, documents: run.documents } : {}),
    ...(run?.skippedBy != null ? { skipped: run.skippedBy } : {}),
    nextRun: scheduled ? state?.nextRun ?? null : null,
    lastSuccess: state?.lastSuccess ?? null,
    runs: state?.runs ?? 0,
    failures: state?.failures ?? 0,
    totals: state?.totals ?? zeroCounts()
  }
  if (state?.cursor != null) out.cursor = state.cursor
  if (state?.manifest != null) out.events = Object.keys(state.manifest).length
  return out
}
