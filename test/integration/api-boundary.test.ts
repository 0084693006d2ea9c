import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import fc from 'fast-check'
import { startApi, type RunningApi } from '../../src/api/server.js'
import type { DragnetNode } from '../../src/node.js'
import type { Tlp } from '../../src/record/index.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { runCli, spawnCli, waitForOutput } from '../helpers/cli.js'
import { testNode } from '../helpers/node.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * The API's boundary over real HTTP, as an attacker on the same host would meet it: raw
 * sockets, uploads refused before they are read, clients that trickle, too many connections,
 * and a property over hostile requests against a node listening beyond loopback.
 */

interface RawAnswer { status: number, head: string, body: string, ms: number }

/** Sends raw bytes on a fresh connection and reads until the server closes it. */
async function raw (port: number, request: string | Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
  const t0 = Date.now()
  return await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer in time')) }, timeoutMs)
    s.on('data', d => chunks.push(d))
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), head: split < 0 ? text : text.slice(0, split), body: split < 0 ? '' : text.slice(split + 4), ms: Date.now() - t0 })
    })
    // Not end(): a client that half-closes has its pending request dropped by Node's server.
    s.write(request)
  })
}

/** VmRSS of a process, in bytes. */
function rssOf (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m![1]) * 1024
}

/** A raw unauthenticated 50 MB upload, sent as fast as the server reads it; resolves when the server closes. */
async function bigUpload (port: number, bytes: number): Promise<{ status: number, sent: number, ms: number }> {
  const t0 = Date.now()
  return await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    let head = ''
    let sent = 0
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    s.on('data', d => { head += String(d) })
    s.on('error', () => {})
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), sent, ms: Date.now() - t0 }))
    s.write(`POST /api/records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`)
    const pump = (): void => {
      while (sent < bytes && !s.destroyed && head === '') {
        sent += chunk.length
        if (!s.write(chunk)) { s.once('drain', pump); return }
      }
    }
    pump()
  })
}

/** A connection that sends `head`, then one byte every `everyMs`; resolves with how long until the server closed it. */
async function trickle (port: number, head: string, everyMs: number, onConnected?: () => void): Promise<{ ms: number, answer: string }> {
  const t0 = Date.now()
  return await new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1')
    let answer = ''
    s.on('data', d => { answer += String(d) })
    s.on('error', () => {})
    const timer = setInterval(() => { if (!s.destroyed) s.write('a') }, everyMs)
    s.on('close', () => { clearInterval(timer); resolve({ ms: Date.now() - t0, answer }) })
    s.write(head, () => onConnected?.())
  })
}

async function startNode (data: string): Promise<{ child: ChildProcess, port: number, token: string }> {
  const child = spawnCli(['start', '--data', data])
  await waitForOutput(child, out => out.includes('api     http://'))
  const runtime = JSON.parse(await readFile(join(data, 'runtime.json'), 'utf8'))
  return { child, port: Number(String(runtime.api).split(':').pop()), token: (await readFile(join(data, 'api-token'), 'utf8')).trim() }
}

async function stopNode (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
  const t0 = Date.now()
  if (child.exitCode != null) return 0
  const exited = new Promise(resolve => child.on('exit', resolve))
  child.kill(signal)
  await exited
  return Date.now() - t0
}

