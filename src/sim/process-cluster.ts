import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { Role } from '../identity/index.js'
import type { PublishOptions } from '../ingest/index.js'
import type { PeerState } from '../net/peers.js'
import type { NodeSimStats, PublishOutcome, SimCluster } from './cluster.js'
import { seedFor } from './federation.js'
import type { Edge } from './topology.js'
import { NodeIdentity } from '../identity/index.js'

const CHILD = new URL(import.meta.url.endsWith('.ts') ? './node-process.ts' : './node-process.js', import.meta.url)

export interface ProcessClusterInit {
  dir: string
  members: Array<{ name: string, country: string, role: Role, policy: string | null }>
  edges: Edge[]
  seed: string
  config?: Record<string, unknown>
  link?: { latencyMs: number, jitterMs: number }
  extraRoster?: Array<{ peerId: string, name: string, country: string, role: Role }>
  onStored?: (index: number, id: string, from: string | undefined, at: number) => void
}

interface Child {
  proc: ChildProcess
  pending: Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>
  next: number
}

/**
 * One OS process per member, each a real node over TCP on 127.0.0.1 with its own LevelDB, driven
 * over IPC. Costs a Node process per member (~100 MB each), so it suits tens of members; the
 * in-process federation scales further.
 */
export class ProcessCluster implements SimCluster {
  private readonly init: ProcessClusterInit
  private readonly children: Array<Child | null> = []
  private readonly ids: string[] = []
  private readonly seeds: string[] = []
  private readonly listen: string[][] = []
  private cut = new Set<string>()

  constructor (init: ProcessClusterInit) {
    this.init = init
  }

  get size (): number {
    return this.init.members.length
  }

  peerId (i: number): string { return this.ids[i] }
  indexOf (peerId: string): number { return this.ids.indexOf(peerId) }
  isUp (i: number): boolean { return this.children[i] != null }
  addrs (i: number): string[] { return this.listen[i] ?? [] }

  private async call (i: number, cmd: string, args: Record<string, unknown> = {}): Promise<any> {
    const c = this.children[i]
    if (c == null) throw new Error(`member ${i} is not running`)
    const req = c.next++
    return await new Promise((resolve, reject) => {
      c.pending.set(req, { resolve, reject })
      c.proc.send({ cmd, req, ...args })
    })
  }

  private roster (): Array<{ peerId: string, name: string, country: string, role: Role, addrs: string[] }> {
    const out = this.init.members.map((m, i) => ({ peerId: this.ids[i], name: m.name, country: m.country, role: m.role, addrs: [] as string[] }))
    for (const e of this.init.extraRoster ?? []) out.push({ ...e, addrs: [] })
    return out
  }

  async start (opts: { concurrency?: number, onProgress?: (started: number) => void, skip?: ReadonlySet<number> } = {}): Promise<void> {
    for (const m of this.init.members) {
      const seed = seedFor(this.init.seed, m.name)
      this.seeds.push(Buffer.from(seed).toString('hex'))
      this.ids.push((await NodeIdentity.fromSeed(seed)).peerId)
    }
    const todo = [...this.init.members.keys()].filter(i => opts.skip?.has(i) !== true)
    let started = 0
    const concurrency = opts.concurrency ?? 4
    for (let k = 0; k < todo.length; k += concurrency) {
      await Promise.all(todo.slice(k, k + concurrency).map(async (i) => {
        await this.spawn(i)
        opts.onProgress?.(++started)
      }))
    }
    await this.wire()
  }

