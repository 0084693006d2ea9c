import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { requireDeclaredAccess } from '../../../src/api/access.js'
import { routeList } from '../../../src/api/server.js'
import { createReadToken, NodeIdentity, revokeReadToken } from '../../../src/identity/index.js'
import type { Tlp } from '../../../src/record/index.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'
import { apiFixture, basic, bearer, READ_TOKEN, TAXII, WRITE_TOKEN, type ApiFixture } from './helpers.js'

/*
 * The API's trust boundary through inject(): access decided on the matched route (never the
 * URL's spelling), deny by default, Host names, read tokens with a TLP ceiling.
 */

const TLPS: Tlp[] = ['clear', 'green', 'amber', 'amber+strict', 'red']
/** The TLP 2.0 marking definition id of TLP:RED (OASIS). */
const TLP_RED_MARKING = 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1'

/** The objects of the records published here, without the provenance objects served beside them (markings, authors). */
function recordObjects (objects: any[]): any[] {
  return objects.filter(o => o.type === 'indicator' || o.type === 'malware')
}

interface Answer { status: number, body: any, raw: string }

async function call (fx: ApiFixture, url: string, opts: { method?: 'GET' | 'POST' | 'HEAD', headers?: Record<string, string>, payload?: string } = {}): Promise<Answer> {
  const r = await fx.app.inject({ method: opts.method ?? 'GET', url, headers: opts.headers ?? {}, ...(opts.payload != null ? { payload: opts.payload } : {}) })
  let body: any
  try { body = JSON.parse(r.body) } catch { body = undefined }
  return { status: r.statusCode, body, raw: r.body }
}

/** One indicator per TLP, each naming `shared.example` and an address of its own. */
async function publishEveryTlp (fx: ApiFixture): Promise<Record<Tlp, string>> {
  const ids: Partial<Record<Tlp, string>> = {}
  for (const [i, tlp] of TLPS.entries()) {
    const [v] = await fx.node.publish([indicator({ kind: 'domain', value: `host${i}.shared.example`, seed: `dom-${tlp}` })], { tlp })
    assert.equal(v.status, 'stored')
    ids[tlp] = (v as { id: string }).id
    await fx.node.publish([indicator({ kind: 'ipv4', value: `198.51.100.${i + 1}`, seed: `ip-${tlp}` }), malware(`m-${tlp}`)], { tlp })
  }
  return ids as Record<Tlp, string>
}

