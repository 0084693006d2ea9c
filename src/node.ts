import { join } from 'node:path'
import type { ApiTls, NodeConfig } from './config/config.js'
import { DragnetError } from './errors.js'
import { Feeds } from './feeds/index.js'
import { FILES, clearRuntime, openDataDir, writeRuntime, type NodeMetadata, type NodeIdentity, Roster, type Member, MembershipState, type OfferVerdict, type RosterChange, type KnownMember, type Role } from './identity/index.js'
import { Ingest, type PublishOptions, type Verdict } from './ingest/index.js'
import { createLogger, type Logger } from './log.js'
import { createNodeLibp2p, Gossip, MembershipExchange, PeerManager, type DragnetLibp2p } from './net/index.js'
import { defaultPolicy, loadPolicy, type Decision, type Policy } from './policy/index.js'
import { PurgeService } from './purge/index.js'
import type { SignedRecord } from './record/index.js'
import { ADMISSION_CHUNK, ReplicationEdge, sumStats, type ReplicationStats } from './replication/index.js'
import { Store, type AuditEntry, type StoreInit } from './store/index.js'
import { preloadSyncIndexes, SyncService, type LoadedSyncIndexes } from './sync/index.js'
import { docToJson, describeDoc } from './identity/membership.js'
import type { MemberInfo } from './api/provenance.js'
import { Webhooks, type WebhookStats } from './push/webhooks.js'
import { LruSet } from './util/lru.js'
import { privateUmask } from './util/private-file.js'

/** Strikes against a peer (unknown authors it relays, takeovers it relays) are counted over this window. */
const STRIKE_WINDOW_MS = 10 * 60_000

export interface DragnetNodeInit {
  dataDir: string
  config: NodeConfig
  log?: Logger
  /** start the network (default true); offline nodes serve the CLI and tests */
  network?: boolean
  /** a policy object instead of the configured file (simulations and tests) */
  policy?: Policy
  /** defaults for a data dir `start` initialises */
  metadata?: NodeMetadata
  /** simulated per-link latency in ms for frames from a peer (simulations only) */
  linkDelay?: (peerId: string) => number
  /**
   * initialise a data dir that holds no node key (default true: `start`); false refuses it with
   * DRAGNET_NO_NODE (every CLI command but `init` and `start`)
   */
  create?: boolean
  /** store options (recovery interval, LevelDB write buffer) */
  store?: StoreInit
  /** the clock retention and erasure decisions read (tests move it forward) */
  clock?: () => number
}

/** An author's member entry and standing, shown beside its records. */
export interface AuthorMember {
  name: string
  country: string
  role: string
  status: string
  reason?: string
  /** since when (ISO) it is not a member in force: revocation, expiry or hand-over time */
  since?: string
  successor?: string
}

export interface NodeStatus {
  peerId: string
  name: string
  country: string
  role: string
  records: number
  byTlp: Record<string, number>
  /** evidence pairs (two records, one seq) and how many further records under each were refused since start */
  equivocations: Array<{ author: string, seq: number, ids: string[], refused: number }>
  flaggedAuthors: string[]
  peers: { roster: number, connected: number }
  listen: string[]
  api?: string
  /** `https` when the API serves TLS (api.tls) */
  apiScheme?: 'http' | 'https'
  /** each webhook's queue and deliveries, when webhooks run */
  webhooks?: WebhookStats[]
  policy: string
  running: boolean
  startedAt?: string
  dataDir: string
}

/**
 * The composition root: identity, store, policy, ingest, then network (libp2p, peers, gossip,
 * sync) and last the API, started in that order and stopped in reverse. If start fails halfway,
 * whatever started is stopped again.
 */
