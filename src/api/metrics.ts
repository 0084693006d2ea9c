import type { SyncSummary } from '../net/peers.js'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { FeedStatus } from '../feeds/index.js'
import type { DragnetNode } from '../node.js'
import { contributionsOf } from '../store/index.js'

/*
 * Prometheus metrics. Node metrics live in a registry of their own per API instance (tests and
 * simulations run several nodes in one process); process metrics (event loop lag, memory, GC)
 * describe the process, so one registry holds them for every instance.
 */

let processRegistry: Registry | null = null

function processMetrics (): Registry {
  if (processRegistry == null) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry, prefix: 'dragnet_', eventLoopMonitoringPrecision: 20 })
  }
  return processRegistry
}

export interface Metrics {
  contentType: string
  text: () => Promise<string>
  /** stops counting (the node's listeners stay registered but become no-ops) */
  close: () => void
}

const DELAY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

export function createMetrics (node: DragnetNode): Metrics {
  const registry = new Registry()
  let open = true

  new Gauge({
    name: 'dragnet_records',
    help: 'Records in the store, by TLP',
    labelNames: ['tlp'],
    registers: [registry],
    collect () {
      const counts = node.store.counts()
      for (const [tlp, n] of Object.entries(counts.byTlp)) this.set({ tlp }, n)
    }
  })

  const verdicts = new Counter({
    name: 'dragnet_ingest_verdicts_total',
    help: 'Ingest decisions, by source (local, import, gossip, sync), verdict and reason (the rule or error code of a rejection)',
    labelNames: ['source', 'verdict', 'reason'],
    registers: [registry]
  })
  const offVerdict = node.ingest.onVerdict((v, source) => {
    if (!open) return
    const reason = v.status === 'rejected' ? (v.rule ?? v.code) : v.status === 'stored' ? 'accepted' : 'already-stored'
    verdicts.inc({ source, verdict: v.status, reason })
  })

  const delay = new Histogram({
    name: 'dragnet_propagation_delay_seconds',
    help: 'Time from a record\'s signing (its ts) to its storing on this node, by source',
    labelNames: ['source'],
    buckets: DELAY_BUCKETS,
    registers: [registry]
  })
  const sightings = new Counter({
    name: 'dragnet_sightings_total',
    help: 'Sightings stored since the node started (the sum of their counts), by the member that reported them',
    labelNames: ['author', 'name'],
    registers: [registry]
  })
  const opinions = new Counter({
    name: 'dragnet_opinions_total',
    help: 'Opinions stored since the node started, by the member that gave them and their stance (agree, disagree, neutral)',
    labelNames: ['author', 'name', 'opinion'],
    registers: [registry]
  })
  const offStored = node.ingest.onStored((v) => {
    if (!open) return
    delay.observe({ source: v.source }, Math.max(0, Date.now() - v.record.record.ts) / 1000)
    const r = v.record.record
    if (r.body.type !== 'sighting' && r.body.type !== 'opinion') return
    const who = { author: r.author, name: node.roster.get(r.author)?.name ?? '' }
    // One opinion about several objects is one opinion.
    const c = contributionsOf(r.body, r.author, r.tlp)[0]
    if (c == null || c.revoked) return
    if (c.kind === 'sighting') sightings.inc(who, c.count ?? 1)
    else opinions.inc({ ...who, opinion: c.stance ?? 'neutral' })
  })

  new Counter({
    name: 'dragnet_storage_errors_total',
    help: 'Store writes that failed for storage reasons (disk full, I/O error) since the node started',
    registers: [registry],
    collect () {
      this.reset()
      if (node.store.isOpen) this.inc(node.store.health().errors)
    }
  })

  new Gauge({
    name: 'dragnet_storage_degraded',
    help: '1 while the store cannot write (writes answer DRAGNET_STORAGE; the node retries by itself), else 0',
    registers: [registry],
    collect () { this.set(node.store.isOpen && !node.store.health().ok ? 1 : 0) }
  })

  // Purge, erasure and retention: the service counts since the node started; read at scrape time.
  const purgeCounter = (name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect () {
        this.reset()
        for (const [labels, n] of read()) this.inc(labels, n)
      }
    })
  }
  const stats = node.purge.stats
  purgeCounter('dragnet_purged_records_total', 'Records purged since the node started, by kind of reason: operator (purge), retention, erasure (a member\'s request honoured), requested (this node\'s own erase)', ['kind'],
    () => Object.entries(stats.purged).map(([kind, n]) => [{ kind }, n]))
  purgeCounter('dragnet_erasure_requests_total', 'Records named by members\' erasure requests since the node started, by this node\'s decision (honoured, refused)', ['decision'],
    () => [[{ decision: 'honoured' }, stats.erasure.honoured], [{ decision: 'refused' }, stats.erasure.refused]])
  purgeCounter('dragnet_erasure_declined_total', 'Records declined on arrival (neither stored nor forwarded) because an honoured erasure request named them', [],
    () => [[{}, stats.declined]])
  purgeCounter('dragnet_retention_runs_total', 'Retention runs since the node started (runs with retention rules in the policy)', [],
    () => [[{}, stats.retention.runs]])
  purgeCounter('dragnet_retention_expired_total', 'Records purged by retention runs since the node started', [],
    () => [[{}, stats.retention.expired]])
  new Gauge({
    name: 'dragnet_tombstones',
    help: 'Tombstones held: purged records this node refuses and keeps counting in reconciliation',
    registers: [registry],
    collect () { this.set(node.store.isOpen ? node.store.tombstoneCount() : 0) }
  })

  new Gauge({
    name: 'dragnet_peers_connected',
    help: 'Roster members connected now',
    registers: [registry],
    collect () { this.set(node.peers?.connectedPeers().length ?? 0) }
  })

  new Gauge({
    name: 'dragnet_peers_roster',
    help: 'Members on this node\'s roster (itself excluded)',
    registers: [registry],
    collect () { this.set(node.roster.peers().length) }
  })

  // Per-peer counters are kept by the peer manager (gossip and sync both count into them); they
  // are read at scrape time, so a counter here is reset and set to the manager's figure.
  const peerCounter = (name: string, help: string, pick: (s: ReturnType<NonNullable<DragnetNode['peers']>['list']>[number]) => Array<[string, number]>): void => {
    new Counter({
      name,
      help,
      labelNames: ['peer', 'name', 'direction'],
      registers: [registry],
      collect () {
        this.reset()
        for (const s of node.peers?.list() ?? []) for (const [direction, n] of pick(s)) this.inc({ peer: s.peerId, name: s.name, direction }, n)
      }
    })
  }
  peerCounter('dragnet_peer_bytes_total', 'Bytes exchanged with each peer over gossip and sync, by direction', s => [['in', s.bytesIn], ['out', s.bytesOut]])
  peerCounter('dragnet_peer_records_total', 'Records exchanged with each peer over gossip and sync, by direction', s => [['in', s.recordsIn], ['out', s.recordsOut]])

  // The last anti-entropy session with each peer, one gauge per measure, in and out.
  const lastSync = (name: string, help: string, get: (s: SyncSummary) => [number, number]): void => {
    new Gauge({
      name,
      help,
      labelNames: ['peer', 'name', 'direction'],
      registers: [registry],
      collect () {
        this.reset()
        for (const s of node.peers?.list() ?? []) {
          if (s.lastSync == null) continue
          const [inbound, outbound] = get(s.lastSync)
          this.set({ peer: s.peerId, name: s.name, direction: 'in' }, inbound)
          this.set({ peer: s.peerId, name: s.name, direction: 'out' }, outbound)
        }
      }
    })
  }
  lastSync('dragnet_peer_last_sync_bytes', 'Bytes of the last anti-entropy sync session with each peer, by direction', s => [s.bytesReceived, s.bytesSent])
  lastSync('dragnet_peer_last_sync_records', 'Records of the last anti-entropy sync session with each peer, by direction', s => [s.recordsReceived, s.recordsSent])

  new Counter({
    name: 'dragnet_gossip_bytes_total',
    help: 'Gossip bytes on all edges: record payload, and protocol (frames, announcements, tree control), by direction',
    labelNames: ['kind', 'direction'],
    registers: [registry],
    collect () {
      this.reset()
      const g = node.gossip?.stats()
      if (g == null) return
      this.inc({ kind: 'payload', direction: 'in' }, g.payloadBytesIn)
      this.inc({ kind: 'payload', direction: 'out' }, g.payloadBytesOut)
      this.inc({ kind: 'protocol', direction: 'in' }, g.protocolBytesIn)
      this.inc({ kind: 'protocol', direction: 'out' }, g.protocolBytesOut)
    }
  })

  new Counter({
    name: 'dragnet_gossip_records_total',
    help: 'Records carried by gossip on all edges, by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect () {
      this.reset()
      const g = node.gossip?.stats()
      if (g == null) return
      this.inc({ direction: 'in' }, g.recordsIn)
      this.inc({ direction: 'out' }, g.recordsOut)
    }
  })

  new Counter({
    name: 'dragnet_gossip_deferred_records_total',
    help: 'Records pushed by gossip past their author\'s budget (limits.authorRecordsPerSec): not ingested then, left to anti-entropy',
    registers: [registry],
    collect () {
      this.reset()
      const g = node.gossip?.stats()
      if (g != null) this.inc(g.deferredIn)
    }
  })

  feedMetrics(registry, node)

  webhookMetrics(registry, node)

  const proc = processMetrics()
  return {
    contentType: registry.contentType,
    text: async () => (await registry.metrics()) + (await proc.metrics()),
    close: () => { open = false; offVerdict(); offStored() }
  }
}