  private async spawn (i: number): Promise<void> {
    const m = this.init.members[i]
    const proc = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const child: Child = { proc, pending: new Map(), next: 1 }
    await new Promise<void>((resolve, reject) => {
      proc.on('message', (msg: any) => {
        if (msg.event === 'ready') { resolve(); return }
        if (msg.event === 'stored') { this.init.onStored?.(i, msg.id, msg.from, msg.at); return }
        const p = child.pending.get(msg.req)
        if (p == null) return
        child.pending.delete(msg.req)
        if (msg.error != null) p.reject(new Error(msg.error))
        else p.resolve(msg.result)
      })
      proc.once('exit', (code) => {
        for (const p of child.pending.values()) p.reject(new Error(`member ${m.name} exited (${code})`))
        child.pending.clear()
        reject(new Error(`member ${m.name} exited (${code}) before it was ready`))
      })
    })
    this.children[i] = child
    const info = await this.call(i, 'start', {
      init: {
        dataDir: join(this.init.dir, m.name),
        seed: this.seeds[i],
        name: m.name,
        country: m.country,
        role: m.role,
        link: this.init.link,
        overrides: {
          name: m.name,
          country: m.country,
          role: m.role,
          transport: 'tcp',
          listen: ['/ip4/127.0.0.1/tcp/0'],
          api: false,
          roster: this.roster().filter(r => r.peerId !== this.ids[i]),
          policy: m.policy,
          ingest: { verifyWorkers: 0 },
          ...(this.init.config ?? {})
        }
      }
    }) as { peerId: string, addrs: string[] }
    this.listen[i] = info.addrs
  }

  private async wire (): Promise<void> {
    for (const [a, b] of this.init.edges) {
      if (this.cut.has(`${a}-${b}`) || !this.isUp(a) || !this.isUp(b)) continue
      await this.call(a, 'learnAddrs', { peerId: this.ids[b], addrs: this.listen[b] })
    }
  }

  async waitConnected (timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const connected = await Promise.all(this.init.members.map(async (_m, i) => this.isUp(i) ? new Set(await this.call(i, 'connected') as string[]) : new Set<string>()))
      const missing = this.init.edges.filter(([a, b]) => !this.cut.has(`${a}-${b}`) && this.isUp(a) && this.isUp(b) && !connected[a].has(this.ids[b]))
      if (missing.length === 0) return
      if (Date.now() > deadline) throw new Error(`${missing.length} edges still unconnected after ${timeoutMs} ms`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  async partition (groupOf: (i: number) => number): Promise<void> {
    for (const [a, b] of this.init.edges) {
      if (groupOf(a) === groupOf(b)) continue
      this.cut.add(`${a}-${b}`)
      if (!this.isUp(a) || !this.isUp(b)) continue
      for (const [x, y] of [[a, b], [b, a]]) {
        await this.call(x, 'forgetAddrs', { peerId: this.ids[y] })
        await this.call(x, 'block', { peerId: this.ids[y] })
      }
      await this.call(a, 'disconnect', { peerId: this.ids[b] })
    }
  }

  async heal (): Promise<void> {
    for (const k of this.cut) {
      const [a, b] = k.split('-').map(Number)
      if (this.isUp(a)) await this.call(a, 'unblock', { peerId: this.ids[b] })
      if (this.isUp(b)) await this.call(b, 'unblock', { peerId: this.ids[a] })
    }
    this.cut = new Set()
    await this.wire()
  }

  async stopNode (i: number): Promise<void> {
    const c = this.children[i]
    if (c == null) return
    const exited = new Promise(resolve => c.proc.once('exit', resolve))
    await this.call(i, 'stop').catch(() => {})
    await exited
    this.children[i] = null
  }

  async restartNode (i: number): Promise<void> {
    await this.spawn(i)
    for (const [a, b] of this.init.edges) {
      if (a !== i && b !== i) continue
      const other = a === i ? b : a
      if (!this.isUp(other)) continue
      await this.call(other, 'learnAddrs', { peerId: this.ids[i], addrs: this.listen[i] })
      await this.call(i, 'learnAddrs', { peerId: this.ids[other], addrs: this.listen[other] })
    }
  }

  async publish (i: number, objects: unknown[], opts: PublishOptions): Promise<PublishOutcome[]> {
    return await this.call(i, 'publish', { objects, opts })
  }

  async stats (i: number): Promise<NodeSimStats> {
    return await this.call(i, 'stats')
  }

  /** What member `i` knows of a peer (counters, penalties), as `dragnet peers` shows it. */
  async peerState (i: number, peerId: string): Promise<PeerState | null> {
    return await this.call(i, 'peer', { peerId })
  }

  /** Starts member `i`'s HTTP API on 127.0.0.1 (a free port); returns host:port. */
  async startApi (i: number): Promise<string> {
    return await this.call(i, 'api')
  }

  async stop (): Promise<void> {
    await Promise.all(this.children.map(async (_c, i) => await this.stopNode(i)))
  }
}
