import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { startApi, type RunningApi } from '../../src/api/server.js'
import { API_ROOT, collectionById } from '../../src/api/taxii-query.js'
import { loadConfig } from '../../src/config/config.js'
import { FEEDS_STATE_FILE, readFeedStates, type FeedStatus } from '../../src/feeds/index.js'
import { ensureToken, initDataDir } from '../../src/identity/index.js'
import { parseImport } from '../../src/import/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { runCli } from '../helpers/cli.js'
import { requireSharedData } from '../helpers/shared-data.js'
import { testNode } from '../helpers/node.js'
import { tempDir } from '../helpers/tmp.js'

// ------------------------------------------------------------------ helpers

interface Loopback {
  url: string
  /** request paths (with query) in arrival order */
  requests: string[]
  close: () => Promise<void>
}

/** A real HTTP server on 127.0.0.1 answering with `handler`; every request path is logged. */
async function serve (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  const requests: string[] = []
  const server: Server = createServer((req, res) => { requests.push(req.url ?? ''); handler(req, res) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/**
 * Opens (and on first use initialises) a node on `dir` with these feeds in its config.json, so the
 * CLI reads the same config; network off, schedule off unless `api` starts the API.
 */
async function feedNode (dir: string, feeds: unknown[], first: boolean, api?: (node: DragnetNode) => Promise<RunningApi>): Promise<DragnetNode> {
  if (first) {
    await initDataDir(dir, { name: 'consumer', country: 'FR', role: 'bureau' })
    await writeFile(join(dir, 'config.json'), JSON.stringify({ name: 'consumer', country: 'FR', role: 'bureau', ingest: { verifyWorkers: 0 }, feeds }))
  }
  const config = await loadConfig({ dataDir: dir })
  const node = await DragnetNode.open({ dataDir: dir, config, log: silentLogger(), network: false, create: false })
  await node.start(api != null ? { api } : {})
  return node
}

/** Records stored during `fn`, with their author and import source. */
async function storedDuring (node: DragnetNode, fn: () => Promise<FeedStatus>): Promise<{ status: FeedStatus, stored: Array<{ stixId: string, author: string, source: string, tlp: string }> }> {
  const stored: Array<{ stixId: string, author: string, source: string, tlp: string }> = []
  const off = node.ingest.onStored(v => { stored.push({ stixId: v.info.stixId, author: v.record.record.author, source: v.source, tlp: v.record.record.tlp }) })
  try {
    return { status: await fn(), stored }
  } finally {
    off()
  }
}

function indicators (from: number, n: number): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => indicator({ kind: 'ipv4', value: `198.51.100.${from + i}` }))
}

const GREEN = collectionById('tlp-green')!.id

// ------------------------------------------------------------------ TAXII

describe('feeds: a TAXII 2.1 collection (another node\'s own TAXII server) as the source', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let source: DragnetNode
  let api: RunningApi
  const TOKEN = 'feed-source-token-0123456789abcdef'

  before(async () => {
    tmp = await tempDir('dragnet-feeds-taxii-')
    source = await testNode({ dir: join(tmp.dir, 'source'), name: 'source' })
    api = await startApi(source, '127.0.0.1:0', { token: TOKEN, tokenDir: false })
    await writeFile(join(tmp.dir, 'token'), TOKEN + '\n', { mode: 0o600 })
  })

  after(async () => {
    await api?.close()
    await source?.stop()
    await tmp?.cleanup()
  })

  it('pages to the end, keeps the added_after cursor across a restart, and imports nothing twice', async () => {
    const published = await source.publish(indicators(1, 23), { tlp: 'green' })
    assert.ok(published.every(v => v.status === 'stored'))
    const feed = { name: 'peer-green', kind: 'taxii', url: `http://${api.address}/taxii2/${API_ROOT}/`, collection: GREEN, auth: { tokenFile: join(tmp.dir, 'token') }, intervalMs: 60_000, pageSize: 10 }
    const dir = join(tmp.dir, 'consumer')
    let consumer = await feedNode(dir, [feed], true)
    try {
      const first = await storedDuring(consumer, async () => await consumer.feeds.run('peer-green'))
      assert.equal(first.status.result, 'ok', JSON.stringify(first.status.error))
      // 23 records in pages of at most 10: three pages at least (markings and identities ride along).
      assert.ok((first.status.documents ?? 0) >= 3, `pages: ${first.status.documents}`)
      const ids = new Set(first.stored.filter(s => s.stixId.startsWith('indicator--')).map(s => s.stixId))
      assert.equal(ids.size, 23)
      // Signed as this node's records, through the import path, at the TLP of their marking.
      assert.ok(first.stored.every(s => s.author === consumer.peerId && s.source === 'import' && s.tlp === 'green'))
      assert.ok(first.status.cursor != null, 'the cursor is kept')
      assert.ok(source.store.counts().records >= 23)

      // Nothing new: one request from the cursor, an empty page, nothing stored or even re-read.
      const again = await consumer.feeds.run('peer-green')
      assert.equal(again.result, 'ok')
      assert.equal(again.documents, 1)
      assert.deepEqual(again.counts, { values: 0, imported: 0, duplicates: 0, skipped: 0, stored: 0, rejected: 0 })

      await source.publish(indicators(101, 4), { tlp: 'green' })
      const cursorBefore = again.cursor
      await consumer.stop()
      consumer = await feedNode(dir, [feed], false)

      // After the restart the cursor is still there: only the four new records come.
      const listed = (await consumer.feeds.list())[0]
      assert.equal(listed.cursor, cursorBefore)
      const resumed = await storedDuring(consumer, async () => await consumer.feeds.run('peer-green'))
      assert.equal(resumed.status.result, 'ok')
      assert.deepEqual(resumed.stored.filter(s => s.stixId.startsWith('indicator--')).map(s => s.stixId).sort(), indicators(101, 4).map(o => o.id as string).sort())
      assert.equal(resumed.status.counts?.rejected, 0)
      assert.equal(resumed.status.runs, 3)
      assert.equal(resumed.status.totals.stored, first.status.counts!.stored + resumed.status.counts!.stored)
    } finally {
      await consumer.stop()
    }
  })
})

