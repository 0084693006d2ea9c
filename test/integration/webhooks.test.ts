import assert from 'node:assert/strict'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { memberIdentityId } from '../../src/api/provenance.js'
import { buildApi } from '../../src/api/server.js'
import { loadConfig } from '../../src/config/config.js'
import { isDragnetError } from '../../src/errors.js'
import { initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import type { PushEvent } from '../../src/push/events.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { TLP2_MARKING_IDS } from '../../src/stix/index.js'
import { tempDir } from '../helpers/tmp.js'

const SECRET = 'webhook-secret-0123456789abcdef'

interface Delivery { headers: IncomingHttpHeaders, body: string, event: PushEvent }

/** A webhook receiver on loopback: answers `status()` (200 by default) and keeps what it got. */
class Target {
  readonly got: Delivery[] = []
  status: () => number = () => 200
  private server: Server | null = null
  private waiters: Array<() => void> = []

  async listen (port = 0): Promise<number> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const code = this.status()
        // 0: never answer (the sender's timeout must end the attempt)
        if (code === 0) return
        const body = Buffer.concat(chunks).toString('utf8')
        if (code >= 200 && code < 300) this.got.push({ headers: req.headers, body, event: JSON.parse(body) as PushEvent })
        res.writeHead(code).end()
        for (const w of this.waiters.splice(0)) w()
      })
    })
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
    this.server = server
    return (server.address() as AddressInfo).port
  }

  async close (): Promise<void> {
    const s = this.server
    this.server = null
    if (s == null) return
    s.closeAllConnections()
    await new Promise<void>(resolve => s.close(() => { resolve() }))
  }

  async until (n: number, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms
    while (this.got.length < n) {
      if (Date.now() > deadline) throw new Error(`target: ${this.got.length} of ${n} deliveries after ${ms} ms`)
      await new Promise<void>(resolve => { const t = setTimeout(resolve, 200); this.waiters.push(() => { clearTimeout(t); resolve() }) })
    }
  }
}

/** A loopback port nothing listens on (yet). */
async function freePort (): Promise<number> {
  const t = new Target()
  const port = await t.listen()
  await t.close()
  return port
}

function verifies (d: Delivery, secret: string): boolean {
  const sig = String(d.headers['x-dragnet-signature'] ?? '')
  const expected = 'sha256=' + createHmac('sha256', secret).update(d.body).digest('hex')
  return sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected))
}

function ind (i: number, tag = 'w'): Record<string, unknown> {
  return indicator({ kind: 'ipv4', value: `10.8.${(i >> 8) & 255}.${i & 255}`, seed: `${tag}-${i}` })
}

