import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { DragnetError } from '../errors.js'
import { writePrivateFile } from '../util/private-file.js'

/*
 * What the node remembers of its feeds, in `<data dir>/feeds-state.json` (0600, replaced
 * atomically): per feed the last run and its result, running totals, the next run, and the
 * kind's own position (a TAXII `added_after` cursor, MISP event timestamps, HTTP validators).
 * A file beside the store, not in it, so `dragnet feeds` reads it while a node runs, and a
 * feed's position survives whatever the store does. The position belongs to the source it was
 * read from: a feed whose kind, URL or collection changes starts again from the beginning.
 */

export const FEEDS_STATE_FILE = 'feeds-state.json'

const countsSchema = z.object({
  values: z.number(),
  imported: z.number(),
  duplicates: z.number(),
  skipped: z.number(),
  stored: z.number(),
  rejected: z.number()
})

export type FeedCounts = z.infer<typeof countsSchema>

export function zeroCounts (): FeedCounts {
  return { values: 0, imported: 0, duplicates: 0, skipped: 0, stored: 0, rejected: 0 }
}

export function addCounts (a: FeedCounts, b: FeedCounts): FeedCounts {
  return {
    values: a.values + b.values,
    imported: a.imported + b.imported,
    duplicates: a.duplicates + b.duplicates,
    skipped: a.skipped + b.skipped,
    stored: a.stored + b.stored,
    rejected: a.rejected + b.rejected
  }
}

const runSchema = z.object({
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  result: z.enum(['ok', 'error']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** documents fetched: TAXII pages, MISP manifest and events, the list */
  documents: z.number(),
  counts: countsSchema,
  /** skipped values by reason, as import reports them */
  skippedBy: z.record(z.string(), z.number()).optional()
})

export type FeedRun = z.infer<typeof runSchema>

const feedStateSchema = z.object({
  /** digest of the kind, URL and collection the position below belongs to */
  source: z.string(),
  lastRun: runSchema.optional(),
  lastSuccess: z.string().optional(),
  nextRun: z.string().optional(),
  runs: z.number(),
  failures: z.number(),
  totals: countsSchema,
  /** TAXII: X-TAXII-Date-Added-Last of the last page imported */
  cursor: z.string().optional(),
  /** MISP feed: event uuid → manifest timestamp of the version imported */
  manifest: z.record(z.string(), z.string()).optional(),
  /** lists: validators of the last document imported */
  etag: z.string().optional(),
  lastModified: z.string().optional()
})

export type FeedState = z.infer<typeof feedStateSchema>

const fileSchema = z.object({ version: z.literal(1), feeds: z.record(z.string(), feedStateSchema) })

export function freshState (source: string): FeedState {
  return { source, runs: 0, failures: 0, totals: zeroCounts() }
}

/** Reads the state file; none yet is an empty state. A damaged file is an error, never silently reset. */
export async function readFeedStates (dataDir: string): Promise<Record<string, FeedState>> {
  const file = join(dataDir, FEEDS_STATE_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return {}
    throw new DragnetError('DRAGNET_BAD_CONFIG', `cannot read ${file}: ${String(err.code ?? err.message)}`)
  }
  let parsed
  try {
    parsed = fileSchema.safeParse(JSON.parse(text))
  } catch (err) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `${file} is not valid JSON (${(err as Error).message}); move it away to start the feeds from scratch`)
  }
  if (!parsed.success) throw new DragnetError('DRAGNET_BAD_CONFIG', `${file} is not a feeds state file (${parsed.error.issues[0]?.message ?? 'invalid'}); move it away to start the feeds from scratch`)
  return parsed.data.feeds
}

/** Holds the states in memory and writes them through, one write at a time, in call order. */
export class FeedStateFile {
  private writing: Promise<void> = Promise.resolve()

  constructor (readonly dataDir: string, readonly states: Record<string, FeedState>) {}

  static async open (dataDir: string): Promise<FeedStateFile> {
    return new FeedStateFile(dataDir, await readFeedStates(dataDir))
  }

  /** The state of a feed reading `source`; a different source starts from nothing. */
  of (name: string, source: string): FeedState {
    const s = this.states[name]
    if (s != null && s.source === source) return s
    const fresh = freshState(source)
    // Run history stays; the position belonged to the old source.
    if (s != null) Object.assign(fresh, { lastRun: s.lastRun, lastSuccess: s.lastSuccess, runs: s.runs, failures: s.failures, totals: s.totals })
    this.states[name] = fresh
    return fresh
  }

  async save (): Promise<void> {
    const text = JSON.stringify({ version: 1, feeds: this.states }, null, 2) + '\n'
    const next = this.writing.then(async () => { await writePrivateFile(join(this.dataDir, FEEDS_STATE_FILE), text) })
    this.writing = next.catch(() => {})
    await next
  }
}