/**
 * Per feed, read from the feeds' persisted state at scrape time: runs and failures, records
 * by outcome (totals over every run, kept across restarts), and the last run's time, duration
 * and result, so an alert can fire on `dragnet_feed_up == 0` or an old last success.
 */
function feedMetrics (registry: Registry, node: DragnetNode): void {
  const feedGauge = (name: string, help: string, value: (s: FeedStatus) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['feed', 'kind'],
      registers: [registry],
      collect () {
        this.reset()
        for (const s of node.feeds.statuses()) {
          const v = value(s)
          if (v != null) this.set({ feed: s.name, kind: s.kind }, v)
        }
      }
    })
  }
  const seconds = (iso: string | null): number | undefined => iso != null ? Date.parse(iso) / 1000 : undefined
  new Counter({
    name: 'dragnet_feed_runs_total',
    help: 'Feed runs, by feed and result (ok, error)',
    labelNames: ['feed', 'kind', 'result'],
    registers: [registry],
    collect () {
      this.reset()
      for (const s of node.feeds.statuses()) {
        this.inc({ feed: s.name, kind: s.kind, result: 'ok' }, s.runs - s.failures)
        this.inc({ feed: s.name, kind: s.kind, result: 'error' }, s.failures)
      }
    }
  })
  new Counter({
    name: 'dragnet_feed_records_total',
    help: 'Records from each feed, by outcome: stored, duplicate (already held), rejected',
    labelNames: ['feed', 'kind', 'outcome'],
    registers: [registry],
    collect () {
      this.reset()
      for (const s of node.feeds.statuses()) {
        this.inc({ feed: s.name, kind: s.kind, outcome: 'stored' }, s.totals.stored)
        this.inc({ feed: s.name, kind: s.kind, outcome: 'duplicate' }, s.totals.duplicates)
        this.inc({ feed: s.name, kind: s.kind, outcome: 'rejected' }, s.totals.rejected)
      }
    }
  })
  feedGauge('dragnet_feed_up', '1 when the feed\'s last run succeeded, 0 when it failed (absent before its first run)', s => s.result == null ? undefined : s.result === 'ok' ? 1 : 0)
  feedGauge('dragnet_feed_last_run_timestamp_seconds', 'When the feed\'s last run started (Unix time)', s => seconds(s.lastRun))
  feedGauge('dragnet_feed_last_success_timestamp_seconds', 'When the feed\'s last successful run ended (Unix time)', s => seconds(s.lastSuccess))
  feedGauge('dragnet_feed_last_run_duration_seconds', 'How long the feed\'s last run took', s => s.durationMs != null ? s.durationMs / 1000 : undefined)
  feedGauge('dragnet_feed_next_run_timestamp_seconds', 'When the feed runs next (Unix time)', s => seconds(s.nextRun))
}

/** Each webhook's queue length, and its deliveries by result (see push/webhooks.ts). */
function webhookMetrics (registry: Registry, node: DragnetNode): void {
  new Gauge({
    name: 'dragnet_webhook_queue',
    help: 'Records waiting in each webhook\'s queue (bounded by its maxQueue)',
    labelNames: ['hook'],
    registers: [registry],
    collect () {
      this.reset()
      for (const h of node.webhookStats()) this.set({ hook: h.name }, h.queued)
    }
  })

  new Counter({
    name: 'dragnet_webhook_deliveries_total',
    help: 'Webhook deliveries by hook and result: delivered (2xx), failed (an attempt that will be retried; since start), dropped (the queue was full)',
    labelNames: ['hook', 'result'],
    registers: [registry],
    collect () {
      this.reset()
      for (const h of node.webhookStats()) {
        this.inc({ hook: h.name, result: 'delivered' }, h.delivered)
        this.inc({ hook: h.name, result: 'failed' }, h.failures)
        this.inc({ hook: h.name, result: 'dropped' }, h.dropped)
      }
    }
  })
}
