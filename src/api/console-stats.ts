import type { RecordInfo, Store } from '../store/index.js'
import { arrivalBefore, arrivalInfoPage } from '../store/reads.js'

/*
 * The numbers the web console's overview draws, computed from the arrival index alone (record
 * infos, never bodies): records that arrived per hour over the last day, and how long records
 * took from their author's signature to this node (gossip and sync arrivals only; local and
 * imported records have no journey). The scan is bounded so a busy day cannot make a page load
 * read the whole store; `truncated` says when the bound was hit.
 */

export const ACTIVITY_WINDOW_MS = 24 * 3600_000
export const ACTIVITY_BUCKET_MS = 3600_000
/** upper bounds of the delay histogram's buckets in ms; the last bucket is everything slower */
export const DELAY_BOUNDS_MS = [100, 250, 500, 1000, 2000, 5000, 10_000, 60_000, 3_600_000] as const
const MAX_SCAN = 200_000

export interface ActivityStats {
  /** start of the first bucket (ms since the epoch) */
  from: number
  bucketMs: number
  /** records that arrived in each bucket, oldest first */
  arrivals: number[]
  /** arrivals in the window by how they came */
  bySource: Record<string, number>
  delays: { boundsMs: readonly number[], counts: number[], samples: number }
  /** the scan stopped at its bound: counts cover the oldest part of the window only */
  truncated: boolean
}

function delayBucket (ms: number): number {
  const i = DELAY_BOUNDS_MS.findIndex(b => ms < b)
  return i < 0 ? DELAY_BOUNDS_MS.length : i
}

/** Arrivals per hour and propagation delays over the last day, of the records `visible` admits. */
export async function activityStats (store: Store, visible: (info: RecordInfo) => boolean, now = Date.now()): Promise<ActivityStats> {
  const buckets = ACTIVITY_WINDOW_MS / ACTIVITY_BUCKET_MS
  const from = Math.floor(now / ACTIVITY_BUCKET_MS) * ACTIVITY_BUCKET_MS - (buckets - 1) * ACTIVITY_BUCKET_MS
  const out: ActivityStats = {
    from,
    bucketMs: ACTIVITY_BUCKET_MS,
    arrivals: new Array<number>(buckets).fill(0),
    bySource: {},
    delays: { boundsMs: DELAY_BOUNDS_MS, counts: new Array<number>(DELAY_BOUNDS_MS.length + 1).fill(0), samples: 0 },
    truncated: false
  }
  let after = await arrivalBefore(store, from - 1)
  let scanned = 0
  while (true) {
    const page = await arrivalInfoPage(store, after, 1000)
    if (page.length === 0) break
    for (const e of page) {
      after = e.arrival
      const i = e.info
      if (i.addedAt < from || !visible(i)) continue
      const b = Math.min(buckets - 1, Math.floor((i.addedAt - from) / ACTIVITY_BUCKET_MS))
      out.arrivals[b]++
      out.bySource[i.source] = (out.bySource[i.source] ?? 0) + 1
      if (i.source === 'gossip' || i.source === 'sync') {
        out.delays.counts[delayBucket(Math.max(0, i.addedAt - i.ts))]++
        out.delays.samples++
      }
    }
    scanned += page.length
    if (scanned >= MAX_SCAN) { out.truncated = true; break }
  }
  return out
}
