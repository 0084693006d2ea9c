import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir, type Role } from '../../src/identity/index.js'
import { createLogger, silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import type { Policy } from '../../src/policy/index.js'
import { NodeIdentity } from '../../src/identity/index.js'
import type { SyncSummary } from '../../src/net/peers.js'
import { tempDir } from './tmp.js'

export interface MemberSpec {
  name: string
  country?: string
  role?: Role
  policy?: Policy
  /** config overrides for this node */
  config?: Record<string, unknown>
}

export interface Federation {
  nodes: DragnetNode[]
  byName: Map<string, DragnetNode>
  stop: () => Promise<void>
}

export function seedFor (name: string): Uint8Array {
  return createHash('sha256').update(`dragnet-test:${name}`).digest()
}

export async function identityFor (name: string): Promise<NodeIdentity> {
  return await NodeIdentity.fromSeed(seedFor(name))
}

/**
 * Starts real nodes (LevelDB in `dir`, libp2p over TCP on 127.0.0.1 or the memory transport).
 * Every member trusts every other (all are on each roster) but only `edges` know each other's
 * addresses, so the topology is exactly the edges given.
 */
export async function startFederation (dir: string, members: MemberSpec[], edges: Array<[number, number]>, opts: { transport?: 'tcp' | 'memory', config?: Record<string, unknown>, extraRoster?: Array<{ peerId: string, name: string, country?: string, role?: Role }> } = {}): Promise<Federation> {
  const transport = opts.transport ?? 'tcp'
  const ids = await Promise.all(members.map(async m => await identityFor(m.name)))
  const roster = members.map((m, i) => ({ peerId: ids[i].peerId, name: m.name, country: m.country ?? 'DE', role: m.role ?? 'bureau', addrs: [] as string[] }))
  for (const e of opts.extraRoster ?? []) roster.push({ peerId: e.peerId, name: e.name, country: e.country ?? 'DE', role: e.role ?? 'bureau', addrs: [] })
  const nodes: DragnetNode[] = []
  try {
    for (let i = 0; i < members.length; i++) {
      const m = members[i]
      const dataDir = join(dir, m.name)
      await initDataDir(dataDir, { name: m.name, country: m.country ?? 'DE', role: m.role ?? 'bureau', seed: seedFor(m.name), force: true })
      const config = await loadConfig({
        overrides: {
          name: m.name,
          country: m.country ?? 'DE',
          role: m.role ?? 'bureau',
          transport,
          listen: [transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/${m.name}-${process.pid}-${Date.now()}`],
          roster: roster.filter(r => r.peerId !== ids[i].peerId),
          ingest: { verifyWorkers: 0 },
          limits: { redialMinMs: 200, redialMaxMs: 2000, penaltyCooldownMs: 60_000 },
          gossip: { treeRepairMs: 150, lazyFlushMs: 10 },
          ...(opts.config ?? {}),
          ...(m.config ?? {})
        }
      })
      const node = await DragnetNode.open({ dataDir, config, log: process.env.DRAGNET_LOG_LEVEL != null ? createLogger({ name: m.name }) : silentLogger(), network: true, policy: m.policy })
      await node.start()
      nodes.push(node)
    }
    for (const [a, b] of edges) nodes[a].peers!.learnAddrs(nodes[b].peerId, nodes[b].listenAddrs())
  } catch (err) {
    await Promise.all(nodes.map(async n => await n.stop()))
    throw err
  }
  return {
    nodes,
    byName: new Map(members.map((m, i) => [m.name, nodes[i]])),
    stop: async () => { await Promise.all(nodes.map(async n => await n.stop().catch(() => {}))) }
  }
}

/** Polls until `pred` holds or the deadline passes (then throws with `what`). */
export async function waitFor (pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await pred()) return
    await new Promise(resolve => setTimeout(resolve, stepMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
}

export async function waitConnected (nodes: DragnetNode[], edges: Array<[number, number]>, timeoutMs = 20_000): Promise<void> {
  await waitFor(() => edges.every(([a, b]) => nodes[a].peers!.state(nodes[b].peerId)?.connected === true && nodes[b].peers!.state(nodes[a].peerId)?.connected === true), 'all edges connected', timeoutMs)
}

/**
 * What every federation suite sets up per test: a temp dir, and after the test the federation
 * and any wire-level members it used are stopped (newest first) and the dir removed. Create it
 * in the `describe` body: it registers that suite's `beforeEach` and `afterEach`.
 */
export class FederationFixture {
  private tmp: { dir: string, cleanup: () => Promise<void> } | undefined
  private readonly running: Array<{ stop: () => Promise<void>, quiet: boolean }> = []

  constructor () {
    beforeEach(async () => { this.tmp = await tempDir() })
    afterEach(async () => { await this.tearDown() })
  }

  get dir (): string {
    if (this.tmp == null) throw new Error('FederationFixture.dir is only there inside a test')
    return this.tmp.dir
  }

  /** `startFederation` in this test's dir, stopped after the test. */
  async start (members: MemberSpec[], edges: Array<[number, number]>, opts?: Parameters<typeof startFederation>[3]): Promise<Federation> {
    const fed = await startFederation(this.dir, members, edges, opts)
    this.running.push({ stop: fed.stop, quiet: false })
    return fed
  }

  /**
   * Anything else with a `stop` the test started (a wire-level member), stopped after the test;
   * a failure to stop it is ignored, as the node under test may have cut it off already.
   */
  track<T extends { stop: () => Promise<void> }> (part: T): T {
    this.running.push({ stop: async () => { await part.stop() }, quiet: true })
    return part
  }

  private async tearDown (): Promise<void> {
    let failure: unknown
    for (const part of this.running.splice(0).reverse()) {
      await part.stop().catch((err: unknown) => { if (!part.quiet) failure ??= err })
    }
    await this.tmp?.cleanup()
    this.tmp = undefined
    if (failure != null) throw failure
  }
}

/**
 * A sync session with `peerId` now. The one every connect starts, or one the peer opened, may
 * still be running (one session per pair: DRAGNET_CONFLICT): it is waited out.
 */
export async function syncNow (node: DragnetNode, peerId: string, timeoutMs = 30_000): Promise<SyncSummary> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await node.sync!.syncNow(peerId)
    } catch (err: any) {
      if (err?.code !== 'DRAGNET_CONFLICT' || Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}
