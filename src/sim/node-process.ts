import '../polyfill.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../config/config.js'
import { initDataDir } from '../identity/index.js'
import { silentLogger } from '../log.js'
import { DragnetNode } from '../node.js'
import { nodeStats, outcomes } from './cluster.js'
import { Rng } from './random.js'

/*
 * One simulated member in its own OS process (`dragnet simulate --transport tcp`), driven by the
 * simulator over the IPC channel: { cmd, req, ... } in, { req, result | error } out, and a
 * { event: 'stored' } message for every record the member stores.
 */

interface Init {
  dataDir: string
  seed: string
  name: string
  country: string
  role: 'bureau' | 'contributor' | 'observer'
  overrides: Record<string, unknown>
  link?: { latencyMs: number, jitterMs: number }
}

let node: DragnetNode | null = null
let api: { close: () => Promise<void> } | null = null

function send (msg: unknown): void {
  process.send?.(msg)
}

async function handle (msg: any): Promise<unknown> {
  switch (msg.cmd) {
    case 'start': {
      const init = msg.init as Init
      if (!existsSync(join(init.dataDir, 'node.key'))) {
        await initDataDir(init.dataDir, { name: init.name, country: init.country, role: init.role, seed: Buffer.from(init.seed, 'hex'), force: true })
      }
      const config = await loadConfig({ overrides: init.overrides })
      const rng = new Rng(`links:${init.seed}`)
      const link = init.link
      node = await DragnetNode.open({
        dataDir: init.dataDir,
        config,
        log: silentLogger(),
        ...(link != null && (link.latencyMs > 0 || link.jitterMs > 0) ? { linkDelay: () => Math.max(0, link.latencyMs + (rng.next() * 2 - 1) * link.jitterMs) } : {})
      })
      node.ingest.onStored((v) => { send({ event: 'stored', id: v.id, from: v.from, at: performance.timeOrigin + performance.now() }) })
      await node.start()
      return { peerId: node.peerId, addrs: node.listenAddrs() }
    }
    case 'publish': return outcomes(await node!.publish(msg.objects, msg.opts))
    case 'learnAddrs': node!.peers?.learnAddrs(msg.peerId, msg.addrs); return null
    case 'forgetAddrs': node!.peers?.forgetAddrs(msg.peerId); return null
    case 'block': node!.peers?.block(msg.peerId); return null
    case 'unblock': node!.peers?.unblock(msg.peerId); return null
    case 'disconnect': await node!.peers?.disconnect(msg.peerId); return null
    case 'connected': return node!.peers?.connectedPeers() ?? []
    case 'stats': return await nodeStats(node!)
    case 'peer': return node!.peers?.state(msg.peerId) ?? null
    case 'api': {
      // The HTTP API on loopback (benchmarks probe /health while the member is under load).
      const { startApi } = await import('../api/server.js')
      const started = await startApi(node!, '127.0.0.1:0', { token: 'x'.repeat(32) })
      api = started
      return started.address
    }
    case 'stop':
      await api?.close()
      await node?.stop()
      node = null
      setImmediate(() => process.exit(0))
      return null
    default: throw new Error(`unknown command ${String(msg.cmd)}`)
  }
}

process.on('message', (msg: any) => {
  handle(msg).then(
    (result) => { send({ req: msg.req, result }) },
    (err: Error) => { send({ req: msg.req, error: err.message }) }
  )
})
process.on('disconnect', () => { void node?.stop().finally(() => process.exit(0)) })
send({ event: 'ready' })
