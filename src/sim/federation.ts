import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { loadConfig, type NodeConfig } from '../config/config.js'
import { NodeIdentity, initDataDir, rotateKey, type Role } from '../identity/index.js'
import { silentLogger, type Logger } from '../log.js'
import { DragnetNode } from '../node.js'
import type { PublishOptions } from '../ingest/index.js'
import type { Policy } from '../policy/index.js'
import { nodeStats, outcomes, type NodeSimStats, type PublishOutcome, type SimCluster } from './cluster.js'
import { Rng } from './random.js'
import type { Edge } from './topology.js'

export interface SimMember {
  name: string
  country: string
  role: Role
  /** a policy object, or a policy file path (loaded by the node) */
  policy?: Policy | string
  /** per-node config overrides */
  config?: Record<string, unknown>
}

export interface LinkShape {
  latencyMs: number
  jitterMs: number
}

export interface SimFederationInit {
  dir: string
  members: SimMember[]
  edges: Edge[]
  transport: 'tcp' | 'memory'
  seed: number | string
  /** config overrides for every node */
  config?: Record<string, unknown>
  /** per-link latency and jitter (memory transport or TCP alike; applied when a frame arrives) */
  link?: LinkShape
  /** called for every node after it is opened and before it starts (also on restarts): attach listeners here */
  onNode?: (index: number, node: DragnetNode) => void
  /** every record a member stores, with the absolute time (performance.timeOrigin + now) */
  onStored?: (index: number, id: string, from: string | undefined, at: number) => void
  /** members trusted by everyone but not run here (attackers, spies played by tests) */
  extraRoster?: Array<{ peerId: string, name: string, country: string, role: Role }>
  /**
   * A federation defined by roots: members are admitted by credentials, not by a roster. Each
   * node is handed `documents()` (what the roots issued so far) when it starts.
   */
  federation?: { roots: number[], threshold: number, documents: () => unknown[] }
  log?: Logger
}

export function seedFor (runSeed: number | string, name: string): Uint8Array {
  return createHash('sha256').update(`dragnet-sim:${String(runSeed)}:${name}`).digest()
}

/**
 * N real dragnet nodes in this process: each with its own identity (seeded, so reproducible),
 * data dir and LevelDB, policy, and libp2p node over TCP on 127.0.0.1 or the memory transport.
 * Every member trusts every other; only the edges know each other's addresses, so the overlay
 * is exactly the topology given.
 */
export class SimFederation implements SimCluster {
  readonly init: SimFederationInit
  readonly nodes: Array<DragnetNode | null> = []
  readonly identities: NodeIdentity[] = []
  readonly configs: NodeConfig[] = []
  private readonly listenAddrs: string[][] = []
  private readonly rng: Rng
  private cut = new Set<string>()

  constructor (init: SimFederationInit) {
    this.init = init
    this.rng = new Rng(`links:${String(init.seed)}`)
  }

  get size (): number {
    return this.init.members.length
  }

  node (i: number): DragnetNode {
    const n = this.nodes[i]
    if (n == null) throw new Error(`node ${i} (${this.init.members[i].name}) is not running`)
    return n
  }

  running (): DragnetNode[] {
    return this.nodes.filter((n): n is DragnetNode => n != null)
  }

  indexOf (peerId: string): number {
    return this.identities.findIndex(id => id.peerId === peerId)
  }

  private roster (): Array<{ peerId: string, name: string, country: string, role: Role, addrs: string[] }> {
    // In a federation defined by roots, only outside actors are local entries; members hold credentials.
    if (this.init.federation != null) return (this.init.extraRoster ?? []).map(e => ({ ...e, addrs: [] }))
    const out = this.init.members.map((m, i) => ({ peerId: this.identities[i].peerId, name: m.name, country: m.country, role: m.role, addrs: [] as string[] }))
    for (const e of this.init.extraRoster ?? []) out.push({ ...e, addrs: [] })
    return out
  }

