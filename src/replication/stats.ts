/**
 * What one replication service (gossip, sync) moved, in one shape for the API, the metrics and
 * the simulator. Protocol bytes are every frame byte (payload included); payload bytes are the
 * record envelopes alone.
 */
export interface ReplicationStats {
  payloadBytesIn: number
  payloadBytesOut: number
  protocolBytesIn: number
  protocolBytesOut: number
  /** records received (any verdict) and sent */
  recordsIn: number
  recordsOut: number
  /** received records already held (or already in ingest) */
  duplicatesIn: number
  /**
   * of recordsIn / duplicatesIn: records that answered a request of ours (gossip GRAFT); the rest
   * of gossip's were pushed unasked. Sync only moves what reconciliation asked for.
   */
  repairIn: number
  repairDuplicatesIn: number
  /** records received and refused by ingest */
  rejectedIn: number
  /**
   * records received past their author's budget (gossip; author-budget.ts): not ingested now,
   * left to anti-entropy; not counted in recordsIn
   */
  deferredIn: number
  /** outbound withholdings (policy, TLP floor) */
  withheld: number
  /** ids announced (gossip IHAVE) */
  announcedOut: number
  /** ids asked for (gossip GRAFT, sync WANT) */
  requestedOut: number
  /** authors pruned off a tree (gossip PRUNE sent) */
  prunesOut: number
  /** ids reconciliation found missing but left to the path already bringing them (sync) */
  skippedInFlight: number
  /** sessions put off because ingest was behind (sync) */
  sessionsDeferred: number
  /** ids declined to a peer / by a peer (sync DECLINE) */
  declinedOut: number
  declinedIn: number
  /** sessions completed and failed (sync; gossip counts stream failures) */
  sessions: number
  failures: number
  /** failures that were protocol violations (penalised) and timeouts (not penalised) */
  violations: number
  timeouts: number
}

export function emptyStats (): ReplicationStats {
  return {
    payloadBytesIn: 0,
    payloadBytesOut: 0,
    protocolBytesIn: 0,
    protocolBytesOut: 0,
    recordsIn: 0,
    recordsOut: 0,
    duplicatesIn: 0,
    repairIn: 0,
    repairDuplicatesIn: 0,
    rejectedIn: 0,
    deferredIn: 0,
    withheld: 0,
    announcedOut: 0,
    requestedOut: 0,
    prunesOut: 0,
    skippedInFlight: 0,
    sessionsDeferred: 0,
    declinedOut: 0,
    declinedIn: 0,
    sessions: 0,
    failures: 0,
    violations: 0,
    timeouts: 0
  }
}

/** The field-by-field sum (a node's gossip and sync together). */
export function sumStats (...all: ReplicationStats[]): ReplicationStats {
  const out = emptyStats()
  for (const s of all) for (const k of Object.keys(out) as Array<keyof ReplicationStats>) out[k] += s[k]
  return out
}