// ------------------------------------------------------------------ MISP feed

/** A MISP feed directory built from the shared MISP events: manifest.json and <uuid>.json. */
function mispFeedFrom (dir: string): Map<string, Record<string, any>> {
  const events = new Map<string, Record<string, any>>()
  for (const f of readdirSync(dir).filter(n => n.endsWith('.json'))) {
    const json = JSON.parse(readFileSync(join(dir, f), 'utf8'))
    events.set(String(json.Event.uuid), json)
  }
  return events
}

function manifestOf (events: Map<string, Record<string, any>>): Record<string, unknown> {
  return Object.fromEntries([...events].map(([uuid, e]) => [uuid, { info: e.Event.info, date: e.Event.date, timestamp: e.Event.timestamp, analysis: e.Event.analysis, threat_level_id: e.Event.threat_level_id, Orgc: e.Event.Orgc, Tag: e.Event.Tag }]))
}

describe('feeds: a MISP feed on a local HTTP server', function () {
  this.timeout(120_000)

  it('reads manifest.json, then only the event that changed since the last run', async function () {
    const shared = requireSharedData(this)
    const events = mispFeedFrom(join(shared, 'misp', 'events'))
    assert.ok(events.size >= 3)
    const server = await serve((req, res) => {
      const name = (req.url ?? '').split('?')[0].slice(1)
      const body = name === 'manifest.json' ? manifestOf(events) : events.get(name.replace(/\.json$/, ''))
      if (body == null) { res.writeHead(404).end(); return }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })
    const tmp = await tempDir('dragnet-feeds-misp-')
    const node = await feedNode(join(tmp.dir, 'n'), [{ name: 'circl', kind: 'misp-feed', url: `${server.url}/`, intervalMs: 3_600_000 }], true)
    try {
      const first = await node.feeds.run('circl')
      assert.equal(first.result, 'ok', JSON.stringify(first.error))
      assert.equal(first.documents, 1 + events.size)
      assert.equal(first.events, events.size)
      assert.ok(first.counts!.stored > 0)
      assert.deepEqual(server.requests.filter(r => r !== '/manifest.json').sort(), [...events.keys()].map(u => `/${u}.json`).sort())

      // One event changes: a new attribute and a later timestamp, in the event and the manifest.
      const [uuid, changed] = [...events][1]
      const ts = String(Number(changed.Event.timestamp) + 60)
      changed.Event.timestamp = ts
      changed.Event.Attribute = [...changed.Event.Attribute, { uuid: '0b4e7c2a-1d3f-4a5b-8c6d-7e8f9a0b1c2d', type: 'ip-dst', category: 'Network activity', value: '203.0.113.200', to_ids: true, timestamp: ts }]
      server.requests.length = 0
      const second = await node.feeds.run('circl')
      assert.equal(second.result, 'ok', JSON.stringify(second.error))
      assert.deepEqual(server.requests, ['/manifest.json', `/${uuid}.json`])
      assert.equal(second.documents, 2)
      // The new attribute is stored; the rest of the event was stored before.
      assert.ok(second.counts!.stored >= 1)
      assert.ok(second.counts!.duplicates > 0)

      server.requests.length = 0
      const third = await node.feeds.run('circl')
      assert.deepEqual(server.requests, ['/manifest.json'])
      assert.equal(third.counts!.stored, 0)
    } finally {
      await node.stop()
      await server.close()
      await tmp.cleanup()
    }
  })
})