describe('api: the trust boundary (inject)', function () {
  this.timeout(30_000)

  describe('routes declare their access level', () => {
    it('refuses to start with a route that declares none', async () => {
      const app = Fastify()
      requireDeclaredAccess(app)
      assert.throws(() => app.get('/open', async () => 'x'), /declares no access level/)
      assert.throws(() => app.get('/typo', { config: { access: 'pubic' } }, async () => 'x'), /declares no access level/)
      app.get('/declared', { config: { access: 'read' } }, async () => 'x')
      await app.close()
    })

    it('every route of the node answers nothing without a token beyond loopback, /health aside', async () => {
      const fx = await apiFixture({}, { authenticateReads: true })
      try {
        const routes = routeList(fx.app)
        assert.ok(routes.length >= 19)
        for (const r of routes) {
          const [method, path] = r.split(' ')
          const url = path.replace('{root}', 'dragnet').replace('{cid}', 'tlp-clear').replace('{id}', '1220' + '0'.repeat(64))
            .replace('{oid}', 'malware--6a2b1c3d-4e5f-4a6b-8c7d-000000000001').replace('{sid}', 'x').replace('{job}', 'x').replace('{file}', 'x.js')
          const a = await call(fx, url, { method: method as 'GET' | 'POST', headers: { accept: TAXII, 'content-type': 'application/json' }, ...(method === 'POST' ? { payload: '{}' } : {}) })
          if (path === '/health') assert.equal(a.status, 200)
          // The console's files hold no data (every call they make carries the user's token).
          else if (path === '/' || path === '/assets/{file}') assert.ok(a.status === 200 || a.status === 404, `${r} answered ${a.status}`)
          else assert.equal(a.status, 401, `${r} answered ${a.status} without a token`)
        }
      } finally {
        await fx.close()
      }
    })
  })

  describe('auth is decided on the route that matched, not on the URL text', () => {
    let fx: ApiFixture
    before(async () => {
      fx = await apiFixture({}, { authenticateReads: true })
      await publishEveryTlp(fx)
    })
    after(async () => { await fx.close() })

    const spellings = [
      '/api/records', '/%61pi/records', '/%61%70%69/records', '/api/records/', '//api//records', '/API/records', '/Api/Records',
      '/api/./records', '/api/x/../records', '/api/%2e/records', '/api/records?tlp=red', '/%61pi/records?tlp=red',
      '/%61pi/lookup?value=198.51.100.5', '/%61pi/export', '/api/export/', '/%61pi/status', '/api/audit', '/%61pi/peers',
      '/metrics', '/metrics/', '/%6detrics', '/METRICS', '//metrics', '/api/openapi.json', '/%61pi/openapi.json',
      '/api/records/%31220' + '0'.repeat(64), '/taxii2/', '/%74axii2/', '/taxii2/dragnet/collections/tlp-red/objects/',
      '/taxii2//dragnet/collections/', '/api;/records', '/api/records;x', '/api%2frecords', '/%2fapi/records'
    ]

    it('no spelling reads anything without a token; with one, each answers as the route it reaches', async () => {
      for (const url of spellings) {
        const anon = await call(fx, url, { headers: { accept: TAXII } })
        assert.ok(anon.status === 401 || anon.status === 404, `${url}: ${anon.status} without a token: ${anon.raw.slice(0, 200)}`)
        assert.ok(!/"tlp":"red"|dragnet_records/.test(anon.raw), `${url} leaked content`)
        const admin = await call(fx, url, { headers: { accept: TAXII, ...bearer(WRITE_TOKEN) } })
        // A spelling that reaches a route is refused without a token (it is the route's answer, not the URL's).
        if (admin.status < 300) assert.equal(anon.status, 401, url)
      }
      // The bypass of issue 10: answered 200 with TLP:RED records before.
      assert.equal((await call(fx, '/%61pi/records?tlp=red')).status, 401)
      assert.equal((await call(fx, '/%61pi/records?tlp=red', { headers: bearer(WRITE_TOKEN) })).body.records.length, 3)
    })

    it('refuses a write without the API token before reading the body, whatever the spelling', async () => {
      const before = fx.node.store.counts().records
      for (const url of ['/api/records', '/%61pi/records', '//api/records/', '/API/records']) {
        for (const headers of [{}, bearer(READ_TOKEN), bearer('wrong-token-0123456789'), basic('x', WRITE_TOKEN.slice(1))]) {
          const a = await call(fx, url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(malware('sneaky')) })
          assert.ok([401, 403, 404].includes(a.status), `${url} ${JSON.stringify(headers)}: ${a.status}`)
        }
      }
      assert.equal(fx.node.store.counts().records, before, 'nothing stored')
    })

    it('caps bodies of unauthenticated requests and unknown routes small; an authenticated publish takes a big one', async () => {
      const big = JSON.stringify([malware('big', 'x'.repeat(100_000))])
      assert.equal((await call(fx, '/api/records', { method: 'POST', headers: { 'content-type': 'application/json' }, payload: big })).status, 401)
      const unknown = await call(fx, '/api/nothing', { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(WRITE_TOKEN) }, payload: big })
      assert.equal(unknown.body.code, 'DRAGNET_TOO_LARGE')
      const ok = await call(fx, '/api/records?tlp=green', { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(WRITE_TOKEN) }, payload: big })
      assert.equal(ok.status, 201, ok.raw)
    })
  })

  describe('Host header', () => {
    let fx: ApiFixture
    before(async () => {
      fx = await apiFixture({ config: { taxii: { publicClear: false, readTokens: [] }, http: { hosts: ['dragnet.bka.example'], publicUrl: 'https://dragnet.bka.example/intel/' } } })
    })
    after(async () => { await fx.close() })

    it('answers loopback names and configured names only (DNS rebinding gets 421)', async () => {
      for (const host of ['localhost', 'localhost:7700', '127.0.0.1', '127.9.8.7:1', '[::1]:7700', 'dragnet.bka.example', 'DRAGNET.BKA.EXAMPLE.:443']) {
        const a = await call(fx, '/api/status', { headers: { host } })
        assert.equal(a.status, 200, `${host}: ${a.raw}`)
      }
      for (const host of ['evil.example', 'evil.example:7700', 'localhost.evil.example', '127.0.0.1.evil.example', 'dragnet.bka.example.evil', '10.1.2.3', 'a b', 'x@localhost']) {
        for (const url of ['/api/status', '/api/records', '/health', '/metrics', '/api/nothing']) {
          const a = await call(fx, url, { headers: { host } })
          assert.equal(a.status, 421, `${host} ${url}: ${a.status}`)
          assert.equal(a.body.code, 'DRAGNET_BAD_HOST')
        }
        const t = await call(fx, '/taxii2/', { headers: { host, accept: TAXII, ...bearer(WRITE_TOKEN) } })
        assert.equal(t.status, 421)
        assert.equal(t.body.error_code, 'DRAGNET_BAD_HOST', 'a TAXII error message')
      }
    })

    it('TAXII discovery names the configured URL, never the Host header', async () => {
      for (const host of ['localhost', 'dragnet.bka.example']) {
        const d = await call(fx, '/taxii2/', { headers: { host, accept: TAXII, ...bearer(WRITE_TOKEN) } })
        assert.equal(d.body.default, 'https://dragnet.bka.example/intel/taxii2/dragnet/')
        assert.deepEqual(d.body.api_roots, [d.body.default])
      }
    })
  })

  describe('read tokens with a TLP ceiling', () => {
    let fx: ApiFixture
    let ids: Record<Tlp, string>
    let green: string
    before(async () => {
      const partner = await NodeIdentity.generate()
      fx = await apiFixture({ config: { taxii: { publicClear: false, readTokens: [] }, roster: [{ peerId: partner.peerId, name: 'partner', country: 'FR', role: 'bureau', addrs: [] }] } })
      ids = await publishEveryTlp(fx)
      green = (await createReadToken(fx.node.dataDir, 'siem', 'green')).token
    })
    after(async () => { await fx.close() })

    it('REST: records, one record, lookup, status, audit and export stop at the ceiling', async () => {
      const h = bearer(green)
      const records = await call(fx, '/api/records?limit=1000', { headers: h })
      assert.deepEqual([...new Set(records.body.records.map((r: any) => r.tlp))].sort(), ['clear', 'green'])
      assert.equal((await call(fx, '/api/records?tlp=red,amber', { headers: h })).body.records.length, 0)
      assert.equal((await call(fx, `/api/records/${ids.green}`, { headers: h })).status, 200)
      for (const t of ['amber', 'amber+strict', 'red'] as const) {
        const one = await call(fx, `/api/records/${ids[t]}`, { headers: h })
        assert.equal(one.status, 404, `${t} record is not disclosed`)
        const audit = await call(fx, `/api/audit?record=${ids[t]}`, { headers: h })
        assert.deepEqual(audit.body.entries, [])
      }
      const look = await call(fx, '/api/lookup?value=shared.example', { headers: h })
      assert.deepEqual(look.body.records.map((r: any) => r.tlp).sort(), ['clear', 'green'])
      const status = await call(fx, '/api/status', { headers: h })
      assert.deepEqual(Object.keys(status.body.byTlp).sort(), ['clear', 'green'])
      assert.equal(status.body.records, 6)
      const audit = await call(fx, '/api/audit?limit=1000', { headers: h })
      assert.ok(audit.body.entries.length > 0)
      const visible = new Set((records.body.records as any[]).map(r => r.id))
      for (const e of audit.body.entries) if (e.record != null) assert.ok(visible.has(e.record), `audit names ${String(e.record)}`)
      const bundle = JSON.parse((await call(fx, '/api/export?tlp=red,green', { headers: h })).raw)
      assert.deepEqual(recordObjects(bundle.objects).map(o => o.name).sort(), ['domain host1.shared.example', 'ipv4 198.51.100.2', 'malware m-green'], 'the green objects only')
      assert.ok(!JSON.stringify(bundle).includes(TLP_RED_MARKING), 'no TLP:RED marking either')
      // Without a token on loopback the REST API stays open, as before; the admin token sees all.
      assert.equal((await call(fx, '/api/records?tlp=red')).body.records.length, 3)
      assert.equal((await call(fx, '/api/records?tlp=red', { headers: bearer(WRITE_TOKEN) })).body.records.length, 3)
    })

    it('TAXII: collections above the ceiling are not listed and answer 404', async () => {
      const h = { accept: TAXII, ...bearer(green) }
      const list = await call(fx, '/taxii2/dragnet/collections/', { headers: h })
      assert.deepEqual(list.body.collections.map((c: any) => c.title), ['TLP:CLEAR', 'TLP:GREEN'])
      assert.equal(recordObjects((await call(fx, '/taxii2/dragnet/collections/tlp-green/objects/', { headers: h })).body.objects).length, 3)
      for (const c of ['tlp-amber', 'tlp-amber-strict', 'tlp-red']) {
        for (const tail of ['', 'objects/', 'manifest/', 'objects/malware--6a2b1c3d-4e5f-4a6b-8c7d-000000000001/']) {
          const a = await call(fx, `/taxii2/dragnet/collections/${c}/${tail}`, { headers: h })
          assert.equal(a.status, 404, `${c}/${tail}`)
        }
      }
      // Basic with the token as password works the same.
      assert.equal((await call(fx, '/taxii2/dragnet/collections/', { headers: { accept: TAXII, ...basic('opencti', green) } })).body.collections.length, 2)
    })

    it('a reader below RED gets no arrival numbers: none in records, a sealed listing cursor', async () => {
      const h = bearer(green)
      const seen: string[] = []
      let next: string | undefined
      do {
        const page = await call(fx, `/api/records?limit=1${next != null ? `&cursor=${next}` : ''}`, { headers: h })
        assert.equal(page.status, 200)
        for (const r of page.body.records) { seen.push(r.id); assert.equal(r.local.arrival, undefined) }
        next = page.body.next
        if (next != null) assert.doesNotMatch(Buffer.from(next, 'base64url').toString('latin1'), /^r1\.\d+$/, 'not a plain arrival number')
      } while (next != null)
      assert.equal(seen.length, 6, 'paging reaches every visible record once')
      assert.equal(new Set(seen).size, 6)
      assert.equal((await call(fx, `/api/records/${ids.green}`, { headers: h })).body.local.arrival, undefined)
      const forged = Buffer.from('r1.0').toString('base64url')
      assert.equal((await call(fx, `/api/records?limit=1&cursor=${forged}`, { headers: h })).status, 400)
      const admin = await call(fx, '/api/records?limit=1', { headers: bearer(WRITE_TOKEN) })
      assert.equal(typeof admin.body.records[0].local.arrival, 'number')
    })

    it('a reader below RED sees the members on /api/peers, not their traffic counters', async () => {
      const reader = await call(fx, '/api/peers', { headers: bearer(green) })
      assert.equal(reader.status, 200)
      assert.equal(reader.body.peers.length, 1)
      for (const p of reader.body.peers) assert.deepEqual(Object.keys(p).sort(), ['connected', 'country', 'name', 'peerId', 'role'])
      assert.equal(reader.body.gossip, undefined)
      assert.equal(reader.body.sync, undefined)
      const admin = await call(fx, '/api/peers', { headers: bearer(WRITE_TOKEN) })
      assert.equal(admin.body.peers.length, reader.body.peers.length)
    })

    it('metrics count every record, so a reader below RED gets none of them', async () => {
      const refused = await call(fx, '/metrics', { headers: bearer(green) })
      assert.equal(refused.status, 403)
      assert.equal(refused.body.code, 'DRAGNET_FORBIDDEN')
      assert.ok(!refused.raw.includes('dragnet_records'))
      const red = (await createReadToken(fx.node.dataDir, 'prometheus', 'red')).token
      const scraped = await call(fx, '/metrics', { headers: bearer(red) })
      assert.equal(scraped.status, 200)
      assert.match(scraped.raw, /dragnet_records\{tlp="red"\} 3/)
    })

    it('never writes', async () => {
      const before = fx.node.store.counts().records
      const a = await call(fx, '/api/records', { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(green) }, payload: JSON.stringify(malware('by-reader')) })
      assert.equal(a.status, 403)
      assert.equal(a.body.code, 'DRAGNET_FORBIDDEN')
      assert.equal(fx.node.store.counts().records, before)
    })

    it('is refused from the request after it is revoked, and a new one counts at once', async () => {
      const { token } = await createReadToken(fx.node.dataDir, 'short-lived', 'amber')
      assert.equal((await call(fx, '/api/records?tlp=amber', { headers: bearer(token) })).body.records.length, 3)
      await revokeReadToken(fx.node.dataDir, 'short-lived')
      assert.equal((await call(fx, '/api/records', { headers: bearer(token) })).status, 403)
      assert.equal((await call(fx, '/taxii2/dragnet/collections/', { headers: { accept: TAXII, ...bearer(token) } })).status, 401)
      assert.equal((await call(fx, '/api/records', { headers: bearer(green) })).status, 200, 'the other token stays')
    })

    it('the deprecated taxii.readTokens read every TLP, and never write', async () => {
      const legacy = await apiFixture({}, { readTokens: [READ_TOKEN] })
      try {
        await legacy.node.publish([malware('r')], { tlp: 'red' })
        const list = await call(legacy, '/taxii2/dragnet/collections/', { headers: { accept: TAXII, ...bearer(READ_TOKEN) } })
        assert.equal(list.body.collections.length, 5)
        const post = await call(legacy, '/api/records', { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(READ_TOKEN) }, payload: JSON.stringify(malware('x')) })
        assert.equal(post.status, 403)
      } finally {
        await legacy.close()
      }
    })
  })
})
