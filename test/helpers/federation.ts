import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir, type Role } from '../../src/identity/index.js'
import { createLogger, silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import type { Policy } from '../../src/policy/index.js'
import { NodeIdentity } from '../../src/identity/index.js'

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
