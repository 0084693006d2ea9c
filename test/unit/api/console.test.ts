import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONSOLE_CSP } from '../../../src/api/web.js'
import { createReadToken } from '../../../src/identity/index.js'
import { compilePolicy } from '../../../src/policy/index.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'
import { identityFor } from '../../helpers/federation.js'
import { tempDir } from '../../helpers/tmp.js'
import { apiFixture, bearer, WRITE_TOKEN, type ApiFixture } from './helpers.js'

/*
 * The web console's endpoints through inject(): what each page reads, filtered by the caller's
 * TLP ceiling, the policy dry run and "why", imports with progress, and the console's files
 * served with a CSP that admits this origin only.
 */

const POLICY = compilePolicy({
  name: 'console-test',
  rules: [{ id: 'no-malware-out', direction: 'outbound', match: { type: ['malware'] }, action: 'withhold', reason: 'malware analyses stay with this bureau' }]
}, process.cwd())

interface Answer { status: number, body: any, headers: Record<string, unknown>, raw: string }

async function call (fx: ApiFixture, url: string, token: string | undefined, opts: { method?: 'GET' | 'POST', payload?: unknown } = {}): Promise<Answer> {
  const r = await fx.app.inject({
    method: opts.method ?? 'GET',
    url,
    headers: { ...(token != null ? bearer(token) : {}), ...(opts.payload != null ? { 'content-type': 'application/json' } : {}) },
    ...(opts.payload != null ? { payload: JSON.stringify(opts.payload) } : {})
  })
  let body: any
  try { body = JSON.parse(r.body) } catch { body = undefined }
  return { status: r.statusCode, body, headers: r.headers, raw: r.body }
}