// ------------------------------------------------------------------ lists

describe('feeds: a text list and a CSV on a URL', function () {
  this.timeout(120_000)

  it('imports a list (again: all duplicates) and a CSV column (again: 304, nothing read)', async function () {
    const shared = requireSharedData(this)
    const list = readFileSync(join(shared, 'iocs', 'maltrail', 'malware__agenttesla.txt'), 'utf8')
    const csv = 'first_seen,ioc,type\n2026-01-01,c2.evil.example,domain\n2026-01-02,203.0.113.9,ip\n2026-01-03,not a value,junk\n'
    const server = await serve((req, res) => {
      if (req.url === '/agenttesla.txt') { res.writeHead(200, { 'content-type': 'text/plain' }).end(list); return }
      if (req.url === '/iocs.csv') {
        if (req.headers['if-none-match'] === '"v1"') { res.writeHead(304).end(); return }
        res.writeHead(200, { 'content-type': 'text/csv', etag: '"v1"' }).end(csv)
        return
      }
      res.writeHead(404).end()
    })
    const tmp = await tempDir('dragnet-feeds-lists-')
    const node = await feedNode(join(tmp.dir, 'n'), [
      { name: 'tesla', kind: 'url-list', url: `${server.url}/agenttesla.txt`, tlp: 'amber', intervalMs: 60_000 },
      { name: 'csv', kind: 'url-csv', url: `${server.url}/iocs.csv`, column: 'ioc', intervalMs: 60_000 }
    ], true)
    try {
      const expected = parseImport(list, { format: 'iocs', namespace: node.peerId })
      const first = await storedDuring(node, async () => await node.feeds.run('tesla'))
      assert.equal(first.status.result, 'ok', JSON.stringify(first.status.error))
      const c = first.status.counts!
      assert.equal(c.values, expected.values)
      assert.equal(c.imported + c.duplicates + c.skipped, c.values)
      assert.equal(c.stored, first.stored.length)
      assert.ok(c.stored > 1000, `stored ${c.stored}`)
      assert.ok(first.stored.every(s => s.tlp === 'amber' && s.author === node.peerId))
      const again = await node.feeds.run('tesla')
      assert.equal(again.counts!.stored, 0)
      assert.equal(again.counts!.imported, 0)
      assert.equal(again.counts!.duplicates, c.imported + c.duplicates)

      const c1 = await node.feeds.run('csv')
      assert.equal(c1.result, 'ok', JSON.stringify(c1.error))
      assert.equal(c1.counts!.stored, 2)
      assert.equal(c1.counts!.skipped, 1)
      assert.deepEqual(c1.skipped, { unrecognised: 1 })
      const c2 = await node.feeds.run('csv')
      assert.equal(c2.result, 'ok')
      assert.equal(c2.documents, 1)
      assert.equal(c2.counts!.values, 0)
      assert.equal(server.requests.filter(r => r === '/iocs.csv').length, 2)
    } finally {
      await node.stop()
      await server.close()
      await tmp.cleanup()
    }
  })
})

