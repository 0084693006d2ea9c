import assert from 'node:assert/strict'
import { routeList } from '../../../src/api/server.js'
import { ERROR_STATUS } from '../../../src/errors.js'
import { NodeIdentity } from '../../../src/identity/index.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'
import { apiFixture, bearer, WRITE_TOKEN, type ApiFixture } from './helpers.js'

describe('api: REST routes (inject, no socket)', function () {
  this.timeout(30_000)
  let fx: ApiFixture
  let peer: NodeIdentity

  const post = async (body: unknown, query = '', headers: Record<string, string> = bearer(WRITE_TOKEN)): Promise<{ status: number, body: any }> => {
    const r = await fx.app.inject({ method: 'POST', url: `/api/records${query}`, headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
    return { status: r.statusCode, body: JSON.parse(r.body) }
  }
  const get = async (url: string): Promise<{ status: number, body: any, headers: Record<string, unknown> }> => {
    const r = await fx.app.inject({ url })
    return { status: r.statusCode, body: r.headers['content-type']?.toString().includes('json') ? JSON.parse(r.body) : r.body, headers: r.headers }
  }

  beforeEach(async () => {
    peer = await NodeIdentity.generate()
    fx = await apiFixture({ config: { roster: [{ peerId: peer.peerId, name: 'peer', country: 'FR', role: 'bureau', addrs: ['/ip4/127.0.0.1/tcp/1'] }] } }, { bodyLimit: 64 * 1024 })
  })

  afterEach(async () => { await fx.close() })

  describe('errors', () => {
    it('maps every failure to JSON { code, message } with the status from the one table', async () => {
      const cases: Array<[Promise<{ status: number, body: any }>, string]> = [
        [post(malware('a'), '', {}), 'DRAGNET_UNAUTHORIZED'],
        [post(malware('a'), '', bearer('wrong')), 'DRAGNET_FORBIDDEN'],
        [post('{"type": ', ''), 'DRAGNET_BAD_JSON'],
        [post({ type: 'malware', spec_version: '2.1' }), 'DRAGNET_STIX_INVALID'],
        [post(42), 'DRAGNET_NOT_STIX'],
        [post(malware('a'), '?tlp=purple'), 'DRAGNET_BAD_TLP'],
        [post(malware('a'), '?skipExisting=maybe'), 'DRAGNET_BAD_REQUEST'],
        [post(malware('a'), '?source=gossip'), 'DRAGNET_BAD_REQUEST'],
        [post({ type: 'bundle', id: 'bundle--1', spec_version: '2.0', objects: [] }), 'DRAGNET_STIX_VERSION'],
        [post(Array.from({ length: 200 }, (_, i) => malware(`big-${i}`, 'x'.repeat(500)))), 'DRAGNET_TOO_LARGE']
      ]
      for (const [p, code] of cases) {
        const r = await p
        assert.equal(r.body.code, code, JSON.stringify(r.body).slice(0, 300))
        assert.equal(r.status, ERROR_STATUS[code as keyof typeof ERROR_STATUS])
        assert.equal(typeof r.body.message, 'string')
      }
      const wrongType = await fx.app.inject({ method: 'POST', url: '/api/records', headers: { 'content-type': 'text/plain', ...bearer(WRITE_TOKEN) }, payload: 'x' })
      assert.equal(wrongType.statusCode, 415)
      assert.equal(JSON.parse(wrongType.body).code, 'DRAGNET_UNSUPPORTED_MEDIA_TYPE')
      const nowhere = await get('/api/nothing')
      assert.equal(nowhere.status, 404)
      assert.equal(nowhere.body.code, 'DRAGNET_NOT_FOUND')
      assert.equal(fx.node.store.counts().records, 0, 'nothing malformed or unauthorised was stored')
    })
  })

  describe('records', () => {
    it('publishes with skipExisting: an object already published, in any version, is not stored again', async () => {
      const v1 = indicator({ kind: 'ipv4', value: '192.0.2.1', modified: '2026-01-01T00:00:00.000Z' })
      const first = await post([v1, malware('m')], '?tlp=clear&source=import&skipExisting=true')
      assert.equal(first.status, 201)
      assert.equal(first.body.stored, 2)
      const v2 = { ...v1, modified: '2026-02-01T00:00:00.000Z' }
      const again = await post([v2, malware('m')], '?tlp=clear&source=import&skipExisting=true')
      assert.deepEqual([again.body.stored, again.body.duplicates], [0, 2])
      const stixType = await fx.app.inject({ method: 'POST', url: '/api/records?tlp=clear', headers: { 'content-type': 'application/stix+json;version=2.1', ...bearer(WRITE_TOKEN) }, payload: JSON.stringify(malware('stix-media-type')) })
      assert.equal(stixType.statusCode, 201, 'a body labelled with the STIX media type is JSON')
      const plain = await post([v2], '?tlp=clear')
      assert.equal(plain.body.stored, 1, 'without skipExisting a newer version is stored')
      const audit = await get(`/api/audit?record=${String(first.body.results[0].id)}`)
      assert.equal(audit.body.entries[0].rule, 'local:import')
    })

    it('lists records in arrival order with filters and an opaque cursor', async () => {
      await post([indicator({ kind: 'ipv4', value: '192.0.2.1' }), malware('a'), indicator({ kind: 'ipv4', value: '192.0.2.2' })], '?tlp=green')
      await post([malware('b'), indicator({ kind: 'ipv4', value: '192.0.2.3' })], '?tlp=amber')
      const all = await get('/api/records')
      assert.equal(all.body.records.length, 5)
      assert.ok(!('next' in all.body))
      assert.deepEqual(all.body.records.map((r: any) => r.local.arrival), [1, 2, 3, 4, 5])
      assert.equal(typeof all.body.records[0].sig, 'string')
      const ind = await get('/api/records?type=indicator&limit=2')
      assert.equal(ind.body.records.length, 2)
      const rest = await get(`/api/records?type=indicator&limit=2&cursor=${String(ind.body.next)}`)
      assert.deepEqual(rest.body.records.map((r: any) => r.body.type), ['indicator'])
      assert.ok(!('next' in rest.body))
      assert.deepEqual((await get('/api/records?tlp=amber,red')).body.records.map((r: any) => r.tlp), ['amber', 'amber'])
      assert.equal((await get(`/api/records?author=${fx.node.peerId}`)).body.records.length, 5)
      assert.equal((await get(`/api/records?author=${peer.peerId}`)).body.records.length, 0)
      assert.equal((await get(`/api/records?since=${new Date(Date.now() + 60_000).toISOString()}`)).body.records.length, 0)
      for (const q of ['limit=0', 'limit=1001', 'cursor=abc', 'tlp=blue', 'since=tomorrow']) assert.equal((await get(`/api/records?${q}`)).status, 400, q)
    })

    it('gets a record by id, and looks observables up', async () => {
      const r = await post(indicator({ kind: 'domain', value: 'evil.example' }), '?tlp=green')
      const id = String(r.body.results[0].id)
      const rec = await get(`/api/records/${id}`)
      assert.equal(rec.body.local.current, true)
      assert.equal((await get('/api/records/1220' + '0'.repeat(64))).status, 404)
      assert.equal((await get('/api/records/nope')).status, 400)
      const hit = await get('/api/lookup?value=EVIL.EXAMPLE.')
      assert.equal(hit.body.kind, 'domain')
      assert.deepEqual(hit.body.records.map((x: any) => x.id), [id])
      assert.equal((await get('/api/lookup')).status, 400)
    })

    it('exports current objects as one bundle, streamed, with filters', async () => {
      const v1 = indicator({ kind: 'ipv4', value: '192.0.2.1', modified: '2026-01-01T00:00:00.000Z' })
      await post([v1, malware('a')], '?tlp=green')
      await post([{ ...v1, modified: '2026-02-01T00:00:00.000Z' }], '?tlp=green')
      await post([indicator({ kind: 'ipv4', value: '192.0.2.9', revoked: true }), indicator({ kind: 'ipv4', value: '192.0.2.8', validUntil: '2026-01-02T00:00:00.000Z' })], '?tlp=green')
      await post([malware('red')], '?tlp=red')
      const r = await fx.app.inject({ url: '/api/export?tlp=green&raw=true' })
      assert.equal(r.headers['content-type'], 'application/stix+json;version=2.1')
      const bundle = JSON.parse(r.body)
      assert.equal(bundle.type, 'bundle')
      assert.match(bundle.id, /^bundle--/)
      assert.deepEqual(bundle.objects.map((o: any) => `${String(o.type)}@${String(o.modified)}`).sort(), ['indicator@2026-02-01T00:00:00.000Z', 'malware@2026-01-01T00:00:00.000Z'])
      assert.deepEqual(JSON.parse((await fx.app.inject({ url: '/api/export?type=malware&raw=true' })).body).objects.length, 2)
      assert.equal((await fx.app.inject({ url: '/api/export?tlp=purple' })).statusCode, 400)
      assert.equal((await fx.app.inject({ url: '/api/export?since=someday' })).statusCode, 400)
    })
  })

  describe('node', () => {
    it('health, status, peers (offline: the roster, not connected), audit', async () => {
      assert.deepEqual((await get('/health')).body, { ok: true, peerId: fx.node.peerId, running: true })
      assert.equal((await get('/api/status')).body.peerId, fx.node.peerId)
      const peers = await get('/api/peers')
      assert.equal(peers.body.running, false)
      assert.deepEqual(peers.body.peers.map((p: any) => [p.peerId, p.connected]), [[peer.peerId, false]])
      await post(malware('x'))
      const audit = await get('/api/audit?limit=1')
      assert.equal(audit.body.entries.length, 1)
      assert.equal(audit.body.entries[0].verdict, 'accept')
      assert.equal((await get('/api/audit?limit=0')).status, 400)
      assert.equal((await get('/api/audit?peer=not!a!peer')).status, 400)
      assert.equal((await get('/api/audit?record=1234')).status, 400)
    })

    it('Prometheus metrics: records by TLP, verdicts by source and reason, propagation delay, process', async () => {
      await post([malware('a'), malware('b')], '?tlp=amber')
      await post(malware('a'), '?tlp=amber')
      const r = await get('/metrics')
      assert.match(String(r.headers['content-type']), /^text\/plain/)
      const text = String(r.body)
      assert.match(text, /^dragnet_records\{tlp="amber"\} 2$/m)
      assert.match(text, /^dragnet_ingest_verdicts_total\{source="local",verdict="stored",reason="accepted"\} 2$/m)
      assert.match(text, /^dragnet_ingest_verdicts_total\{source="local",verdict="duplicate",reason="already-stored"\} 1$/m)
      assert.match(text, /^dragnet_propagation_delay_seconds_count\{source="local"\} 2$/m)
      assert.match(text, /^dragnet_peers_connected 0$/m)
      assert.match(text, /^dragnet_nodejs_eventloop_lag_seconds /m)
      assert.match(text, /^dragnet_process_resident_memory_bytes /m)
    })

    it('OpenAPI 3 describes every route the server has', async () => {
      const doc = (await get('/api/openapi.json')).body
      assert.equal(doc.openapi, '3.0.3')
      const documented = new Set<string>()
      for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
        for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`)
      }
      const routes = routeList(fx.app)
      assert.ok(routes.length >= 19)
      for (const r of routes) {
        const [method, path] = r.split(' ')
        const withSlash = path.endsWith('/') ? path : `${path}/`
        assert.ok(documented.has(r) || documented.has(`${method} ${withSlash}`), `route ${r} is not in the OpenAPI document`)
      }
      assert.deepEqual(doc.components.schemas.Error.properties.code.enum, Object.keys(ERROR_STATUS))
    })
  })
})
