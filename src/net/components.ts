import type { Roster } from '../identity/index.js'
import type { Ingest } from '../ingest/index.js'
import type { Logger } from '../log.js'
import type { Policy } from '../policy/index.js'
import type { AuditEntry, Store } from '../store/index.js'
import type { DragnetLibp2p } from './libp2p.js'
import type { PeerManager } from './peers.js'

/** What the network protocols (gossip, sync) need from the node. */
export interface NetComponents {
  libp2p: DragnetLibp2p
  ingest: Ingest
  store: Store
  roster: Roster
  peers: PeerManager
  /** the policy in force right now (it can be reloaded while the node runs) */
  policy: () => Policy
  log: Logger
  /** outbound decisions are audited through this (batched by the node) */
  audit: (entry: AuditEntry) => void
}