export class DragnetNode {
  readonly dataDir: string
  readonly config: NodeConfig
  readonly log: Logger
  readonly identity: NodeIdentity
  readonly metadata: NodeMetadata
  readonly roster: Roster
  /** credentials, revocations and hand-overs held, and the roster in force they give */
  readonly membership: MembershipState
  membershipExchange: MembershipExchange | null = null
  private membershipTimer: ReturnType<typeof setInterval> | null = null
  private opened = false
  readonly store: Store
  readonly ingest: Ingest
  /** scheduled feeds: run on their schedule while the node serves, on demand always */
  readonly feeds: Feeds
  /** purge, erasure requests and retention */
  readonly purge: PurgeService
  private currentPolicy: Policy
  libp2p: DragnetLibp2p | null = null
  peers: PeerManager | null = null
  gossip: Gossip | null = null
  sync: SyncService | null = null
  webhooks: Webhooks | null = null
  apiAddress: string | undefined
  apiScheme: 'http' | 'https' = 'http'
  private apiReloadTls: ((tls?: ApiTls) => Promise<void>) | undefined
  private startedAt: Date | undefined
  /** decisions that kept a record out, by rule (or error code): ingest rejections and outbound withholdings */
  readonly decisions = { rejected: new Map<string, number>(), withheld: new Map<string, number>() }
  private readonly pendingAudit: AuditEntry[] = []
  private readonly auditedRecently = new LruSet<string>(50_000)
  private auditTimer: ReturnType<typeof setInterval> | null = null
  private pruneTimer: ReturnType<typeof setInterval> | null = null
  private readonly stopHooks: Array<() => Promise<void>> = []
  private running = false
  private readonly network: boolean
  private readonly linkDelay: ((peerId: string) => number) | undefined

  private constructor (init: DragnetNodeInit, identity: NodeIdentity, metadata: NodeMetadata, store: Store, policy: Policy) {
    this.dataDir = init.dataDir
    this.config = init.config
    this.log = init.log ?? createLogger({ level: init.config.log.level })
    this.identity = identity
    this.metadata = metadata
    this.network = init.network !== false
    this.linkDelay = init.linkDelay
    const self: Member = { peerId: identity.peerId, name: init.config.name || metadata.name, country: init.config.country, role: init.config.role, addrs: init.config.listen }
    const local = init.config.roster.map(m => ({ ...m, addrs: m.addrs ?? [] }))
    this.roster = new Roster(self, local)
    this.membership = new MembershipState(init.dataDir, init.config.federation, this.roster, { members: local, deny: init.config.rosterDeny })
    this.roster.onChange((c) => { this.rosterChanged(c) })
    this.store = store
    this.currentPolicy = policy
    this.ingest = new Ingest({
      store,
      identity,
      roster: this.roster,
      policy: () => this.currentPolicy,
      log: this.log.child({ ns: 'ingest' })
    }, {
      limits: { maxRecordBytes: init.config.record.maxBytes, maxDepth: init.config.record.maxDepth },
      verifyWorkers: init.config.ingest.verifyWorkers,
      maxSkewMs: init.config.record.maxSkewMs
    })
    this.feeds = new Feeds({
      dataDir: this.dataDir,
      namespace: identity.peerId,
      log: this.log.child({ ns: 'feeds' }),
      // Signed as this node's records, in import mode: a value fetched again is a duplicate.
      publish: async (objects, tlp) => await this.publish(objects, { tlp, source: 'import', skipExisting: true })
    }, init.config.feeds)
    this.purge = new PurgeService({
      store,
      ingest: this.ingest,
      roster: this.roster,
      policy: () => this.currentPolicy,
      log: this.log.child({ ns: 'purge' }),
      roots: () => init.config.federation.roots,
      ...(init.clock != null ? { clock: init.clock } : {})
    }, { retentionIntervalMs: init.config.retention.intervalMs })
    // A purged id stays in reconciliation, counted as held with nothing to send.
    this.purge.onPurged((tombs) => {
      for (const t of tombs) for (const scope of t.scopes) this.sync?.indexes.addPurged(scope, t.ts, t.id)
    })
    this.ingest.onVerdict((v) => {
      if (v.status !== 'rejected') return
      const k = v.rule ?? v.code
      this.decisions.rejected.set(k, (this.decisions.rejected.get(k) ?? 0) + 1)
    })
  }