describe('API boundary over real HTTP', function () {
  this.timeout(180_000)

  describe('a node started by the CLI, with short timeouts and a connection cap', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>
    let node: { child: ChildProcess, port: number, token: string }

    before(async () => {
      tmp = await tempDir()
      const data = join(tmp.dir, 'node')
      assert.equal((await runCli(['init', '--data', data])).code, 0)
      await writeFile(join(data, 'config.yaml'), [
        'api: 127.0.0.1:0',
        'listen: [/ip4/127.0.0.1/tcp/0]',
        'http: { requestTimeoutMs: 2000, headersTimeoutMs: 1000, keepAliveTimeoutMs: 3000, maxConnections: 8, closeGraceMs: 1000 }'
      ].join('\n') + '\n')
      node = await startNode(data)
    })

    after(async () => {
      if (node != null) await stopNode(node.child)
      await tmp.cleanup()
    })

    it('refuses an unauthenticated 50 MB upload before reading it: four of them grow RSS by under 25 MB', async function () {
      if (!existsSync(`/proc/${node.child.pid!}/status`)) {
        console.log('    (skipped: no /proc to read the node\'s RSS from)')
        this.skip()
      }
      // Warm the paths first, so the figure is about the uploads, not lazy start-up work.
      await raw(node.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
      const before = rssOf(node.child.pid!)
      for (let i = 0; i < 4; i++) {
        const r = await bigUpload(node.port, 50 * 1024 * 1024)
        assert.equal(r.status, 401)
        assert.ok(r.ms < 5000, `refused after ${r.ms} ms`)
        assert.ok(r.sent < 50 * 1024 * 1024, 'the connection was closed before the upload finished')
      }
      const grown = rssOf(node.child.pid!) - before
      assert.ok(grown < 25 * 1024 * 1024, `RSS grew by ${(grown / 1e6).toFixed(1)} MB`)
    })

    it('cuts off a client trickling a body, one trickling headers, and an idle keep-alive connection', async () => {
      const body = await trickle(node.port, `POST /api/records HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${node.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`, 700)
      assert.ok(body.ms < 6000, `a trickled body held the connection ${body.ms} ms (request timeout 2 s)`)
      const headers = await trickle(node.port, 'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 300)
      assert.ok(headers.ms < 5000, `trickled headers held the connection ${headers.ms} ms (headers timeout 1 s)`)
      // A finished request on a kept-alive connection: closed once idle for keepAliveTimeoutMs.
      const idle = await new Promise<number>((resolve) => {
        const s = connect(node.port, '127.0.0.1')
        let answered = 0
        s.on('data', () => { if (answered === 0) answered = Date.now() })
        s.on('close', () => resolve(Date.now() - answered))
        s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
      })
      assert.ok(idle < 6000, `an idle keep-alive connection stayed ${idle} ms`)
    })

    it('caps connections at http.maxConnections', async () => {
      const held: Socket[] = []
      try {
        // Eight kept-alive connections, each answered once (so the server has accepted them).
        for (let i = 0; i < 8; i++) {
          held.push(await new Promise<Socket>((resolve, reject) => {
            const s = connect(node.port, '127.0.0.1')
            s.once('data', () => resolve(s))
            s.once('error', reject)
            s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
          }))
        }
        const ninth = await raw(node.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 5000)
        assert.equal(ninth.status, 0, 'the ninth connection is closed without an answer')
      } finally {
        for (const s of held) s.destroy()
      }
      // Room again once the server has seen them close (it learns that asynchronously).
      const deadline = Date.now() + 10_000
      let status = 0
      while (status !== 200 && Date.now() < deadline) status = (await raw(node.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).status
      assert.equal(status, 200, 'room again once they closed')
    })
  })

  it('a node stopped while a client trickles a body stops within seconds', async () => {
    const tmp = await tempDir()
    try {
      const data = join(tmp.dir, 'node')
      assert.equal((await runCli(['init', '--data', data])).code, 0)
      // Default timeouts (30 s for a request): stopping must not wait for them.
      await writeFile(join(data, 'config.yaml'), 'api: 127.0.0.1:0\nlisten: [/ip4/127.0.0.1/tcp/0]\n')
      const node = await startNode(data)
      let connected!: () => void
      const ready = new Promise<void>(resolve => { connected = resolve })
      const t = trickle(node.port, `POST /api/records HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${node.token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`, 1000, connected)
      await ready
      const ms = await stopNode(node.child, 'SIGINT')
      assert.ok(ms < 8000, `stopping took ${ms} ms`)
      assert.ok((await t).ms < 10_000)
    } finally {
      await tmp.cleanup()
    }
  })

  describe('property: hostile requests against a node listening beyond loopback', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>
    let node: DragnetNode
    let api: RunningApi
    let port: number
    const TOKEN = 'admin-token-0123456789abcdefXYZ'

    before(async () => {
      tmp = await tempDir()
      node = await testNode({ dir: join(tmp.dir, 'n'), config: { taxii: { publicClear: false, readTokens: [] } } })
      for (const tlp of ['clear', 'green', 'amber', 'amber+strict', 'red'] as Tlp[]) {
        await node.publish([indicator({ kind: 'ipv4', value: '203.0.113.7', seed: `p-${tlp}` }), malware(`secret-${tlp}`)], { tlp })
      }
      // Bound to every interface (the non-loopback path); requests below go to 127.0.0.1 only.
      api = await startApi(node, '0.0.0.0:0', { token: TOKEN })
      port = Number(api.address.split(':').pop())
    })

    after(async () => {
      await api?.close()
      await node?.stop()
      await tmp?.cleanup()
    })

    const SEGMENTS = ['api', '%61pi', 'API', 'Api', 'records', 'RECORDS', 'lookup', 'export', 'status', 'audit', 'peers', 'metrics', '%6detrics',
      'taxii2', '%74axii2', 'dragnet', 'collections', 'tlp-red', 'tlp-clear', 'objects', 'manifest', 'versions', 'health', 'openapi.json',
      '.', '..', '%2e', '%2e%2e', '', '1220' + '0'.repeat(64), ';', '%2f', '%00', '%252e', 'x']
    const segment = fc.oneof(fc.constantFrom(...SEGMENTS), fc.stringMatching(/^[A-Za-z0-9%._~;-]{0,10}$/))
    const query = fc.constantFrom('', '?tlp=red', '?value=203.0.113.7', '?value=203.0.113.0/24&limit=1', '?limit=1000', '?record=x', '?%74lp=red', '?cursor=abc')
    const randomPath = fc.tuple(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.boolean(), query).map(([segs, slash, q]) => `/${segs.join('/')}${slash ? '/' : ''}${q}`)
    // Real routes respelled the ways a router may still match them: percent-encoded letters,
    // case, trailing and doubled slashes, dot segments, parameters.
    const ROUTES = ['/api/records', `/api/records/1220${'0'.repeat(64)}`, '/api/lookup', '/api/export', '/api/status', '/api/audit', '/api/peers',
      '/api/openapi.json', '/metrics', '/health', '/taxii2/', '/taxii2/dragnet/', '/taxii2/dragnet/collections/',
      '/taxii2/dragnet/collections/tlp-red/objects/', '/taxii2/dragnet/collections/tlp-red/manifest/']
    const mutation = fc.tuple(fc.constantFrom('encode', 'encode', 'upper', 'slash', 'double', 'dot', 'dotdot', 'semicolon'), fc.nat())
    const respell = (path: string, [kind, at]: [string, number]): string => {
      const letters = [...path].map((c, i) => [c, i] as const).filter(([c]) => c !== '/')
      const slashes = [...path].map((c, i) => [c, i] as const).filter(([c]) => c === '/')
      const [ch, i] = letters[at % letters.length]
      const [, j] = slashes[at % slashes.length]
      switch (kind) {
        case 'encode': return path.slice(0, i) + '%' + ch.charCodeAt(0).toString(16).padStart(2, '0') + path.slice(i + 1)
        case 'upper': return path.slice(0, i) + ch.toUpperCase() + path.slice(i + 1)
        case 'slash': return path.endsWith('/') ? path.slice(0, -1) : path + '/'
        case 'double': return path.slice(0, j) + '/' + path.slice(j)
        case 'dot': return path.slice(0, j) + '/.' + path.slice(j)
        case 'dotdot': return path.slice(0, j) + '/x/..' + path.slice(j)
        default: return path.slice(0, j) + ';' + path.slice(j)
      }
    }
    const respelled = fc.tuple(fc.constantFrom(...ROUTES), fc.array(mutation, { maxLength: 3 }), query).map(([r, ms, q]) => ms.reduce(respell, r) + q)
    const path = fc.oneof({ arbitrary: respelled, weight: 3 }, { arbitrary: randomPath, weight: 1 })
    const auth = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('Bearer', 'Bearer ', 'Basic', 'Digest abc', `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `bearer ${TOKEN.toLowerCase()}`,
        `Basic ${Buffer.from(`x:${TOKEN.slice(1)}`).toString('base64')}`, `Basic ${Buffer.from(TOKEN).toString('base64')}`),
      fc.stringMatching(/^[ -~]{0,40}$/).map(s => `Bearer ${s}`)
    )
    const host = fc.constantFrom('127.0.0.1', 'localhost', 'evil.example', '127.0.0.1.evil.example', '[::1]', 'localhost:1')
    const body = fc.oneof(
      fc.constant(''),
      fc.constant(JSON.stringify(malware('intruder'))),
      fc.constant(JSON.stringify({ stix: malware('wrapped'), tlp: 'clear' })),
      fc.stringMatching(/^[ -~]{0,300}$/)
    )
    const request = fc.record({
      method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      path,
      auth,
      host,
      type: fc.constantFrom(undefined, 'application/json', 'application/stix+json;version=2.1', 'text/plain', 'application/taxii+json;version=2.1'),
      accept: fc.constantFrom(undefined, '*/*', 'application/taxii+json;version=2.1', 'application/json'),
      body
    })

    it('no 2xx without a valid token (bar /health), no 5xx ever, nothing stored', async () => {
      const records = node.store.counts().records
      await fc.assert(fc.asyncProperty(request, async (r) => {
        const head = [`${r.method} ${r.path} HTTP/1.1`, `Host: ${r.host}`, 'Connection: close']
        if (r.auth != null) head.push(`Authorization: ${r.auth}`)
        if (r.type != null) head.push(`Content-Type: ${r.type}`)
        if (r.accept != null) head.push(`Accept: ${r.accept}`)
        if (r.body !== '') head.push(`Content-Length: ${Buffer.byteLength(r.body)}`)
        const a = await raw(port, `${head.join('\r\n')}\r\n\r\n${r.body}`)
        assert.ok(a.status >= 200, `no status line for ${r.method} ${r.path}`)
        assert.ok(a.status < 500, `${r.method} ${r.path} answered ${a.status}: ${a.body.slice(0, 200)}`)
        if (a.status < 300) {
          // Only the public liveness route answers, and it says nothing about records.
          assert.ok(r.method === 'GET' || r.method === 'HEAD', `${r.method} ${r.path} answered ${a.status}`)
          if (r.method === 'GET') assert.deepEqual(Object.keys(JSON.parse(a.body)).sort(), ['ok', 'peerId', 'running'], `${r.path}: ${a.body.slice(0, 200)}`)
        }
        // (The query's own values may be echoed in an error message; record content never is.)
        assert.ok(!/secret-|"tlp"|indicator--|malware--|dragnet_records/.test(a.body), `${r.method} ${r.path} leaked a record`)
      }), { numRuns: 400, seed: 10 })
      assert.equal(node.store.counts().records, records, 'nothing stored')
    })
  })
})