describe('api: web console endpoints', function () {
  this.timeout(30_000)
  let fx: ApiFixture
  let web: { dir: string, cleanup: () => Promise<void> }
  let reader: string
  let partner: string
  const ids: Record<string, string> = {}

  before(async () => {
    partner = (await identityFor('console-partner')).peerId
    web = await tempDir('dragnet-web-')
    await mkdir(join(web.dir, 'assets'))
    await writeFile(join(web.dir, 'index.html'), '<!doctype html><title>dragnet</title><script type="module" src="/assets/index-abc123.js"></script>')
    await writeFile(join(web.dir, 'assets', 'index-abc123.js'), 'console.log(1)')
    fx = await apiFixture({ policy: POLICY, config: { roster: [{ peerId: partner, name: 'partner', country: 'FR', role: 'bureau' }] } }, { webRoot: web.dir })
    reader = (await createReadToken(fx.node.dataDir, 'analyst', 'amber')).token
    for (const tlp of ['green', 'red'] as const) {
      const [v] = await fx.node.publish([indicator({ kind: 'ipv4', value: tlp === 'red' ? '203.0.113.66' : '203.0.113.7', seed: `c-${tlp}` })], { tlp })
      ids[tlp] = (v as { id: string }).id
    }
    const [m] = await fx.node.publish([malware('console')], { tlp: 'green' })
    ids.malware = (m as { id: string }).id
  })
  after(async () => {
    await fx.close()
    await web.cleanup()
  })

  it('whoami names the caller and its ceiling; a wrong token is refused', async () => {
    const admin = await call(fx, '/api/console/whoami', WRITE_TOKEN)
    assert.equal(admin.status, 200)
    assert.deepEqual(admin.body.caller, { kind: 'admin', name: 'admin', maxTlp: 'red', canWrite: true, tlps: ['clear', 'green', 'amber', 'amber+strict', 'red'] })
    assert.equal(admin.body.node.peerId, fx.node.peerId)
    const r = await call(fx, '/api/console/whoami', reader)
    assert.equal(r.body.caller.kind, 'reader')
    assert.equal(r.body.caller.canWrite, false)
    assert.ok(!r.body.caller.tlps.includes('red'))
    const wrong = await call(fx, '/api/console/whoami', 'not-a-token')
    assert.equal(wrong.status, 403)
    assert.equal(wrong.body.code, 'DRAGNET_FORBIDDEN')
  })

  it('overview counts arrivals of the last day, and a reader learns nothing of red', async () => {
    const admin = await call(fx, '/api/console/overview', WRITE_TOKEN)
    assert.equal(admin.status, 200)
    assert.equal(admin.body.status.records, 3)
    assert.equal(admin.body.status.byTlp.red, 1)
    assert.equal(admin.body.activity.arrivals.length, 24)
    assert.equal(admin.body.activity.arrivals.reduce((a: number, b: number) => a + b, 0), 3)
    assert.equal(admin.body.activity.arrivals[23], 3)
    assert.equal(admin.body.activity.bySource.local, 3)
    assert.equal(admin.body.status.dataDir, undefined)
    const r = await call(fx, '/api/console/overview', reader)
    assert.equal(r.body.status.records, 2)
    assert.equal(r.body.status.byTlp.red, undefined)
    assert.equal(r.body.activity.arrivals.reduce((a: number, b: number) => a + b, 0), 2)
    assert.ok(!r.raw.includes('"red"'))
    assert.equal(r.body.replication, null)
    assert.notEqual(admin.body.replication, null)
  })

  it('activity lists what arrived after a sealed cursor, within the caller\'s ceiling', async () => {
    const first = await call(fx, '/api/console/activity', WRITE_TOKEN)
    assert.equal(first.status, 200)
    assert.deepEqual(first.body.records.map((r: any) => r.id), [ids.green, ids.red, ids.malware])
    assert.deepEqual(first.body.peers.map((p: any) => [p.name, p.connected]), [['partner', false]])
    const r = await call(fx, '/api/console/activity', reader)
    assert.deepEqual(r.body.records.map((x: any) => x.id), [ids.green, ids.malware])
    assert.ok(!r.raw.includes(ids.red))
    // Nothing in the answer counts records: no arrival numbers, and the cursor is sealed.
    assert.ok(!/"arrival"/.test(r.raw))
    assert.match(r.body.cursor, /^[A-Za-z0-9_-]{48}$/)
    assert.notEqual(r.body.cursor, first.body.cursor)
    const none = await call(fx, `/api/console/activity?cursor=${String(r.body.cursor)}`, reader)
    assert.deepEqual(none.body.records, [])
    const [red] = await fx.node.publish([indicator({ kind: 'ipv4', value: '203.0.113.67', seed: 'live-red' })], { tlp: 'red' })
    const [v] = await fx.node.publish([indicator({ kind: 'domain', value: 'live.example', seed: 'live' })], { tlp: 'clear' })
    const next = await call(fx, `/api/console/activity?cursor=${String(none.body.cursor)}`, reader)
    assert.deepEqual(next.body.records.map((x: any) => x.id), [(v as { id: string }).id])
    const adminNext = await call(fx, `/api/console/activity?cursor=${String(first.body.cursor)}`, WRITE_TOKEN)
    assert.deepEqual(adminNext.body.records.map((x: any) => x.id), [(red as { id: string }).id, (v as { id: string }).id])
    const again = await call(fx, `/api/console/activity?cursor=${String(next.body.cursor)}`, reader)
    assert.deepEqual(again.body.records, [])
    // A cursor another API instance sealed, a forged one, or garbage: refused.
    const forged = Buffer.from(String(next.body.cursor), 'base64url')
    forged[forged.length - 1] ^= 1
    for (const bad of [forged.toString('base64url'), 'x', 'A'.repeat(48), '3', '-1']) {
      const a = await call(fx, `/api/console/activity?cursor=${bad}`, WRITE_TOKEN)
      assert.equal(a.status, 400, bad)
      assert.equal(a.body.code, 'DRAGNET_BAD_REQUEST')
    }
  })

  it('policy shows the rules in force; its file path only to the API token', async () => {
    const admin = await call(fx, '/api/console/policy', WRITE_TOKEN)
    assert.equal(admin.body.name, 'console-test')
    assert.deepEqual(admin.body.rules.map((r: any) => r.id), ['no-malware-out'])
    assert.ok('source' in admin.body)
    const r = await call(fx, '/api/console/policy', reader)
    assert.equal(r.status, 200)
    assert.ok(!('source' in r.body))
  })

  it('dry-runs a pasted object against a roster member, and refuses what is not', async () => {
    const d = await call(fx, '/api/console/policy/dry-run', reader, { method: 'POST', payload: { stix: malware('pasted'), peer: partner, tlp: 'green' } })
    assert.equal(d.status, 200)
    assert.deepEqual(d.body.decision, { verdict: 'withhold', rule: 'no-malware-out', reason: 'malware analyses stay with this bureau' })
    assert.equal(d.body.rules[0].decisive, true)
    const red = await call(fx, '/api/console/policy/dry-run', WRITE_TOKEN, { method: 'POST', payload: { stix: indicator({ kind: 'domain', value: 'a.example', seed: 'd' }), peer: partner, tlp: 'red' } })
    assert.equal(red.body.decision.rule, 'tlp-floor:red')
    const send = await call(fx, '/api/console/policy/dry-run', WRITE_TOKEN, { method: 'POST', payload: { stix: indicator({ kind: 'domain', value: 'a.example', seed: 'd' }), peer: partner } })
    assert.equal(send.body.decision.verdict, 'send')
    const stranger = (await identityFor('console-stranger')).peerId
    const refused = [
      [{ stix: malware('x'), peer: stranger }, 'DRAGNET_BAD_RECIPIENT'],
      [{ stix: malware('x'), peer: 'nope' }, 'DRAGNET_BAD_REQUEST'],
      [{ stix: { type: 'nonsense' }, peer: partner }, undefined],
      [{ stix: malware('x'), peer: partner, tlp: 'purple' }, 'DRAGNET_BAD_TLP']
    ] as const
    for (const [payload, code] of refused) {
      const a = await call(fx, '/api/console/policy/dry-run', WRITE_TOKEN, { method: 'POST', payload })
      assert.ok(a.status >= 400 && a.status < 500, `${JSON.stringify(payload)}: ${a.status}`)
      assert.match(a.body.code, /^DRAGNET_/)
      if (code != null) assert.equal(a.body.code, code)
    }
  })

  it('why gives the decision and the rule for a record and a peer; a reader cannot ask about red', async () => {
    const w = await call(fx, `/api/console/why?record=${ids.malware}&peer=${partner}`, reader)
    assert.equal(w.status, 200)
    assert.equal(w.body.decision_now.verdict, 'withhold')
    assert.equal(w.body.decision_now.rule, 'no-malware-out')
    assert.equal(w.body.peer.name, 'partner')
    assert.deepEqual(w.body.entries, [])
    const g = await call(fx, `/api/console/why?record=${ids.green}&peer=${partner}`, reader)
    assert.equal(g.body.decision_now.verdict, 'send')
    const hidden = await call(fx, `/api/console/why?record=${ids.red}&peer=${partner}`, reader)
    assert.equal(hidden.status, 404)
    assert.ok(!hidden.raw.includes('tlp-floor'))
    const admin = await call(fx, `/api/console/why?record=${ids.red}&peer=${partner}`, WRITE_TOKEN)
    assert.equal(admin.body.decision_now.rule, 'tlp-floor:red')
    assert.equal((await call(fx, `/api/console/why?record=${ids.red}`, WRITE_TOKEN)).status, 400)
    assert.equal((await call(fx, `/api/console/why?record=${ids.red}&peer=${fx.node.peerId}`, WRITE_TOKEN)).body.code, 'DRAGNET_BAD_RECIPIENT')
  })

  it('imports an indicator list with progress and a summary; readers cannot import', async () => {
    const text = '# test feed\n198.51.100.200\nevil-console.example\nhxxp://bad[.]example/x\nnot a value\n'
    const refused = await call(fx, '/api/console/import', reader, { method: 'POST', payload: { text } })
    assert.equal(refused.status, 403)
    const before = fx.node.store.counts().records
    const start = await call(fx, '/api/console/import', WRITE_TOKEN, { method: 'POST', payload: { text, name: 'feed.txt', tlp: 'amber' } })
    assert.equal(start.status, 202)
    assert.equal(start.body.total, 3)
    let job = start.body
    const deadline = Date.now() + 10_000
    while (job.finished !== true && Date.now() < deadline) {
      await new Promise(resolve => setImmediate(resolve))
      job = (await call(fx, `/api/console/import/${String(start.body.id)}`, WRITE_TOKEN)).body
    }
    assert.equal(job.finished, true)
    assert.equal(job.done, 3)
    assert.equal(job.summary.imported, 3)
    assert.equal(job.summary.skipped.unrecognised, 1)
    assert.deepEqual(job.summary.tlp, { amber: 3 })
    assert.equal(fx.node.store.counts().records, before + 3)
    assert.equal((await call(fx, `/api/console/import/${String(start.body.id)}`, reader)).status, 403)
    for (const [payload, code] of [[{ text: '' }, 'DRAGNET_BAD_REQUEST'], [{ text: '{"type":', format: 'stix' }, 'DRAGNET_BAD_JSON'], [{ text: 'x', format: 'records' }, 'DRAGNET_BAD_REQUEST'], [{ text: '1.2.3.4', tlp: 'purple' }, 'DRAGNET_BAD_TLP']] as const) {
      const a = await call(fx, '/api/console/import', WRITE_TOKEN, { method: 'POST', payload })
      assert.equal(a.body.code, code, JSON.stringify(payload))
    }
    assert.equal(fx.node.store.counts().records, before + 3)
    assert.equal((await call(fx, '/api/console/import/nope', WRITE_TOKEN)).status, 404)
  })

  it('serves the console\'s files with a CSP that admits this origin only, and nothing else', async () => {
    const page = await call(fx, '/', undefined)
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.equal(page.headers['content-security-policy'], CONSOLE_CSP)
    assert.match(CONSOLE_CSP, /default-src 'none'/)
    assert.ok(!/https?:|\*/.test(CONSOLE_CSP))
    const js = await call(fx, '/assets/index-abc123.js', undefined)
    assert.equal(js.status, 200)
    assert.match(String(js.headers['content-type']), /^text\/javascript/)
    assert.match(String(js.headers['cache-control']), /immutable/)
    for (const bad of ['/assets/..%2findex.html', '/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/assets/.hidden.js', '/assets/x.html', '/assets/missing.js', '/index.html']) {
      const a = await call(fx, bad, undefined)
      assert.equal(a.status, 404, bad)
      assert.equal(a.body.code, 'DRAGNET_NOT_FOUND')
    }
  })

  it('says the console is not built when its files are missing', async () => {
    const empty = await tempDir('dragnet-noweb-')
    const other = await apiFixture({}, { webRoot: empty.dir })
    try {
      const a = await call(other, '/', undefined)
      assert.equal(a.status, 404)
      assert.match(a.body.message, /npm run build/)
    } finally {
      await other.close()
      await empty.cleanup()
    }
  })
})
