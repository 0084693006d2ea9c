import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { loadConfig, type FeedConfig } from '../../../src/config/config.js'
import { isDragnetError } from '../../../src/errors.js'
import { Feeds } from '../../../src/feeds/index.js'
import { getFeed } from '../../../src/feeds/http.js'
import { silentLogger } from '../../../src/log.js'
import type { DragnetNode } from '../../../src/node.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

async function errorOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    if (isDragnetError(err)) return `${err.code}: ${err.message}`
    throw err
  }
}

/** A real server on loopback; `requests` logs each request's path. */
async function serve (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string, requests: string[], close: () => Promise<void> }> {
  const requests: string[] = []
  const server = createServer((req, res) => { requests.push(req.url ?? ''); handler(req, res) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => { server.closeAllConnections(); await new Promise<void>(resolve => server.close(() => { resolve() })) }
  }
}

function feed (over: Partial<FeedConfig> & Pick<FeedConfig, 'url'>): FeedConfig {
  return { name: 'f', kind: 'url-list', intervalMs: 60_000, retries: 0, retryDelayMs: 10, ...over }
}

describe('feeds: config', () => {
  it('takes the binding shape and resolves secret files against the config file', async () => {
    const tmp = await tempDir()
    try {
      const file = join(tmp.dir, 'node.yaml')
      await writeFile(file, [
        'feeds:',
        '  - { name: a, kind: taxii, url: "https://x.example/taxii2/root/", collection: c1, auth: { tokenFile: secrets/t }, tlp: green, intervalMs: 60000 }',
        '  - { name: b, kind: url-csv, url: "https://x.example/l.csv", auth: { user: u, passwordFile: /abs/p }, intervalMs: 1000, column: [2, ioc] }'
      ].join('\n'))
      const cfg = await loadConfig({ file })
      assert.deepEqual(cfg.feeds[0].auth, { tokenFile: join(tmp.dir, 'secrets', 't') })
      assert.deepEqual(cfg.feeds[1].auth, { user: 'u', passwordFile: '/abs/p' })
      assert.deepEqual(cfg.feeds[1].column, [2, 'ioc'])
      assert.deepEqual((await loadConfig()).feeds, [])
    } finally {
      await tmp.cleanup()
    }
  })

  it('refuses credentials in a URL, a taxii feed without collection, misplaced options, twin names', async () => {
    const bad = async (feeds: unknown[]): Promise<string> => await errorOf(loadConfig({ overrides: { feeds } }))
    const base = { name: 'a', kind: 'url-list', url: 'https://x.example/l.txt', intervalMs: 60000 }
    assert.match(await bad([{ ...base, url: 'https://u:secret@x.example/l.txt' }]), /DRAGNET_BAD_CONFIG: .*feeds\.0\.url: credentials do not go in the URL/)
    assert.match(await bad([{ ...base, url: 'ftp://x.example/l.txt' }]), /DRAGNET_BAD_CONFIG: .*feeds\.0\.url/)
    assert.match(await bad([{ ...base, kind: 'taxii' }]), /feeds\.0\.collection: a taxii feed needs collection/)
    assert.match(await bad([{ ...base, column: 2 }]), /feeds\.0\.column: column applies to url-csv/)
    assert.match(await bad([{ ...base, kind: 'rss' }]), /feeds\.0\.kind/)
    assert.match(await bad([{ ...base, intervalMs: 10 }]), /feeds\.0\.intervalMs/)
    assert.match(await bad([{ ...base, auth: { token: 'inline' } }]), /feeds\.0\.auth/)
    assert.match(await bad([base, base]), /feed names must be unique/)
  })
})

describe('feeds: HTTP', function () {
  this.timeout(30_000)

  it('retries 5xx and 429 with backoff, then succeeds; a 404 is not retried', async () => {
    let n = 0
    const server = await serve((req, res) => {
      if (req.url === '/flaky') { n++; res.writeHead(n === 1 ? 503 : n === 2 ? 429 : 200).end(n >= 3 ? '192.0.2.1\n' : '') } else res.writeHead(404).end()
    })
    try {
      const ok = await getFeed(feed({ url: `${server.url}/flaky`, retries: 2 }), `${server.url}/flaky`)
      assert.equal(ok.text, '192.0.2.1\n')
      assert.equal(n, 3)
      assert.match(await errorOf(getFeed(feed({ url: server.url, retries: 3 }), `${server.url}/gone`)), /DRAGNET_FEED_HTTP: .*HTTP 404/)
      assert.equal(server.requests.filter(r => r === '/gone').length, 1)
    } finally {
      await server.close()
    }
  })

  it('stops reading at maxBytes, whether Content-Length says so or not', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/declared') { res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000)); return }
      res.writeHead(200) // chunked: no length given
      for (let i = 0; i < 50; i++) res.write('y'.repeat(1000))
      res.end()
    })
    try {
      for (const path of ['/declared', '/chunked']) {
        assert.match(await errorOf(getFeed(feed({ url: server.url, maxBytes: 2048 }), `${server.url}${path}`)), /DRAGNET_TOO_LARGE: .*more than 2048 bytes/)
      }
    } finally {
      await server.close()
    }
  })

  it('sends Bearer and Basic credentials from their files; an unreadable file says which', async () => {
    const tmp = await tempDir()
    const seen: string[] = []
    const server = await serve((req, res) => { seen.push(req.headers.authorization ?? ''); res.writeHead(200).end('') })
    try {
      await writeFile(join(tmp.dir, 'token'), 'tok-123\n')
      await writeFile(join(tmp.dir, 'pw'), 'pw-456\n')
      await getFeed(feed({ url: server.url, auth: { tokenFile: join(tmp.dir, 'token') } }), server.url)
      await getFeed(feed({ url: server.url, auth: { user: 'bka', passwordFile: join(tmp.dir, 'pw') } }), server.url)
      assert.deepEqual(seen, ['Bearer tok-123', `Basic ${Buffer.from('bka:pw-456').toString('base64')}`])
      assert.match(await errorOf(getFeed(feed({ url: server.url, auth: { tokenFile: join(tmp.dir, 'missing') } }), server.url)), /DRAGNET_BAD_CONFIG: cannot read the feed's token file .*missing: ENOENT/)
    } finally {
      await server.close()
      await tmp.cleanup()
    }
  })
})