async function waitFor (pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

describe('webhooks: records POSTed, signed, retried, queued on disk', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let dir: string
  const nodes: DragnetNode[] = []
  const targets: Target[] = []

  async function openNode (hooks: unknown[]): Promise<DragnetNode> {
    const config = await loadConfig({ overrides: { name: 'CERT', country: 'NL', ingest: { verifyWorkers: 0 }, webhooks: hooks } })
    const node = await DragnetNode.open({ dataDir: dir, config, log: silentLogger(), network: false })
    await node.start({ webhooks: true })
    nodes.push(node)
    return node
  }

  function target (): Target {
    const t = new Target()
    targets.push(t)
    return t
  }

  function hook (port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { name: 'soc', url: `http://127.0.0.1:${port}/hook`, secret: SECRET, retryMinMs: 20, retryMaxMs: 200, timeoutMs: 2000, ...extra }
  }

  beforeEach(async () => {
    tmp = await tempDir('dragnet-webhooks-')
    dir = join(tmp.dir, 'node')
    await initDataDir(dir, { name: 'CERT', country: 'NL', role: 'bureau' })
  })

  afterEach(async () => {
    for (const n of nodes.splice(0)) if (n.store.isOpen) await n.stop()
    for (const t of targets.splice(0)) await t.close()
    await tmp.cleanup()
  })

  it('POSTs each matching record with a signature that verifies, its TLP marking and author identity', async () => {
    const t = target()
    const port = await t.listen()
    const node = await openNode([hook(port, { filter: { tlp: ['green', 'amber'], type: ['indicator'] } })])
    await node.publish([ind(1)], { tlp: 'green' })
    await node.publish([ind(2)], { tlp: 'red' })
    await node.publish([ind(3)], { tlp: 'amber' })
    await node.publish([ind(4)], { tlp: 'clear' })
    await t.until(2)
    await waitFor(() => node.webhookStats()[0].delivered === 2, 15_000, 'the stats')
    assert.deepEqual(t.got.map(d => d.event.tlp), ['green', 'amber'], 'only what the filter names: red and clear stay')
    for (const d of t.got) {
      assert.ok(verifies(d, SECRET), 'the HMAC-SHA256 signature verifies')
      assert.ok(!verifies(d, SECRET + 'x'))
      assert.equal(d.headers['x-dragnet-delivery'], String(d.event.arrival))
      assert.equal(d.headers['x-dragnet-hook'], 'soc')
      assert.equal(d.headers['content-type'], 'application/json')
      assert.deepEqual(d.event.object.object_marking_refs, [TLP2_MARKING_IDS[d.event.tlp as 'green' | 'amber']])
      assert.equal(d.event.object.created_by_ref, memberIdentityId(node.peerId))
      assert.ok(d.event.provenance.some(o => o.id === memberIdentityId(node.peerId)))
    }
    const s = node.webhookStats()[0]
    assert.equal(s.queued, 0)
    assert.equal(s.dropped, 0)
    assert.equal(s.url, `http://127.0.0.1:${port}/hook`)
    const app = await buildApi(node, { token: SECRET })
    try {
      const metrics = (await app.inject({ url: '/metrics' })).body
      assert.match(metrics, /dragnet_webhook_deliveries_total\{hook="soc",result="delivered"\} 2/)
      assert.match(metrics, /dragnet_webhook_queue\{hook="soc"\} 0/)
      const status = (await app.inject({ url: '/api/status', headers: { authorization: `Bearer ${SECRET}` } })).json()
      assert.equal(status.webhooks[0].delivered, 2)
    } finally {
      await app.close()
    }
  })

  it('a target that is down receives everything, in order and once, when it comes back', async () => {
    const port = await freePort()
    const node = await openNode([hook(port)])
    for (let i = 0; i < 20; i += 5) await node.publish([ind(i), ind(i + 1), ind(i + 2), ind(i + 3), ind(i + 4)], { tlp: 'green' })
    await waitFor(() => node.webhookStats()[0].failures >= 3 && node.webhookStats()[0].queued === 20, 10_000, 'failed attempts, twenty queued')
    assert.match(node.webhookStats()[0].lastError ?? '', /ECONNREFUSED/)
    const t = target()
    await t.listen(port)
    await t.until(20)
    await waitFor(() => node.webhookStats()[0].queued === 0, 15_000, 'an empty queue')
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.deepEqual(t.got.map(d => d.event.arrival), Array.from({ length: 20 }, (_, i) => i + 1))
  })

  it('retries a target answering 500 and one that does not answer in timeoutMs', async () => {
    const t = target()
    let calls = 0
    t.status = () => (++calls === 1 ? 0 : calls <= 4 ? 500 : 200)
    const port = await t.listen()
    const node = await openNode([hook(port, { timeoutMs: 300 })])
    await node.publish([ind(1), ind(2)], { tlp: 'green' })
    await t.until(2)
    assert.ok(node.webhookStats()[0].failures >= 4)
    assert.equal(node.webhookStats()[0].lastError, 'HTTP 500')
    assert.deepEqual(t.got.map(d => d.event.arrival), [1, 2])
  })

  it('keeps its queue across a node restart: the target, down all along, gets everything once it is back', async () => {
    const port = await freePort()
    let node = await openNode([hook(port)])
    await node.publish(Array.from({ length: 8 }, (_, i) => ind(i)), { tlp: 'green' })
    await waitFor(() => node.webhookStats()[0].queued === 8 && node.webhookStats()[0].failures >= 1, 10_000, 'eight queued')
    await node.stop()
    node = await openNode([hook(port)])
    await node.publish([ind(100)], { tlp: 'green' })
    await waitFor(() => node.webhookStats()[0].queued === 9, 10_000, 'nine queued after the restart')
    const t = target()
    await t.listen(port)
    await t.until(9)
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.deepEqual(t.got.map(d => d.event.arrival), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'each once, none lost, none twice')
    assert.ok(t.got.every(d => verifies(d, SECRET)))
  })

  it('holds its queue bound: the oldest records are dropped and counted', async () => {
    const port = await freePort()
    const node = await openNode([hook(port, { maxQueue: 5 })])
    for (let i = 0; i < 12; i++) await node.publish([ind(i)], { tlp: 'green' })
    await waitFor(() => node.webhookStats()[0].dropped + node.webhookStats()[0].queued === 12, 10_000, 'twelve queued or dropped')
    assert.ok(node.webhookStats()[0].queued <= 5, `queue within its bound (${node.webhookStats()[0].queued})`)
    assert.equal(node.webhookStats()[0].dropped, 7)
    const t = target()
    await t.listen(port)
    await t.until(5)
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(t.got.length, 5)
    // The oldest queued entry may be the one being retried when the queue overflows: it is kept.
    const arrivals = t.got.map(d => d.event.arrival)
    assert.deepEqual(arrivals.slice(-4), [9, 10, 11, 12])
  })

  it('reads the secret from secretFile; refuses a missing file, both forms, or neither', async () => {
    const file = join(tmp.dir, 'hook.secret')
    await writeFile(file, SECRET + '\n', { mode: 0o600 })
    const t = target()
    const port = await t.listen()
    const node = await openNode([{ url: `http://127.0.0.1:${port}/`, secretFile: file, retryMinMs: 20 }])
    await node.publish([ind(1)], { tlp: 'clear' })
    await t.until(1)
    assert.ok(verifies(t.got[0], SECRET), 'signed with the file\'s secret, trimmed')
    await node.stop()

    const missing = await loadConfig({ overrides: { ingest: { verifyWorkers: 0 }, webhooks: [{ url: 'http://127.0.0.1:1/', secretFile: join(tmp.dir, 'nope') }] } })
    const n2 = await DragnetNode.open({ dataDir: dir, config: missing, log: silentLogger(), network: false })
    await assert.rejects(n2.start({ webhooks: true }), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_CONFIG') && /cannot read secretFile/.test(err.message) && !err.message.includes(SECRET))
    for (const bad of [
      { url: 'http://127.0.0.1:1/', secret: SECRET, secretFile: file },
      { url: 'http://127.0.0.1:1/' },
      { url: 'ftp://127.0.0.1/', secret: SECRET },
      { url: 'http://127.0.0.1:1/', secret: 'short' }
    ]) {
      await assert.rejects(loadConfig({ overrides: { webhooks: [bad] } }), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_CONFIG'), JSON.stringify(bad))
    }
  })
})
