import type { PublishOptions, Verdict } from '../ingest/index.js'
import type { DragnetNode } from '../node.js'
import type { UnsignedRecord } from '../record/index.js'
import { emptyStats } from '../replication/index.js'

/** Copies of records a member received, by how each came, and how many it already held. */
export interface CopyCounts {
  /** gossip RECORDS pushed unasked */
  push: number
  /** gossip RECORDS answering a GRAFT of ours (tree repair) */
  graft: number
  /** records moved by sync sessions (pulled or pushed) */
  sync: number
  pushDuplicates: number
  graftDuplicates: number
  syncDuplicates: number
}

/** What the simulator reads off a member at the end of a run. */
export interface NodeSimStats {
  records: number
  byTlp: Record<string, number>
  /** record bytes received by gossip and sync */
  payloadBytesIn: number
  /** all gossip and sync frame bytes received */
  protocolBytesIn: number
  copies: CopyCounts
  rejected: Record<string, number>
  withheld: Record<string, number>
  /** penalties this member handed out */
  penalties: number
  flaggedAuthors: string[]
  /** resident memory of the process the member runs in (shared when members share a process) */
  rssMb: number
  /** CPU time (user + system, ms) of the process the member runs in so far (shared likewise) */
  cpuMs: number
}

export interface PublishOutcome {
  status: Verdict['status']
  id?: string
  bytes?: number
  record?: UnsignedRecord
  reason?: string
}

/**
 * The members of a simulated federation as the runner drives them: in this process (the memory
 * transport or TCP) or one OS process per member (TCP). Members are addressed by index.
 */
export interface SimCluster {
  readonly size: number
  peerId: (i: number) => string
  indexOf: (peerId: string) => number
  isUp: (i: number) => boolean
  addrs: (i: number) => string[]
  start: (opts?: { concurrency?: number, onProgress?: (started: number) => void, skip?: ReadonlySet<number> }) => Promise<void>
  waitConnected: (timeoutMs?: number) => Promise<void>
  partition: (groupOf: (i: number) => number) => Promise<void>
  heal: () => Promise<void>
  stopNode: (i: number) => Promise<void>
  restartNode: (i: number) => Promise<void>
  publish: (i: number, objects: unknown[], opts: PublishOptions) => Promise<PublishOutcome[]>
  stats: (i: number) => Promise<NodeSimStats>
  stop: () => Promise<void>
}

export function outcomes (verdicts: Verdict[]): PublishOutcome[] {
  return verdicts.map(v => v.status === 'stored'
    ? { status: v.status, id: v.id, bytes: v.record.bytes.length, record: v.record.record }
    : v.status === 'duplicate' ? { status: v.status, id: v.id } : { status: v.status, reason: `${v.code}: ${v.reason}` })
}

export async function nodeStats (node: DragnetNode): Promise<NodeSimStats> {
  const counts = node.store.counts()
  const status = await node.status()
  const replication = node.replicationStats()
  let penalties = 0
  for (const s of node.peers?.list() ?? []) penalties += s.penalties
  return {
    records: counts.records,
    byTlp: counts.byTlp,
    payloadBytesIn: replication.payloadBytesIn,
    protocolBytesIn: replication.protocolBytesIn,
    copies: copyCounts(node),
    rejected: Object.fromEntries(node.decisions.rejected),
    withheld: Object.fromEntries(node.decisions.withheld),
    penalties,
    flaggedAuthors: status.flaggedAuthors,
    rssMb: Math.round(process.memoryUsage().rss / 1048576),
    cpuMs: cpuMs()
  }
}

function cpuMs (): number {
  const u = process.cpuUsage()
  return Math.round((u.user + u.system) / 1000)
}

function copyCounts (node: DragnetNode): CopyCounts {
  const g = node.gossip?.stats() ?? emptyStats()
  const s = node.sync?.stats() ?? emptyStats()
  return {
    push: g.recordsIn - g.repairIn,
    graft: g.repairIn,
    sync: s.recordsIn,
    pushDuplicates: g.duplicatesIn - g.repairDuplicatesIn,
    graftDuplicates: g.repairDuplicatesIn,
    syncDuplicates: s.duplicatesIn
  }
}