// ------------------------------------------------------------------ failures

describe('feeds: a feed that times out, answers 500, sends garbage or too much', function () {
  this.timeout(180_000)

  it('fails with the reason in dragnet feeds; the node and the other feeds go on; secrets stay out', async () => {
    const PASSWORD = 'feed-password-not-for-logs-5f2c'
    const held: ServerResponse[] = []
    const server = await serve((req, res) => {
      switch (req.url?.split('?')[0]) {
        case '/slow.txt': held.push(res); return
        case '/500.txt': res.writeHead(500).end('boom'); return
        case '/garbage/collections/x/objects/': res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>'); return
        case '/garbage-misp/manifest.json': res.writeHead(200).end('{"not": "a manifest"'); return
        case '/huge.txt': res.writeHead(200).end('192.0.2.1\n'.repeat(4000)); return
        case '/ok.txt':
          if (req.headers.authorization !== `Basic ${Buffer.from(`reader:${PASSWORD}`).toString('base64')}`) { res.writeHead(401).end(); return }
          res.writeHead(200).end('192.0.2.77\nc2.bad.example\n')
          return
        default: res.writeHead(404).end()
      }
    })
    const tmp = await tempDir('dragnet-feeds-fail-')
    await writeFile(join(tmp.dir, 'password'), PASSWORD + '\n', { mode: 0o600 })
    const dir = join(tmp.dir, 'n')
    const list = (name: string, path: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name, kind: 'url-list', url: `${server.url}${path}`, intervalMs: 60_000, retries: 0, ...extra })
    const feeds = [
      list('slow', '/slow.txt', { timeoutMs: 300 }),
      list('five-hundred', '/500.txt?key=secret-in-query', { retries: 1, retryDelayMs: 10 }),
      { name: 'garbage-taxii', kind: 'taxii', url: `${server.url}/garbage/`, collection: 'x', intervalMs: 60_000, retries: 0 },
      { name: 'garbage-misp', kind: 'misp-feed', url: `${server.url}/garbage-misp/`, intervalMs: 60_000, retries: 0 },
      list('huge', '/huge.txt', { maxBytes: 1024 }),
      list('refused', '/nothing', { url: 'http://127.0.0.1:1/list.txt' }),
      list('ok', '/ok.txt', { auth: { user: 'reader', passwordFile: join(tmp.dir, 'password') } })
    ]
    const node = await feedNode(dir, feeds, true)
    let stopped = false
    try {
      const results = new Map((await Promise.all(feeds.map(async f => await node.feeds.run(f.name as string)))).map(s => [s.name, s]))
      const code = (name: string): string | undefined => results.get(name)?.error?.code
      assert.equal(code('slow'), 'DRAGNET_TIMEOUT')
      assert.equal(code('five-hundred'), 'DRAGNET_FEED_HTTP')
      assert.match(results.get('five-hundred')!.error!.message, /HTTP 500.*\(2 attempts\)/)
      assert.equal(server.requests.filter(r => r.startsWith('/500.txt')).length, 2)
      assert.equal(code('garbage-taxii'), 'DRAGNET_BAD_FEED')
      assert.equal(code('garbage-misp'), 'DRAGNET_BAD_FEED')
      assert.equal(code('huge'), 'DRAGNET_TOO_LARGE')
      assert.equal(code('refused'), 'DRAGNET_FEED_HTTP')
      assert.match(results.get('refused')!.error!.message, /cannot reach/)
      assert.equal(results.get('ok')!.result, 'ok', JSON.stringify(results.get('ok')!.error))
      assert.equal(results.get('ok')!.counts!.stored, 2)
      for (const name of ['slow', 'five-hundred', 'garbage-taxii', 'garbage-misp', 'huge', 'refused']) {
        assert.equal(results.get(name)!.result, 'error', name)
        assert.equal(results.get(name)!.counts!.stored, 0, name)
        assert.equal(results.get(name)!.failures, 1, name)
      }
      // The node is healthy: it stores, and the good feed runs again.
      assert.equal(node.store.health().ok, true)
      assert.equal((await node.publish([indicator({ kind: 'domain', value: 'after-failures.example' })], { tlp: 'green' }))[0].status, 'stored')
      assert.equal((await node.feeds.run('ok')).result, 'ok')
      await node.stop()
      stopped = true

      // With the node stopped, the CLI reads the config and the state file, and says why.
      const shown = await runCli(['feeds', '--data', dir])
      assert.equal(shown.code, 0, shown.stderr)
      assert.match(shown.stdout, /slow .*\n(.*\n)*? {2}result {5}error DRAGNET_TIMEOUT: .*did not answer in full within 300 ms/)
      assert.match(shown.stdout, /result {5}error DRAGNET_FEED_HTTP: .*answered HTTP 500/)
      assert.match(shown.stdout, /result {5}error DRAGNET_TOO_LARGE/)
      assert.match(shown.stdout, /result {5}error DRAGNET_BAD_FEED: .*not a TAXII envelope|result {5}error DRAGNET_BAD_FEED: .*not JSON/)
      // Run offline, on the store: a failing feed exits 1 and its state counts the run.
      const bad = await runCli(['feeds', 'run', 'five-hundred', '--data', dir])
      assert.equal(bad.code, 1)
      assert.match(bad.stdout, /error DRAGNET_FEED_HTTP/)
      const states = await readFeedStates(dir)
      assert.equal(states['five-hundred'].runs, 2)
      assert.equal(states['five-hundred'].failures, 2)
      assert.equal(states.ok.runs, 2)

      // The password, and a key in a URL's query string, appear nowhere.
      const state = await readFile(join(dir, FEEDS_STATE_FILE), 'utf8')
      for (const text of [state, shown.stdout, bad.stdout, bad.stderr]) {
        assert.ok(!text.includes(PASSWORD) && !text.includes('secret-in-query'), 'a secret leaked')
      }
    } finally {
      if (!stopped) await node.stop()
      for (const res of held) res.destroy()
      await server.close()
      await tmp.cleanup()
    }
  })
})

