import type { CopyCounts } from './cluster.js'
import type { SimCopies } from './result.js'

/*
 * Where the redundancy comes from: every copy of a record a member received, by the path it
 * took. A run with no redundancy receives exactly one copy per delivery.
 */

export function noCopies (): CopyCounts {
  return { push: 0, graft: 0, sync: 0, pushDuplicates: 0, graftDuplicates: 0, syncDuplicates: 0 }
}

export function addCopies (into: CopyCounts, c: CopyCounts | undefined): void {
  if (c == null) return
  for (const k of Object.keys(into) as Array<keyof CopyCounts>) into[k] += c[k] ?? 0
}

export function simCopies (c: CopyCounts, deliveries: number): SimCopies {
  const per = (x: number): number => Math.round(x / Math.max(1, deliveries) * 1000) / 1000
  return {
    push: c.push,
    graft: c.graft,
    sync: c.sync,
    duplicates: { push: c.pushDuplicates, graft: c.graftDuplicates, sync: c.syncDuplicates },
    per_delivery: { push: per(c.push), graft: per(c.graft), sync: per(c.sync), total: per(c.push + c.graft + c.sync) }
  }
}
