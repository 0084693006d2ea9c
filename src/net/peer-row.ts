/*
 * Per-peer counters and the rows of `GET /api/peers`. The web console imports these types, so
 * this file imports nothing (the browser build type-checks it without Node's types).
 */

export interface SyncSummary {
  at: number
  roundTrips: number
  bytesSent: number
  bytesReceived: number
  recordsSent: number
  recordsReceived: number
  ms: number
  ok: boolean
  error?: string
  /** why it failed: `violation` (the peer was penalised), `timeout` or `gone` (tried again later, no penalty) */
  failure?: 'violation' | 'timeout' | 'gone'
  /** reconciliation stopped at `sync.maxIdsPerSession`; the next session continues */
  partial?: boolean
}

/** Counters kept per member; persisted so `dragnet peers` shows them across restarts. */
export interface PeerStats {
  recordsIn: number
  recordsOut: number
  bytesIn: number
  bytesOut: number
  withheld: number
  rejected: number
  penalties: number
  /** the share of the counters above that crossed by anti-entropy rather than gossip */
  syncRecordsIn: number
  syncRecordsOut: number
  syncBytesIn: number
  syncBytesOut: number
  lastPenalty?: { at: number, reason: string }
  lastSeen?: number
  lastSync?: SyncSummary
}

/**
 * One row of `GET /api/peers`: the member, whether it is connected, and (for a caller that sees
 * every TLP) the counters. A reader below RED gets the member fields and `connected` only.
 */
export interface PeerRow extends Partial<PeerStats> {
  peerId: string
  name: string
  country: string
  role: string
  addrs?: string[]
  connected: boolean
  penalizedUntil?: number
}
