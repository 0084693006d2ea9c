import assert from 'node:assert/strict'
import { ERROR_STATUS } from '../../../src/errors.js'
import { createReadToken, NodeIdentity } from '../../../src/identity/index.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { federationConfidence } from '../../../src/store/queries.js'
import { apiFixture, bearer, WRITE_TOKEN, type ApiFixture } from './helpers.js'

const VALUE = '203.0.113.45'

describe('api: sightings, opinions and the lookup summary (inject, no socket)', function () {
  this.timeout(30_000)
  let fx: ApiFixture
  let peer: NodeIdentity
  let recordId: string
  let stixId: string

  const post = async (url: string, body: unknown, headers: Record<string, string> = bearer(WRITE_TOKEN)): Promise<{ status: number, body: any }> => {
    const r = await fx.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) })
    return { status: r.statusCode, body: JSON.parse(r.body) }
  }
  const lookup = async (headers: Record<string, string> = {}): Promise<any> => {
    const r = await fx.app.inject({ url: `/api/lookup?value=${VALUE}`, headers })
    assert.equal(r.statusCode, 200, r.body)
    return JSON.parse(r.body)
  }

  beforeEach(async () => {
    peer = await NodeIdentity.generate()
    fx = await apiFixture({ config: { taxii: { publicClear: false, readTokens: [] }, roster: [{ peerId: peer.peerId, name: 'peer', country: 'FR', role: 'bureau', addrs: ['/ip4/127.0.0.1/tcp/1'] }] } })
    const ioc = indicator({ kind: 'ipv4', value: VALUE, seed: 'api-feedback', confidence: 60 }) as Record<string, unknown>
    stixId = String(ioc.id)
    const r = await post('/api/records?tlp=green', ioc)
    assert.equal(r.status, 201)
    recordId = r.body.results[0].id
  })

  afterEach(async () => { await fx.close() })

  it('a lookup without feedback has the summary keys beside records', async () => {
    const body = await lookup()
    assert.equal(body.records.length, 1)
    assert.deepEqual(body.summary, {
      reporters: [fx.node.peerId],
      sightings: 0,
      sighted_by: [],
      first_seen: null,
      last_seen: null,
      opinions: { agree: 0, disagree: 0, reasons: [] },
      confidence: 60
    })
  })

  it('POST /api/sightings by value and POST /api/opinions by record id feed the summary', async () => {
    const s = await post('/api/sightings', { target: VALUE, count: 4, first_seen: '2026-01-01T00:00:00Z', last_seen: '2026-01-03T00:00:00Z', where: 'mail gateway' })
    assert.equal(s.status, 201, JSON.stringify(s.body))
    const stored = await fx.app.inject({ url: `/api/records/${String(s.body.results[0].id)}` })
    const body = JSON.parse(stored.body).body
    assert.equal(body.type, 'sighting')
    assert.equal(body.sighting_of_ref, stixId)
    assert.equal(body.description, 'mail gateway')
    const o = await post('/api/opinions', { target: recordId, opinion: 'agree', reason: 'seen in our telemetry' })
    assert.equal(o.status, 201, JSON.stringify(o.body))
    const { summary } = await lookup()
    assert.equal(summary.sightings, 4)
    assert.deepEqual(summary.sighted_by, [fx.node.peerId])
    assert.equal(summary.first_seen, '2026-01-01T00:00:00Z')
    assert.equal(summary.last_seen, '2026-01-03T00:00:00Z')
    assert.deepEqual(summary.opinions, { agree: 1, disagree: 0, reasons: [{ member: fx.node.peerId, opinion: 'agree', reason: 'seen in our telemetry' }] })
    assert.equal(summary.confidence, federationConfidence({ base: 60, support: 1, against: 0, idleDays: 0 }))
    // A newer opinion of the same member replaces its older one.
    await post('/api/opinions', { target: stixId, opinion: 'disagree', reason: 'sinkholed now' })
    const after = (await lookup()).summary
    assert.deepEqual(after.opinions, { agree: 0, disagree: 1, reasons: [{ member: fx.node.peerId, opinion: 'disagree', reason: 'sinkholed now' }] })
    const metrics = await fx.app.inject({ url: '/metrics', headers: bearer(WRITE_TOKEN) })
    assert.match(metrics.body, new RegExp(`dragnet_sightings_total\\{author="${fx.node.peerId}",name="[^"]*"\\} 4`))
    assert.match(metrics.body, /dragnet_opinions_total\{[^}]*opinion="disagree"\} 1/)
  })

  it('the summary covers every record the lookup matches, whichever page is answered', async () => {
    const ids: string[] = [recordId]
    for (let i = 0; i < 6; i++) {
      const r = await post('/api/records?tlp=green', indicator({ kind: 'ipv4', value: VALUE, seed: `api-feedback-${i}`, confidence: i === 5 ? 90 : 40 }))
      assert.equal(r.status, 201)
      ids.push(r.body.results[0].id)
    }
    assert.equal((await post('/api/sightings', { target: ids[6], count: 7 })).status, 201)
    assert.equal((await post('/api/sightings', { target: ids[0], count: 2 })).status, 201)
    const whole = (await lookup()).summary
    assert.equal(whole.sightings, 9)
    assert.equal(whole.confidence, federationConfidence({ base: 90, support: 1, against: 0, idleDays: 0 }))
    let cursor: string | undefined
    let pages = 0
    do {
      const r = await fx.app.inject({ url: `/api/lookup?value=${VALUE}&limit=2${cursor != null ? `&cursor=${cursor}` : ''}` })
      const body = JSON.parse(r.body)
      assert.ok(body.records.length <= 2)
      assert.deepEqual(body.summary, whole, `page ${pages + 1} summarises every matching record`)
      cursor = body.next
      pages++
    } while (cursor != null)
    assert.ok(pages >= 4)
  })

  it('an amber sighting goes to the author as recipient and stays above a green reader\'s ceiling', async () => {
    // The indicator is ours, so the amber sighting has no other author to go to: no recipient list.
    const s = await post('/api/sightings', { target: recordId, tlp: 'amber', to: [peer.peerId] })
    assert.equal(s.status, 201, JSON.stringify(s.body))
    const rec = JSON.parse((await fx.app.inject({ url: `/api/records/${String(s.body.results[0].id)}` })).body)
    assert.deepEqual(rec.to, [peer.peerId])
    assert.equal((await lookup()).summary.sightings, 1)
    const green = (await createReadToken(fx.node.dataDir, 'siem', 'green')).token
    const seen = await lookup(bearer(green))
    assert.equal(seen.summary.sightings, 0, 'a green reader learns nothing of the amber sighting')
    assert.deepEqual(seen.summary.sighted_by, [])
  })

  it('refuses malformed and unauthorised feedback with a clear code and stores nothing', async () => {
    const amber = await post(`/api/records?tlp=amber&to=${peer.peerId}`, indicator({ kind: 'domain', value: 'amber.example', seed: 'api-feedback-amber' }))
    const amberId = String(amber.body.results[0].id)
    const before = fx.node.store.counts().records
    const cases: Array<[string, unknown, string, Record<string, string>?]> = [
      ['/api/sightings', { target: VALUE }, 'DRAGNET_UNAUTHORIZED', {}],
      ['/api/sightings', {}, 'DRAGNET_BAD_REQUEST'],
      ['/api/sightings', { target: VALUE, count: 0 }, 'DRAGNET_BAD_REQUEST'],
      ['/api/sightings', { target: VALUE, first_seen: 'yesterday' }, 'DRAGNET_BAD_REQUEST'],
      ['/api/sightings', { target: VALUE, first_seen: '2026-01-02T00:00:00Z', last_seen: '2026-01-01T00:00:00Z' }, 'DRAGNET_BAD_REQUEST'],
      ['/api/sightings', { target: VALUE, tlp: 'purple' }, 'DRAGNET_BAD_TLP'],
      ['/api/sightings', { target: 'not an observable at all' }, 'DRAGNET_BAD_REQUEST'],
      ['/api/sightings', { target: '192.0.2.200' }, 'DRAGNET_NOT_FOUND'],
      ['/api/sightings', { target: `1220${'0'.repeat(64)}` }, 'DRAGNET_NOT_FOUND'],
      ['/api/opinions', { target: recordId, opinion: 'maybe' }, 'DRAGNET_BAD_REQUEST'],
      ['/api/opinions', { target: VALUE, opinion: 'agree' }, 'DRAGNET_BAD_REQUEST'],
      ['/api/opinions', { target: 'indicator--00000000-0000-4000-8000-000000000000', opinion: 'agree' }, 'DRAGNET_NOT_FOUND'],
      ['/api/opinions', { target: recordId, opinion: 'agree', reason: 'x'.repeat(5000) }, 'DRAGNET_BAD_REQUEST'],
      ['/api/opinions', { target: amberId, opinion: 'agree', tlp: 'green' }, 'DRAGNET_TLP_CONFLICT'],
      ['/api/sightings', { target: VALUE, tlp: 'clear' }, 'DRAGNET_TLP_CONFLICT']
    ]
    for (const [url, body, code, headers] of cases) {
      const r = await post(url, body, headers ?? bearer(WRITE_TOKEN))
      assert.equal(r.body.code, code, `${url} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(r.body)}`)
      assert.equal(r.status, ERROR_STATUS[code as keyof typeof ERROR_STATUS])
    }
    assert.equal(fx.node.store.counts().records, before)
  })
})
