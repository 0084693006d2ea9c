/**
 * What `dragnet simulate` produces: the `--json` file, the input of the terminal table and of
 * the HTML report. Keys in snake_case are part of the documented output format.
 */
export interface InvariantResult {
  pass: boolean
  details: unknown
}

export interface SimMemberResult {
  index: number
  name: string
  peerId: string
  country: string
  role: 'bureau' | 'contributor' | 'observer'
  /** policy name in force on that node */
  policy: string
  /** false when the node was down at the end of the run */
  up: boolean
  records: number
  by_tlp: Record<string, number>
  /** records this node should hold (entitlement computed from TLP floor and every policy on the path) */
  entitled: number
  missing: number
  unexpected: number
  rejected: number
  withheld: number
  penalties: number
}

export interface SimEvent {
  t_ms: number
  kind: 'publish-start' | 'publish-end' | 'partition' | 'heal' | 'down' | 'up' | 'join' | 'revoke' | 'rotate' | 'attack' | 'spy' | 'converged' | 'note'
  detail: string
}

export interface CopySplit { push: number, graft: number, sync: number }

export interface SimCopies extends CopySplit {
  duplicates: CopySplit
  per_delivery: CopySplit & { total: number }
}

export interface SimResult {
  scenario: string
  description: string
  seed: string
  nodes: number
  transport: 'memory' | 'tcp'
  topology: string
  /** undirected overlay edges between member indexes */
  edges: Array<[number, number]>
  members: SimMemberResult[]
  records_published: number
  /** (record, node) pairs delivered within the run */
  deliveries: number
  /** publish → stored on each entitled node, over every delivery */
  latency_ms: { p50: number, p95: number, p99: number, max: number, samples: number }
  /** [latency ms, fraction of deliveries at or below it], increasing, at most ~200 points */
  latency_cdf: Array<[number, number]>
  converged: boolean
  /** ms from the last disturbance (heal, rejoin, end of publishing) until every node held exactly its entitlement; null if never */
  convergence_ms: number | null
  /** fraction of entitlements held over the run: [ms since start, fraction 0..1] */
  convergence_series: Array<[number, number]>
  bytes: {
    /** record bytes received (gossip + sync) per delivered record, as a multiple of the average record size */
    payload_per_delivery: number
    /** all protocol bytes received (frames of gossip and sync) per delivered record, same unit */
    protocol_per_delivery: number
    payload_total: number
    protocol_total: number
    record_avg: number
  }
  /**
   * copies of records received across nodes, by how each came: `push` (gossip, unasked), `graft`
   * (gossip, answering a GRAFT: tree repair; gossip has no separate IWANT, GRAFT asks for the ids),
   * `sync` (reconciliation sessions); `duplicates` of them were already held or already in
   * ingest; `per_delivery` is each count over the deliveries (total 1.0 means no redundancy)
   */
  copies?: SimCopies
  /** ingest rejections across nodes, by rule or error code */
  rejections: Record<string, number>
  /** outbound withholdings across nodes, by rule */
  withholdings: Record<string, number>
  invariants: Record<string, InvariantResult>
  events: SimEvent[]
  duration_ms: number
  memory: { rss_mb: number, per_node_mb: number }
}
