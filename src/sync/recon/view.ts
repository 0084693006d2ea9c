import type { Bound, ReconItem } from './item.js'
import type { RangeSummary } from './sum.js'

/**
 * A read-only ordered set of items as the reconciliation protocol sees it. Ranges are half-open,
 * [lo, hi). Implemented by ReconIndex (the node's whole replica) and by OverlayView (the replica
 * as presented to one peer).
 */
export interface ReconView {
  readonly size: number
  has (item: ReconItem): boolean
  count (lo: Bound, hi: Bound): number
  /** count and 256-bit id sum; what fingerprints are made of, and what overlays adjust */
  summary (lo: Bound, hi: Bound): RangeSummary
  /** 16-byte digest of summary(lo, hi); equal sets give equal fingerprints */
  fingerprint (lo: Bound, hi: Bound): Uint8Array
  /** items in order, at most `limit` of them; ids are copies the caller may keep */
  items (lo: Bound, hi: Bound, limit?: number): ReconItem[]
  /**
   * Up to parts-1 strictly increasing bounds strictly inside (lo, hi) that cut the range into
   * parts of roughly equal count; fewer when the range holds fewer items.
   */
  splitPoints (lo: Bound, hi: Bound, parts: number): Bound[]
}