describe('feeds: runs', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let node: DragnetNode

  beforeEach(async () => {
    tmp = await tempDir()
    node = await testNode({ dir: tmp.dir })
  })

  afterEach(async () => {
    await node.stop()
    await tmp.cleanup()
  })

  const feedsFor = (configs: FeedConfig[]): Feeds => new Feeds({
    dataDir: tmp.dir,
    namespace: node.peerId,
    log: silentLogger(),
    publish: async (objects, tlp) => await node.publish(objects, { tlp, source: 'import', skipExisting: true })
  }, configs)

  it('TAXII without next: pages by X-TAXII-Date-Added-Last; a server saying more without either is refused', async () => {
    const objects = Array.from({ length: 5 }, (_, i) => indicator({ kind: 'ipv4', value: `192.0.2.${i + 1}` }))
    const dates = objects.map((_, i) => `2026-01-01T00:00:0${i}.000000Z`)
    const server = await serve((req, res) => {
      const u = new URL(req.url ?? '', 'http://x')
      if (u.pathname.startsWith('/stuck/')) { res.writeHead(200, { 'content-type': 'application/taxii+json;version=2.1' }).end(JSON.stringify({ more: true, objects: [] })); return }
      const after = u.searchParams.get('added_after')
      const from = after == null ? 0 : dates.indexOf(after) + 1
      const page = objects.slice(from, from + 2)
      const headers: Record<string, string> = { 'content-type': 'application/taxii+json;version=2.1' }
      if (page.length > 0) headers['x-taxii-date-added-last'] = dates[from + page.length - 1]
      res.writeHead(200, headers).end(JSON.stringify(page.length > 0 ? { more: from + page.length < objects.length, objects: page } : {}))
    })
    try {
      const feeds = feedsFor([
        feed({ name: 't', kind: 'taxii', url: `${server.url}/root/`, collection: 'c' }),
        feed({ name: 'stuck', kind: 'taxii', url: `${server.url}/stuck/`, collection: 'c' })
      ])
      const s = await feeds.run('t')
      assert.equal(s.result, 'ok', JSON.stringify(s.error))
      assert.equal(s.documents, 3)
      assert.equal(s.counts?.stored, 5)
      assert.equal(s.cursor, dates[4])
      assert.deepEqual(server.requests.map(r => new URL(r, 'http://x').searchParams.get('added_after')), [null, dates[1], dates[3]])
      const stuck = await feeds.run('stuck')
      assert.equal(stuck.error?.code, 'DRAGNET_BAD_FEED')
      assert.match(stuck.error!.message, /says more but gives neither next nor a later X-TAXII-Date-Added-Last/)
    } finally {
      await server.close()
    }
  })

  it('MISP: an event that fails is named, the others are imported, and only it is fetched again', async () => {
    const uuidOk = '11111111-2222-4333-8444-555555555555'
    const uuidBad = '66666666-7777-4888-8999-aaaaaaaaaaaa'
    let badWorks = false
    const event = (uuid: string): unknown => ({ Event: { uuid, info: 'e', date: '2026-01-01', timestamp: '1767225600', Attribute: [{ uuid: uuid.replace(/^.{8}/, 'bbbbbbbb'), type: 'domain', value: `${uuid.slice(0, 4)}.bad.example`, to_ids: true, timestamp: '1767225600' }] } })
    const server = await serve((req, res) => {
      if (req.url === '/manifest.json') { res.writeHead(200).end(JSON.stringify({ [uuidOk]: { timestamp: '1767225600' }, [uuidBad]: { timestamp: '1767225600' } })); return }
      if (req.url === `/${uuidBad}.json` && !badWorks) { res.writeHead(200).end('{"Event": '); return }
      const uuid = (req.url ?? '').slice(1, 37)
      res.writeHead(200).end(JSON.stringify(event(uuid)))
    })
    try {
      const feeds = feedsFor([feed({ name: 'm', kind: 'misp-feed', url: server.url })])
      const first = await feeds.run('m')
      assert.equal(first.result, 'error')
      assert.equal(first.error?.code, 'DRAGNET_BAD_JSON')
      assert.match(first.error!.message, new RegExp(`1 part of the feed failed .*event ${uuidBad}`))
      // One event: its indicator and the report MISP import makes for the event.
      assert.equal(first.counts?.stored, 2)
      assert.equal(first.events, 1)
      badWorks = true
      server.requests.length = 0
      const second = await feeds.run('m')
      assert.equal(second.result, 'ok')
      assert.deepEqual(server.requests, ['/manifest.json', `/${uuidBad}.json`])
      assert.equal(second.counts?.stored, 2)
      assert.equal(second.events, 2)
    } finally {
      await server.close()
    }
  })

  it('stop() cancels a run waiting on a slow server at once, and a run under way is joined, not doubled', async () => {
    const held: ServerResponse[] = []
    const server = await serve((_req, res) => { held.push(res) })
    try {
      const feeds = feedsFor([feed({ name: 'slow', url: `${server.url}/l.txt`, timeoutMs: 60_000 })])
      const a = feeds.run('slow')
      const b = feeds.run('slow')
      while (held.length === 0) await new Promise(resolve => setTimeout(resolve, 20))
      const t0 = Date.now()
      await feeds.stop()
      const [sa, sb] = await Promise.all([a, b])
      assert.ok(Date.now() - t0 < 5000, 'stop did not wait for the deadline')
      assert.equal(sa.error?.code, 'DRAGNET_STOPPED')
      assert.deepEqual(sa, sb)
      assert.equal(server.requests.length, 1)
      assert.match(await errorOf(feeds.run('nope')), /DRAGNET_NOT_FOUND: no feed nope \(configured: slow\)/)
    } finally {
      for (const r of held) r.destroy()
      await server.close()
    }
  })
})