// ------------------------------------------------------------------ a serving node

describe('feeds: on a serving node', function () {
  this.timeout(120_000)

  it('runs each feed on its schedule; dragnet feeds and feeds run go through the API; metrics per feed', async () => {
    let version = 0
    const server = await serve((_req, res) => { version++; res.writeHead(200).end(`192.0.2.${version}\n`) })
    const tmp = await tempDir('dragnet-feeds-serving-')
    const dir = join(tmp.dir, 'n')
    let token = ''
    const runs: FeedStatus[] = []
    let wake: (() => void) | null = null
    const node = await feedNode(dir, [{ name: 'every-second', kind: 'url-list', url: `${server.url}/list.txt`, intervalMs: 1000 }], true, async n => {
      // Subscribed before the schedule starts, so the first run is seen.
      n.feeds.onRun(s => { runs.push(s); wake?.() })
      token = await ensureToken(n.dataDir)
      return await startApi(n, '127.0.0.1:0', { token })
    }).catch(async (err) => { await tmp.cleanup(); throw err })
    const runsReach = async (n: number): Promise<void> => {
      const deadline = Date.now() + 20_000
      while (runs.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${runs.length} runs`)
        await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 500) })
      }
    }
    try {
      // Two runs on the schedule, one second apart, each storing the value the list now holds.
      await runsReach(2)
      assert.ok(runs.slice(0, 2).every(r => r.result === 'ok' && r.counts?.stored === 1))
      assert.ok(Date.parse(runs[1].lastRun!) - Date.parse(runs[0].lastRun!) >= 900)

      const listed = await runCli(['feeds', '--data', dir, '--json'])
      assert.equal(listed.code, 0, listed.stderr)
      const body = JSON.parse(listed.stdout) as { scheduled: boolean, feeds: FeedStatus[] }
      assert.equal(body.scheduled, true)
      assert.ok(body.feeds[0].nextRun != null && body.feeds[0].runs >= 2)

      const before = runs.length
      const ran = await runCli(['feeds', 'run', 'every-second', '--data', dir, '--json'])
      assert.equal(ran.code, 0, ran.stderr)
      assert.equal((JSON.parse(ran.stdout) as FeedStatus).result, 'ok')
      assert.ok(runs.length > before, 'the run happened in the serving node')

      const base = `http://${node.apiAddress!}`
      assert.equal((await fetch(`${base}/api/feeds`)).status, 401)
      const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
      assert.match(metrics, /dragnet_feed_runs_total\{feed="every-second",kind="url-list",result="ok"\} [1-9]/)
      assert.match(metrics, /dragnet_feed_up\{feed="every-second",kind="url-list"\} 1/)
      assert.match(metrics, /dragnet_feed_records_total\{feed="every-second",kind="url-list",outcome="stored"\} [1-9]/)
    } finally {
      await node.stop()
      await server.close()
      await tmp.cleanup()
    }
  })
})

describe('feeds: POST /api/feeds/:name/run', function () {
  this.timeout(60_000)

  it('answers a run longer than the idle timeout (the answer starts at once and keeps the connection busy)', async () => {
    const server = await serve((_req, res) => { setTimeout(() => { res.writeHead(200).end('192.0.2.5\n') }, 1500) })
    const tmp = await tempDir('dragnet-feeds-api-')
    const node = await testNode({ dir: tmp.dir, config: { http: { idleTimeoutMs: 400, keepAliveTimeoutMs: 200 }, feeds: [{ name: 'slowish', kind: 'url-list', url: `${server.url}/l.txt`, intervalMs: 60_000 }] } })
    const token = 'feeds-api-token-0123456789abcdef'
    const api = await startApi(node, '127.0.0.1:0', { token, tokenDir: false })
    try {
      const post = async (name: string, auth = true): Promise<Response> => await fetch(`http://${api.address}/api/feeds/${name}/run`, { method: 'POST', headers: auth ? { authorization: `Bearer ${token}` } : {} })
      const res = await post('slowish')
      assert.equal(res.status, 200)
      const status = JSON.parse(await res.text()) as FeedStatus
      assert.equal(status.result, 'ok', JSON.stringify(status.error))
      assert.equal(status.counts?.stored, 1)
      assert.ok((status.durationMs ?? 0) >= 1400)
      const unknown = await post('nope')
      assert.equal(unknown.status, 404)
      assert.equal(((await unknown.json()) as { code: string }).code, 'DRAGNET_NOT_FOUND')
      assert.equal((await post('slowish', false)).status, 401)
    } finally {
      await api.close()
      await node.stop()
      await server.close()
      await tmp.cleanup()
    }
  })
})