  /** Creates identities and data dirs and starts every node (`concurrency` at a time), then wires the edges. */
  async start (opts: { concurrency?: number, onProgress?: (started: number) => void, skip?: ReadonlySet<number> } = {}): Promise<void> {
    const { members } = this.init
    for (let i = 0; i < members.length; i++) this.identities.push(await NodeIdentity.fromSeed(seedFor(this.init.seed, members[i].name)))
    const roster = this.roster()
    const concurrency = opts.concurrency ?? 8
    const todo = [...members.keys()].filter(i => opts.skip?.has(i) !== true)
    let started = 0
    for (let i = 0; i < todo.length; i += concurrency) {
      await Promise.all(todo.slice(i, i + concurrency).map(async (idx) => {
        await this.startNode(idx, roster)
        opts.onProgress?.(++started)
      }))
    }
    this.wire()
  }

  private linkDelay (): ((peerId: string) => number) | undefined {
    const link = this.init.link
    if (link == null || (link.latencyMs <= 0 && link.jitterMs <= 0)) return undefined
    return () => Math.max(0, link.latencyMs + (this.rng.next() * 2 - 1) * link.jitterMs)
  }

  private async startNode (i: number, roster = this.roster()): Promise<DragnetNode> {
    const m = this.init.members[i]
    const dataDir = join(this.init.dir, m.name)
    const transport = this.init.transport
    if (this.configs[i] == null) {
      await initDataDir(dataDir, { name: m.name, country: m.country, role: m.role, seed: seedFor(this.init.seed, m.name), force: true })
      this.configs[i] = await loadConfig({
        overrides: {
          name: m.name,
          country: m.country,
          role: m.role,
          transport,
          listen: [transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/dragnet-${process.pid}-${String(this.init.seed)}-${m.name}`],
          roster: roster.filter(r => r.peerId !== this.identities[i].peerId),
          ...(this.init.federation != null ? { federation: { roots: this.init.federation.roots.map(r => this.identities[r].peerId), threshold: this.init.federation.threshold } } : {}),
          policy: typeof m.policy === 'string' ? m.policy : null,
          ingest: { verifyWorkers: 0 },
          limits: { redialMinMs: 250, redialMaxMs: 5000 },
          ...(this.init.config ?? {}),
          ...(m.config ?? {})
        }
      })
    }
    const node = await DragnetNode.open({
      dataDir,
      config: this.configs[i],
      log: this.init.log ?? silentLogger(),
      policy: typeof m.policy === 'object' ? m.policy : undefined,
      linkDelay: this.linkDelay()
    })
    for (const d of this.init.federation?.documents() ?? []) await node.offerMembership(d)
    this.init.onNode?.(i, node)
    const onStored = this.init.onStored
    if (onStored != null) node.ingest.onStored((v) => { onStored(i, v.id, v.from, performance.timeOrigin + performance.now()) })
    await node.start()
    this.nodes[i] = node
    this.listenAddrs[i] = node.listenAddrs()
    return node
  }

  /** Tells each end of every (uncut) edge the other's addresses; the peer managers dial. */
  wire (): void {
    for (const [a, b] of this.init.edges) {
      if (this.cut.has(`${a}-${b}`)) continue
      const na = this.nodes[a]
      const nb = this.nodes[b]
      if (na == null || nb == null) continue
      // Only the lower index dials, so each edge is one connection.
      na.peers?.learnAddrs(nb.peerId, this.listenAddrs[b])
    }
  }

  /** Whether every live, uncut edge is connected. */
  connected (): boolean {
    return this.init.edges.every(([a, b]) => {
      if (this.cut.has(`${a}-${b}`)) return true
      const na = this.nodes[a]
      const nb = this.nodes[b]
      if (na == null || nb == null) return true
      return na.peers?.state(nb.peerId)?.connected === true
    })
  }

  async waitConnected (timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.connected()) {
      if (Date.now() > deadline) {
        const missing = this.init.edges.filter(([a, b]) => !this.cut.has(`${a}-${b}`) && this.nodes[a] != null && this.nodes[b] != null && this.nodes[a]!.peers?.state(this.nodes[b]!.peerId)?.connected !== true)
        throw new Error(`${missing.length} edges still unconnected after ${timeoutMs} ms, e.g. ${missing.slice(0, 3).map(e => e.join('—')).join(', ')}`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  /**
   * Splits the federation: edges between different groups are cut (addresses forgotten and
   * connections closed on both sides), as a network partition would.
   */
  async partition (groupOf: (i: number) => number): Promise<void> {
    for (const [a, b] of this.init.edges) {
      if (groupOf(a) === groupOf(b)) continue
      this.cut.add(`${a}-${b}`)
      const na = this.nodes[a]
      const nb = this.nodes[b]
      if (na != null && nb != null) {
        na.peers?.forgetAddrs(nb.peerId)
        nb.peers?.forgetAddrs(na.peerId)
        na.peers?.block(nb.peerId)
        nb.peers?.block(na.peerId)
        await na.peers?.disconnect(nb.peerId)
      }
    }
  }

  async heal (): Promise<void> {
    for (const k of this.cut) {
      const [a, b] = k.split('-').map(Number)
      this.nodes[a]?.peers?.unblock(this.identities[b].peerId)
      this.nodes[b]?.peers?.unblock(this.identities[a].peerId)
    }
    this.cut = new Set()
    this.wire()
  }

  /** Stops one node (churn); its data dir stays. */
  async stopNode (i: number): Promise<void> {
    const n = this.nodes[i]
    this.nodes[i] = null
    await n?.stop()
  }

  /** Restarts a stopped node on its data dir, with the same identity, and rewires its edges. */
  peerId (i: number): string {
    return this.identities[i].peerId
  }

  isUp (i: number): boolean {
    return this.nodes[i] != null
  }

  addrs (i: number): string[] {
    return this.listenAddrs[i] ?? []
  }

  async publish (i: number, objects: unknown[], opts: PublishOptions): Promise<PublishOutcome[]> {
    return outcomes(await this.node(i).publish(objects, opts))
  }

  async stats (i: number): Promise<NodeSimStats> {
    return await nodeStats(this.node(i))
  }

  async restartNode (i: number): Promise<void> {
    await this.restartNodeInProcess(i)
  }

  async restartNodeInProcess (i: number): Promise<DragnetNode> {
    const node = await this.startNode(i)
    // Neighbours learn its new addresses (a TCP restart gets a new port).
    for (const [a, b] of this.init.edges) {
      if (a !== i && b !== i) continue
      const other = a === i ? b : a
      this.nodes[other]?.peers?.learnAddrs(node.peerId, this.listenAddrs[i])
      node.peers?.learnAddrs(this.identities[other].peerId, this.listenAddrs[other] ?? [])
    }
    return node
  }

  /** Rotates a stopped member's key (`dragnet rotate-key`): it restarts under `next`. */
  async rotateKey (i: number, next: NodeIdentity): Promise<{ old: NodeIdentity }> {
    if (this.nodes[i] != null) throw new Error(`stop ${this.init.members[i].name} before rotating its key`)
    const { old } = await rotateKey(join(this.init.dir, this.init.members[i].name), next)
    this.identities[i] = next
    return { old }
  }

  /** Hands member `i` a record as if member `from` relayed it; the verdict says whether it was kept. */
  async relay (i: number, bytes: Uint8Array, from: number): Promise<{ status: string, code?: string }> {
    const [v] = await this.node(i).ingest.receive([{ bytes, from: this.peerId(from), source: 'gossip' }])
    return { status: v.status, ...(v.status === 'rejected' ? { code: v.code } : {}) }
  }

  async stop (): Promise<void> {
    await Promise.all(this.nodes.map(async n => await n?.stop().catch(() => {})))
    this.nodes.fill(null)
  }
}