  /**
   * Opens the data dir (initialising it if empty, unless `create` is false) and the store;
   * nothing networked yet. Sets the process umask to 077: the files LevelDB creates as it runs
   * (new .log and .ldb files) hold records, and LevelDB leaves their mode to the umask.
   */
  static async open (init: DragnetNodeInit): Promise<DragnetNode> {
    privateUmask()
    const { identity, metadata } = await openDataDir(init.dataDir, {
      name: init.metadata?.name ?? init.config.name,
      country: init.metadata?.country ?? init.config.country,
      role: init.metadata?.role ?? init.config.role
    }, { create: init.create !== false })
    const policy = init.policy ?? (init.config.policy != null ? await loadPolicy(init.config.policy) : defaultPolicy())
    const store = await Store.open(join(init.dataDir, FILES.store), init.store)
    try {
      const node = new DragnetNode(init, identity, metadata, store, policy)
      await node.refreshMembership(true)
      node.opened = true
      return node
    } catch (err) {
      await store.close()
      throw err
    }
  }

  get peerId (): string {
    return this.identity.peerId
  }

  get policy (): Policy {
    return this.currentPolicy
  }

  get isRunning (): boolean {
    return this.running
  }

  async start (opts: { api?: (node: DragnetNode) => Promise<{ address: string, scheme?: 'http' | 'https', close: () => Promise<void>, reloadTls?: (tls?: ApiTls) => Promise<void> }>, webhooks?: boolean } = {}): Promise<void> {
    if (this.running) return
    try {
      // Before anything else reads the store: a first start reads every sync key, and the store
      // is then reopened to drop the table pages that scan mapped (see preloadSyncIndexes).
      const syncIndexes = this.network && this.config.sync.enabled ? await preloadSyncIndexes(this.store) : undefined
      await this.ingest.start()
      this.stopHooks.push(async () => { await this.ingest.stop() })
      await this.purge.start()
      this.stopHooks.push(async () => { await this.purge.stop() })
      this.auditTimer = setInterval(() => { void this.flushAudit() }, 250)
      this.auditTimer.unref?.()
      this.stopHooks.push(async () => {
        if (this.auditTimer != null) clearInterval(this.auditTimer)
        await this.flushAudit()
      })
      // Retention holds whatever writes the audit log (ingest writes an entry with every record).
      this.pruneTimer = setInterval(() => { void this.pruneAudit() }, this.config.audit.pruneIntervalMs)
      this.pruneTimer.unref?.()
      this.stopHooks.push(async () => { if (this.pruneTimer != null) clearInterval(this.pruneTimer) })
      // Credentials expire and `member publish` may drop a document in while the node runs.
      this.membershipTimer = setInterval(() => { void this.refreshMembership() }, Math.min(this.config.sync.intervalMs, 2000))
      this.membershipTimer.unref?.()
      this.stopHooks.push(async () => { if (this.membershipTimer != null) clearInterval(this.membershipTimer) })
      // Webhooks run on a serving node, not in a CLI command that opens the store for a moment.
      if (this.config.webhooks.length > 0 && (this.network || opts.api != null || opts.webhooks === true)) await this.startWebhooks()
      if (this.network) await this.startNetwork(syncIndexes)
      // Only a serving node keeps the schedule; a CLI opening the store offline runs a feed on demand.
      if (this.network || opts.api != null) {
        await this.feeds.start()
        this.stopHooks.push(async () => { await this.feeds.stop() })
      }
      if (opts.api != null) {
        const api = await opts.api(this)
        this.apiAddress = api.address
        this.apiScheme = api.scheme ?? 'http'
        this.apiReloadTls = api.reloadTls
        this.stopHooks.push(api.close)
      }
      this.running = true
      this.startedAt = new Date()
      // Only a serving node advertises itself; a CLI opening the store offline leaves no trace.
      if (!this.network && opts.api == null) return
      await writeRuntime(this.dataDir, {
        pid: process.pid,
        api: this.apiAddress,
        ...(this.apiScheme === 'https' && this.config.apiTls != null ? { apiTls: { cert: this.config.apiTls.cert } } : {}),
        peerId: this.peerId,
        startedAt: this.startedAt.toISOString(),
        listen: this.listenAddrs()
      })
      this.stopHooks.push(async () => { await clearRuntime(this.dataDir) })
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  private async startWebhooks (): Promise<void> {
    const webhooks = new Webhooks({
      store: this.store,
      onStored: (fn) => this.ingest.onStored(fn),
      memberOf: (p) => this.exportMember(p),
      log: this.log.child({ ns: 'push:webhooks' })
    }, this.config.webhooks, this.dataDir)
    await webhooks.start()
    this.webhooks = webhooks
    this.stopHooks.push(async () => {
      await webhooks.stop()
      this.webhooks = null
    })
  }

  /** Each webhook's queue and deliveries (empty when none is configured or the node does not serve). */
  webhookStats (): WebhookStats[] {
    return this.webhooks?.stats() ?? []
  }

  private async startNetwork (syncIndexes?: LoadedSyncIndexes): Promise<void> {
    const cfg = this.config
    const peers = new PeerManager({ roster: this.roster, store: this.store, log: this.log.child({ ns: 'net:peers' }) }, {
      penaltyCooldownMs: cfg.limits.penaltyCooldownMs,
      redialMinMs: cfg.limits.redialMinMs,
      redialMaxMs: cfg.limits.redialMaxMs
    })
    this.peers = peers
    const libp2p = await createNodeLibp2p({
      identity: this.identity,
      transport: cfg.transport,
      listen: cfg.listen,
      announce: cfg.announce,
      psk: cfg.psk,
      admission: peers
    })
    this.libp2p = libp2p
    await libp2p.start()
    this.stopHooks.push(async () => { await libp2p.stop() })
    const edge = new ReplicationEdge({
      ingest: this.ingest,
      roster: this.roster,
      peers,
      policy: () => this.currentPolicy,
      audit: (e: AuditEntry) => { this.audit(e) },
      log: this.log.child({ ns: 'replication' })
    }, {
      recordsPerSec: cfg.limits.peerRecordsPerSec,
      bytesPerSec: cfg.limits.peerBytesPerSec,
      framesPerSec: cfg.limits.peerFramesPerSec,
      idsPerSec: cfg.limits.peerIdsPerSec,
      strikesPerPeer: cfg.limits.strikesPerPeer,
      strikeWindowMs: STRIKE_WINDOW_MS,
      admission: { capacity: cfg.limits.ingestInFlightRecords, chunk: ADMISSION_CHUNK },
      authorBudget: { recordsPerSec: cfg.limits.authorRecordsPerSec, burst: cfg.limits.authorBurstRecords }
    })
    const delay = this.linkDelay != null ? { linkDelay: this.linkDelay } : {}
    this.gossip = new Gossip({ registrar: libp2p, peers, ingest: this.ingest, store: this.store, roster: this.roster, edge, log: this.log.child({ ns: 'net:gossip' }) }, { ...cfg.gossip, queueRecords: cfg.limits.queueRecords, ...delay })
    await this.gossip.start()
    this.stopHooks.push(async () => { await this.gossip?.stop() })
    if (cfg.sync.enabled) {
      const sync = new SyncService({ registrar: libp2p, peers, ingest: this.ingest, store: this.store, roster: this.roster, edge, log: this.log.child({ ns: 'sync' }) }, { ...cfg.sync, ...delay, ...(syncIndexes != null ? { preloaded: syncIndexes } : {}) })
      this.sync = sync
      await sync.start()
      this.stopHooks.push(async () => { await sync.stop() })
    }
    if (this.membership.enabled) await this.startMembershipExchange(libp2p, peers, edge)
    await peers.start(libp2p)
    this.stopHooks.push(async () => { await peers.stop() })
  }

  /** Only with `federation.roots`: without a federation the roster is the local file, as before. */
  private async startMembershipExchange (libp2p: DragnetLibp2p, peers: PeerManager, edge: ReplicationEdge): Promise<void> {
    const cfg = this.config
    const exchange = new MembershipExchange({
      registrar: libp2p,
      peers,
      roster: this.roster,
      ids: () => this.membership.ids(),
      doc: (id) => { const d = this.membership.get(id); return d != null ? docToJson(d) : undefined },
      offer: async (doc, from) => {
        const v = await this.offerMembership(doc, from)
        return v.status === 'refused' ? { refused: v.refusal } : {}
      },
      guard: (p) => edge.guard(p),
      penalize: (p, reason, code) => { peers.penalize(p, reason, code) },
      log: this.log.child({ ns: 'net:membership' })
    }, { intervalMs: cfg.sync.intervalMs, ioTimeoutMs: cfg.gossip.ioTimeoutMs })
    this.membershipExchange = exchange
    await exchange.start()
    this.stopHooks.push(async () => { await exchange.stop() })
  }

  /** Stops in reverse start order: API, feeds, dialing, sync, gossip, libp2p, ingest; closes the store last. */
  async stop (): Promise<void> {
    this.running = false
    while (this.stopHooks.length > 0) {
      const hook = this.stopHooks.pop()!
      try {
        await hook()
      } catch (err: any) {
        this.log.warn({ err: err.message }, 'error while stopping')
      }
    }
    await this.store.close()
  }

  /** What gossip and sync moved, together (one stats shape). */
  replicationStats (): ReplicationStats {
    return sumStats(...[this.gossip?.stats(), this.sync?.stats()].filter((s): s is ReplicationStats => s != null))
  }

  listenAddrs (): string[] {
    return this.libp2p?.getMultiaddrs().map(m => m.toString()) ?? []
  }

  async publish (objects: unknown[], opts: PublishOptions): Promise<Verdict[]> {
    return await this.ingest.publish(objects, opts)
  }

  /** Replaces the policy from its file; a file that does not load leaves the old policy in force. */
  async reloadPolicy (): Promise<Policy> {
    if (this.config.policy == null) throw new DragnetError('DRAGNET_BAD_POLICY', 'no policy file is configured')
    const next = await loadPolicy(this.config.policy)
    this.currentPolicy = next
    // Records our old policy rejected may pass now: forget those rejections so sync offers them again.
    const cleared = this.sync?.indexes.clearRejected() ?? []
    await this.store.deleteKnown(cleared)
    this.log.info({ policy: this.config.policy, rejectionsCleared: cleared.length }, 'policy reloaded')
    return next
  }

  /**
   * Verifies a membership document (from `member publish`, or from peer `from`) and keeps it;
   * a new one changes the roster in force at once and is passed on to every connected member.
   * Audited either way: a refusal names its rule and reason.
   */
  async offerMembership (doc: unknown, from?: string): Promise<OfferVerdict> {
    const v = await this.membership.offer(doc)
    const base = { at: Date.now(), direction: from != null ? 'inbound' as const : 'local' as const, ...(from != null ? { peer: from, source: 'membership' } : { source: 'membership' }) }
    if (v.status === 'refused') {
      this.auditMembership({ ...base, verdict: 'reject', rule: v.refusal.rule, reason: v.refusal.reason, code: v.code })
      this.log.warn({ peer: from, rule: v.refusal.rule, reason: v.refusal.reason }, 'membership document refused')
      return v
    }
    if (v.status === 'duplicate') return v
    this.auditMembership({ ...base, verdict: 'accept', rule: `membership:${v.doc.kind}`, reason: describeDoc(v.doc) })
    this.membership.recompute()
    this.membershipExchange?.spread(from)
    return v
  }

  /** Picks up documents dropped into the membership directory and expiries; recomputes the roster in force. */
  async refreshMembership (force = false): Promise<void> {
    try {
      for (const bad of await this.membership.load(force)) {
        this.auditMembership({ at: Date.now(), direction: 'local', verdict: 'reject', rule: bad.refusal.rule, reason: `${bad.file}: ${bad.refusal.reason}`, source: 'membership', code: 'DRAGNET_BAD_CREDENTIAL' })
      }
      this.membership.recompute()
    } catch (err: any) {
      this.log.warn({ err: err.message }, 'could not refresh the membership documents')
    }
  }

  /**
   * SIGHUP: the API's certificate and key read again (`tls`: the reloaded config's `api.tls`),
   * for new connections. Nothing to do without an HTTPS API; a pair that does not load is
   * refused (DRAGNET_BAD_CONFIG) and the current one stays.
   */
  async reloadTls (tls?: ApiTls | null): Promise<boolean> {
    if (this.apiScheme !== 'https' || this.apiReloadTls == null) return false
    await this.apiReloadTls(tls ?? undefined)
    this.log.info({ cert: (tls ?? this.config.apiTls)?.cert }, 'API certificate reloaded')
    return true
  }

  /** SIGHUP: a new local roster (file or config) and `roster.deny`, applied without a restart. */
  reloadRoster (local: Member[], deny: string[]): RosterChange {
    this.membership.setLocal({ members: local, deny })
    const change = this.membership.recompute()
    this.log.info({ added: change.added.length, removed: change.removed.length, changed: change.changed.length }, 'roster reloaded')
    return change
  }

  /**
   * Who an author is here, for `get`, `lookup` and exports: its member entry and standing
   * (`member`, `revoked`, `expired`, `denied`, `rotated` — a rotated key's records keep their
   * member, named by `successor`). Undefined for an author this node never knew.
   */
  authorMember (peerId: string): AuthorMember | undefined {
    const h = this.roster.handover(peerId)
    const successor = h != null ? this.roster.known(h.new) : undefined
    const k = this.roster.known(peerId)
    const m = successor ?? k
    if (m == null) return undefined
    // A rotated key's records stand or fall with the member it was handed over to.
    const status = h != null && successor != null ? (successor.status === 'member' ? 'rotated' : successor.status) : (k?.status ?? m.status)
    const reason = status === 'member' ? undefined : (status === 'rotated' ? `key handed over to ${h!.new} at ${new Date(h!.at).toISOString()}` : (successor ?? k)?.reason)
    const since = status === 'member' ? undefined : (status === 'rotated' ? new Date(h!.at).toISOString() : (successor ?? k)?.since)
    return { name: m.name, country: m.country, role: m.role, status, ...(reason != null ? { reason } : {}), ...(since != null ? { since } : {}), ...(h != null ? { successor: h.new } : {}) }
  }

  /**
   * An author as exports, TAXII, the stream and webhooks name it (its STIX identity): the member
   * entry, and its standing when it is no longer a member in force. The reason (a revocation's
   * words) is for the operator only (`withReason`): readers learn the status and since when.
   */
  exportMember (peerId: string, withReason = false): MemberInfo | undefined {
    const a = this.authorMember(peerId)
    if (a == null) return undefined
    if (a.status === 'member') return { name: a.name, country: a.country, role: a.role as Role }
    const standing = { status: a.status, ...(a.since != null ? { since: a.since } : {}), ...(a.successor != null ? { successor: a.successor } : {}), ...(withReason && a.reason != null ? { reason: a.reason } : {}) }
    return { name: a.name, country: a.country, role: a.role as Role, standing }
  }

  /**
   * A record's JSON with its author's standing beside it (`author_member`) when the author is
   * not simply a member in force: revoked, expired, denied, or a rotated key (then naming the
   * member it belongs to). Records of members in force read as before.
   */
  withAuthor<T extends { author?: unknown }> (rec: T): T & { author_member?: AuthorMember } {
    const a = typeof rec.author === 'string' ? this.authorMember(rec.author) : undefined
    return a != null && a.status !== 'member' ? { ...rec, author_member: a } : rec
  }

  /** Every member this node has heard of, with its standing and whether it is connected now. */
  members (): Array<KnownMember & { connected: boolean }> {
    const connected = new Set(this.peers?.connectedPeers() ?? [])
    return this.roster.knownAll().map(k => ({ ...k, connected: connected.has(k.peerId) }))
  }

  /** Membership decisions are few and each matters: never folded into an earlier entry. */
  private auditMembership (entry: AuditEntry): void {
    this.pendingAudit.push(entry)
  }

  private rosterChanged (c: RosterChange): void {
    this.peers?.applyRoster(c)
    // Opening the node replays the documents it holds: nothing new to record.
    if (!this.opened) return
    const at = Date.now()
    for (const m of c.removed) this.auditMembership({ at, direction: 'local', verdict: 'reject', rule: `roster:${m.status}`, reason: `${m.name || m.peerId} left the roster in force: ${m.reason ?? m.status}; connections dropped, new records refused`, peer: m.peerId, source: 'membership' })
    for (const m of c.added) this.auditMembership({ at, direction: 'local', verdict: 'accept', rule: 'roster:member', reason: `${m.name || m.peerId} (${m.country}, ${m.role}) joined the roster in force`, peer: m.peerId, source: 'membership' })
  }

  /** Outbound decisions are audited in batches; the same (record, peer, rule) once per window. */
  audit (entry: AuditEntry): void {
    if (entry.verdict === 'withhold') this.decisions.withheld.set(entry.rule, (this.decisions.withheld.get(entry.rule) ?? 0) + 1)
    const k = `${entry.record ?? ''}|${entry.peer ?? ''}|${entry.rule}|${entry.direction}`
    if (this.auditedRecently.has(k)) return
    this.auditedRecently.add(k)
    this.pendingAudit.push(entry)
    if (this.pendingAudit.length >= 1000) void this.flushAudit()
  }

  private async flushAudit (): Promise<void> {
    if (this.pendingAudit.length === 0 || !this.store.isOpen) return
    const entries = this.pendingAudit.splice(0)
    try {
      await this.store.writeDecisions(entries)
    } catch (err: any) {
      this.log.warn({ err: err.message }, 'could not write audit entries')
    }
  }

  private pruning = false

  /** Drops the oldest audit entries beyond audit.maxEntries. */
  async pruneAudit (): Promise<number> {
    if (this.pruning || !this.store.isOpen) return 0
    this.pruning = true
    try {
      return await this.store.pruneAudit(this.config.audit.maxEntries)
    } catch (err: any) {
      this.log.warn({ err: err.message }, 'could not prune the audit log')
      return 0
    } finally {
      this.pruning = false
    }
  }

  /**
   * "Why did peer X not get record R?" when no decision was logged for the pair (the record was
   * published before X connected, say): what this node's outbound policy, TLP floor included,
   * decides for them now. Undefined when the record or the member is unknown here.
   */
  async decideNow (recordId: string, peerId: string): Promise<{ verdict: string, rule: string, reason: string } | undefined> {
    const rec = await this.store.getRecord(recordId)
    if (rec == null || this.roster.get(peerId) == null) return undefined
    const d = this.outboundTo(peerId)(rec.record)
    return { verdict: d.verdict, rule: d.rule, reason: d.reason }
  }

  /**
   * The outbound decision for one roster member, as gossip and sync make it before a record
   * crosses an edge (TLP floor first, then the policy in force): what a records file written
   * `--for` that member may carry.
   */
  outboundTo (peerId: string, now = Date.now()): (signed: SignedRecord) => Decision {
    const peer = this.roster.get(peerId)
    if (peer == null || peerId === this.peerId) throw new DragnetError('DRAGNET_BAD_RECIPIENT', `${peerId} is not a member on this node's roster`)
    const self = this.roster.self
    return (signed) => this.currentPolicy.outbound(this.ingest.subjectOf(signed), { self, peer, author: this.roster.entryOf(signed.record.author, signed.record.ts), now, peerOnRoster: true })
  }

  async status (): Promise<NodeStatus> {
    const counts = this.store.counts()
    const equivocations = await this.store.equivocations()
    return {
      peerId: this.peerId,
      name: this.roster.self.name,
      country: this.roster.self.country,
      role: this.roster.self.role,
      records: counts.records,
      byTlp: counts.byTlp,
      equivocations: equivocations.map(e => ({ author: e.author, seq: e.seq, ids: e.ids, refused: e.refused })),
      flaggedAuthors: [...new Set(equivocations.map(e => e.author))],
      peers: { roster: this.roster.peers().length, connected: this.peers?.connectedPeers().length ?? 0 },
      listen: this.listenAddrs(),
      ...(this.apiAddress != null ? { api: this.apiAddress, apiScheme: this.apiScheme } : {}),
      ...(this.webhooks != null ? { webhooks: this.webhookStats() } : {}),
      policy: this.currentPolicy.name,
      running: this.running,
      ...(this.startedAt != null ? { startedAt: this.startedAt.toISOString() } : {}),
      dataDir: this.dataDir
    }
  }
}
