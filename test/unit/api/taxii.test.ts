import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { NodeIdentity } from '../../../src/identity/index.js'
import { createRecord, type Tlp } from '../../../src/record/index.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'
import { apiFixture, basic, bearer, READ_TOKEN, recordObjects, TAXII, WRITE_TOKEN, type ApiFixture } from './helpers.js'

/*
 * The TAXII 2.1 server driven through fastify inject(), as a client reading the specification
 * would: plain requests with Accept and Authorization headers, responses checked for the media
 * type, the envelope shape and the X-TAXII-Date-Added headers.
 */

// Collection ids are fixed (the same on every node); a client learns them from /collections/.
interface Collection { id: string, title: string, alias: string, can_read: boolean, can_write: boolean, media_types: string[] }

const T1 = '2026-01-01T00:00:00.000Z'
const T2 = '2026-02-01T00:00:00.000Z'
const T3 = '2026-03-01T00:00:00.000Z'
const SCO_ID = 'ipv4-addr--7b1a6c2e-45a1-4c5e-9f7e-3d2b1a0c9e8f'

describe('taxii: the read-only TAXII 2.1 server', function () {
  this.timeout(30_000)
  let fx: ApiFixture
  let closedFx: ApiFixture
  let cols: Record<string, Collection>
  let peer: NodeIdentity
  const versioned = (modified: string): Record<string, unknown> => indicator({ kind: 'domain', value: 'versioned.example', seed: 'versioned', created: T1, modified })
  let batch1At: number

  const get = async (url: string, headers: Record<string, string> = bearer(READ_TOKEN), app = fx.app): Promise<{ status: number, headers: Record<string, unknown>, body: any, raw: string }> => {
    const r = await app.inject({ method: 'GET', url, headers: { accept: TAXII, ...headers } })
    return { status: r.statusCode, headers: r.headers, body: r.body === '' ? undefined : JSON.parse(r.body), raw: r.body }
  }
  // The envelope with the records' objects only (the markings and identities served with them
  // are checked in provenance.test.ts); an envelope without objects stays as it came.
  const objects = async (tlp: string, query = '', headers?: Record<string, string>): Promise<any> => {
    const r = await get(`/taxii2/dragnet/collections/${cols[tlp].id}/objects/${query}`, headers)
    assert.equal(r.status, 200, r.raw)
    if (r.body?.objects == null) return r.body
    return { ...r.body, objects: recordObjects(r.body.objects, [fx.node.peerId, peer.peerId]) }
  }

  before(async () => {
    peer = await NodeIdentity.generate()
    fx = await apiFixture({ config: { taxii: { publicClear: true, readTokens: [] }, roster: [{ peerId: peer.peerId, name: 'peer', country: 'FR', role: 'bureau', addrs: [] }] } })
    closedFx = await apiFixture({ config: { taxii: { publicClear: false, readTokens: [] } } }, { readTokens: [] })
    const pub = async (objs: Array<Record<string, unknown>>, tlp: Tlp): Promise<void> => {
      const vs = await fx.node.publish(objs, { tlp })
      for (const v of vs) assert.equal(v.status, 'stored', JSON.stringify(v))
    }
    // Batch 1 (one date_added for all): three clear objects, the first version of one, others.
    await pub([indicator({ kind: 'ipv4', value: '192.0.2.1' }), malware('m1'), versioned(T1), { type: 'ipv4-addr', spec_version: '2.1', id: SCO_ID, value: '192.0.2.9' }], 'clear')
    batch1At = (await fx.node.store.getInfo((await fx.node.store.versions(SCO_ID))[0].id))!.addedAt
    await sleep(5)
    // Batch 2: newer versions, other collections.
    await pub([versioned(T2), versioned(T3)], 'clear')
    await pub([indicator({ kind: 'ipv4', value: '192.0.2.2' }), indicator({ kind: 'ipv4', value: '192.0.2.3' })], 'green')
    await pub([indicator({ kind: 'ipv4', value: '192.0.2.4' })], 'amber')
    await pub([indicator({ kind: 'ipv4', value: '192.0.2.5' })], 'red')
    // A peer's copy of version T2 (a second record of one version): listed once. Ingest refuses
    // other members' records for an owned id now; stores written before that may hold such copies.
    const copy = createRecord(peer, { seq: 1, ts: Date.now(), tlp: 'clear', body: versioned(T2) as any })
    const [v] = await fx.node.ingest.receive([{ bytes: copy.bytes, from: peer.peerId, source: 'gossip' }])
    assert.equal(v.status, 'rejected', JSON.stringify(v))
    await fx.node.store.write([{ record: copy, source: 'gossip', from: peer.peerId, modified: T2, revoked: false, observables: [], newOwner: false, scopes: ['clear'] }])
    const list = await get('/taxii2/dragnet/collections/', bearer(WRITE_TOKEN))
    cols = Object.fromEntries((list.body.collections as Collection[]).map(c => [c.title.slice(4).toLowerCase(), c]))
  })

  after(async () => {
    await fx?.close()
    await closedFx?.close()
  })

  describe('media type', () => {
    it('answers exactly application/taxii+json;version=2.1, on success and on error', async () => {
      for (const url of ['/taxii2/', '/taxii2/dragnet/', '/taxii2/dragnet/collections/', `/taxii2/dragnet/collections/${cols.clear.id}/objects/`, '/taxii2/nope/', `/taxii2/dragnet/collections/${cols.clear.id}/objects/?limit=x`]) {
        const r = await get(url)
        assert.equal(r.headers['content-type'], TAXII, url)
      }
    })

    it('answers 406 to an Accept it cannot satisfy', async () => {
      for (const accept of ['application/json', 'application/taxii+json;version=2.0', 'text/html']) {
        const r = await fx.app.inject({ url: '/taxii2/', headers: { accept, ...bearer(READ_TOKEN) } })
        assert.equal(r.statusCode, 406, accept)
        assert.equal(r.headers['content-type'], TAXII)
        assert.equal(JSON.parse(r.body).error_code, 'DRAGNET_NOT_ACCEPTABLE')
      }
    })
  })

  describe('authentication and authorisation', () => {
    it('lets a read token or the write token see every collection, by Bearer or Basic (any user name)', async () => {
      for (const h of [bearer(READ_TOKEN), bearer(WRITE_TOKEN), basic('analyst', READ_TOKEN), basic('', WRITE_TOKEN), { authorization: `bearer ${READ_TOKEN}` }]) {
        const r = await get('/taxii2/dragnet/collections/', h)
        assert.equal(r.status, 200)
        assert.deepEqual(r.body.collections.map((c: Collection) => c.title), ['TLP:CLEAR', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:RED'])
        for (const c of r.body.collections as Collection[]) {
          assert.equal(c.can_read, true)
          assert.equal(c.can_write, false)
          assert.deepEqual(c.media_types, ['application/stix+json;version=2.1'])
        }
        assert.equal((await objects('red', '', h)).objects.length, 1)
      }
    })

    it('serves TLP:CLEAR alone to anonymous callers when public, and 401 for the rest', async () => {
      const r = await get('/taxii2/dragnet/collections/', {})
      assert.deepEqual(r.body.collections.map((c: Collection) => c.title), ['TLP:CLEAR'])
      assert.equal((await objects('clear', '', {})).objects.length, 4)
      for (const tlp of ['green', 'amber', 'amber+strict', 'red']) {
        const denied = await get(`/taxii2/dragnet/collections/${cols[tlp].id}/objects/`, {})
        assert.equal(denied.status, 401, tlp)
        assert.equal(denied.body.error_code, 'DRAGNET_UNAUTHORIZED')
        assert.match(String(denied.headers['www-authenticate']), /Basic/)
      }
    })

    it('answers 401 without a token when nothing is public, and for a token that matches none', async () => {
      for (const url of ['/taxii2/', '/taxii2/dragnet/', '/taxii2/dragnet/collections/', `/taxii2/dragnet/collections/${cols.clear.id}/objects/`]) {
        assert.equal((await get(url, {}, closedFx.app)).status, 401, url)
      }
      for (const h of [bearer('wrong-token-0123456789'), basic('analyst', 'wrong'), { authorization: 'Digest abc' }, { authorization: 'Bearer' }]) {
        const r = await get('/taxii2/dragnet/collections/', h)
        assert.equal(r.status, 401, JSON.stringify(h))
        assert.equal(r.body.http_status, '401')
      }
      // A read token this node was not given opens nothing; its own API token does.
      assert.equal((await get('/taxii2/dragnet/collections/', bearer(READ_TOKEN), closedFx.app)).status, 401)
      assert.equal((await get('/taxii2/dragnet/collections/', bearer(WRITE_TOKEN), closedFx.app)).status, 200)
    })

    it('answers 403 to every write, with or without a token, before reading the body', async () => {
      const base = `/taxii2/dragnet/collections/${cols.clear.id}/objects/`
      for (const [method, url] of [['POST', base], ['PUT', base], ['PATCH', base], ['DELETE', `${base}${SCO_ID}/`], ['POST', '/taxii2/dragnet/collections/'], ['POST', '/taxii2/']] as const) {
        for (const h of [{}, bearer(WRITE_TOKEN)]) {
          const r = await fx.app.inject({ method, url, headers: { accept: TAXII, 'content-type': TAXII, ...h }, payload: '{"objects": [' })
          assert.equal(r.statusCode, 403, `${method} ${url}`)
          assert.equal(r.headers['content-type'], TAXII)
          assert.equal(JSON.parse(r.body).error_code, 'DRAGNET_FORBIDDEN')
        }
      }
      assert.equal(fx.node.store.counts().records, 11, 'nothing stored')
    })
  })

  describe('discovery, API root, collections', () => {
    it('describes the server and its one API root', async () => {
      const d = await get('/taxii2/')
      assert.equal(d.status, 200)
      assert.ok(d.body.title.length > 0)
      // Built from the configuration (here the default api address), never from the Host header.
      assert.equal(d.body.default, 'http://127.0.0.1:7700/taxii2/dragnet/')
      assert.deepEqual(d.body.api_roots, [d.body.default])
      assert.ok(!('contact' in d.body), 'optional properties left out, not empty')
      const root = await get('/taxii2/dragnet/')
      assert.deepEqual(root.body.versions, [TAXII])
      assert.equal(typeof root.body.max_content_length, 'number')
      assert.equal((await get('/taxii2/dragnet')).status, 200, 'the trailing slash is optional')
    })

    it('answers one collection, by id or alias; 404 for unknown ones and statuses', async () => {
      const c = await get(`/taxii2/dragnet/collections/${cols.green.id}/`)
      assert.deepEqual(c.body, cols.green)
      assert.deepEqual((await get('/taxii2/dragnet/collections/tlp-green/')).body, cols.green)
      for (const url of ['/taxii2/dragnet/collections/00000000-0000-4000-8000-000000000000/', '/taxii2/other/collections/', `/taxii2/dragnet/collections/${cols.clear.id}/objects/${'indicator--00000000-0000-4000-8000-000000000000'}/`, '/taxii2/dragnet/status/1234/', '/taxii2/dragnet/nothing/']) {
        const r = await get(url)
        assert.equal(r.status, 404, url)
        assert.equal(r.body.error_code, 'DRAGNET_NOT_FOUND')
      }
    })

    it('leaves optional members out of an empty envelope or manifest (and their headers)', async () => {
      const none = await objects('clear', '?match[type]=tool')
      assert.deepEqual(none, {})
      const r = await get(`/taxii2/dragnet/collections/${cols.clear.id}/manifest/?match[type]=tool`)
      assert.deepEqual(r.body, {})
      assert.equal(r.headers['x-taxii-date-added-first'], undefined)
    })
  })

  describe('objects and filters', () => {
    const ids = (env: any): string[] => (env.objects ?? []).map((o: any) => `${String(o.id)}@${String(o.modified ?? '')}`)

    it('lists a collection in date_added order, the last version of each object by default', async () => {
      const env = await objects('clear')
      assert.equal(env.more, false)
      assert.ok(!('next' in env))
      assert.deepEqual(ids(env).map(s => s.split('--')[0]), ['indicator', 'malware', 'ipv4-addr', 'indicator'])
      assert.ok(ids(env).includes(`${String(versioned(T3).id)}@${T3}`))
      assert.ok(!ids(env).some(s => s.endsWith(T1) && s.startsWith(String(versioned(T1).id))))
    })

    it('sets X-TAXII-Date-Added-First/Last from the page, with microseconds', async () => {
      const r = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/`)
      const first = String(r.headers['x-taxii-date-added-first'])
      const last = String(r.headers['x-taxii-date-added-last'])
      assert.match(first, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      assert.ok(first <= last)
      assert.equal(first, new Date(batch1At).toISOString().replace('Z', '000Z'))
    })

    it('match[version]: first, last, all (one entry per version, copies folded), timestamps', async () => {
      const id = String(versioned(T1).id)
      const of = async (v: string): Promise<string[]> => ids(await objects('clear', `?match[id]=${id}&match[version]=${v}`)).map(s => s.split('@')[1])
      assert.deepEqual(await of('last'), [T3])
      assert.deepEqual(await of('first'), [T1])
      assert.deepEqual(await of('all'), [T1, T2, T3])
      assert.deepEqual(await of(T2), [T2])
      assert.deepEqual(await of(`first,${T3}`), [T1, T3])
      assert.deepEqual(await of('2026-02-01T00:00:00.000000Z'), [T2], 'microsecond spelling of the same version')
      assert.deepEqual(await of('2025-01-01T00:00:00Z'), [])
      // An object that carries no modified (an SCO) has one version: its date_added.
      const sco = await objects('clear', `?match[id]=${SCO_ID}&match[version]=${new Date(batch1At).toISOString()}`)
      assert.equal(sco.objects.length, 1)
    })

    it('match[type] and match[id] take lists; match[spec_version] 2.1 matches, 2.0 does not', async () => {
      assert.deepEqual(ids(await objects('clear', '?match[type]=malware,ipv4-addr')).map(s => s.split('--')[0]), ['malware', 'ipv4-addr'])
      assert.equal((await objects('clear', `?match[id]=${SCO_ID},${String(malware('m1').id)}`)).objects.length, 2)
      assert.equal((await objects('clear', '?match[spec_version]=2.1')).objects.length, 4)
      assert.deepEqual(await objects('clear', '?match[spec_version]=2.0'), {})
      assert.equal((await objects('green', '?match[type]=indicator')).objects.length, 2)
    })

    it('added_after is strict: objects added at that very instant are left out', async () => {
      const at = new Date(batch1At).toISOString()
      const env = await objects('clear', `?added_after=${at}&match[version]=all`)
      assert.deepEqual(ids(env).map(s => s.split('@')[1]).sort(), [T2, T3])
      const before = new Date(batch1At - 1).toISOString()
      assert.equal((await objects('clear', `?added_after=${before}`)).objects.length, 4)
      assert.deepEqual(await objects('clear', `?added_after=${new Date(Date.now() + 60_000).toISOString()}`), {})
    })

    it('answers 400 with a TAXII error for malformed filters', async () => {
      for (const q of ['?limit=0', '?added_after=soon', '?match[version]=latest', '?match[colour]=red', '?next=bogus']) {
        const r = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${q}`)
        assert.equal(r.status, 400, q)
        assert.equal(r.body.error_code, 'DRAGNET_BAD_REQUEST')
        assert.equal(r.body.http_status, '400')
      }
    })
  })

  describe('one object, its versions, the manifest', () => {
    const vid = (): string => String(versioned(T1).id)

    it('gets one object, last version by default, all on request; 404 in a collection without it', async () => {
      const r = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}/`)
      assert.deepEqual(r.body.objects.map((o: any) => o.modified), [T3])
      const all = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}/?match[version]=all&limit=2`)
      assert.deepEqual(all.body.objects.map((o: any) => o.modified), [T1, T2])
      assert.equal(all.body.more, true)
      const rest = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}/?match[version]=all&limit=2&next=${String(all.body.next)}`)
      assert.deepEqual(rest.body.objects.map((o: any) => o.modified), [T3])
      assert.equal(rest.body.more, false)
      assert.equal((await get(`/taxii2/dragnet/collections/${cols.green.id}/objects/${vid()}/`)).status, 404)
      assert.equal((await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}!2026/`)).status, 400, 'not a STIX id')
    })

    it('lists versions oldest first, each once, paged', async () => {
      const r = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}/versions/`)
      assert.deepEqual(r.body, { more: false, versions: [T1, T2, T3] })
      assert.match(String(r.headers['x-taxii-date-added-last']), /Z$/)
      const p1 = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}/versions/?limit=2`)
      assert.deepEqual(p1.body.versions, [T1, T2])
      const p2 = await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}/versions/?limit=2&next=${String(p1.body.next)}`)
      assert.deepEqual(p2.body, { more: false, versions: [T3] })
      assert.equal((await get(`/taxii2/dragnet/collections/${cols.clear.id}/objects/${vid()}/versions/?match[type]=x`)).status, 400)
    })

    it('the manifest names id, date_added, version and media type per object, with the same filters', async () => {
      const r = await get(`/taxii2/dragnet/collections/${cols.clear.id}/manifest/?match[version]=all`)
      // Manifest entries carry ids only: the members' locations and located-at relationships go by type.
      assert.equal(recordObjects(r.body.objects as Array<{ id: string }>, [fx.node.peerId, peer.peerId]).filter(m => !/^(location|relationship)--/.test(m.id)).length, 6)
      for (const m of r.body.objects) {
        assert.deepEqual(Object.keys(m).sort(), ['date_added', 'id', 'media_type', 'version'])
        assert.match(m.date_added, /\.\d{6}Z$/)
        assert.equal(m.media_type, 'application/stix+json;version=2.1')
      }
      const sco = r.body.objects.find((m: any) => m.id === SCO_ID)
      assert.equal(sco.version, sco.date_added, 'an unversioned object\'s version is its date_added')
      const page = await get(`/taxii2/dragnet/collections/${cols.clear.id}/manifest/?limit=1`)
      assert.equal(page.body.objects.length, 1)
      assert.equal(page.body.more, true)
    })
  })
})
