import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../../src/config/config.js'
import { FILES } from '../../../src/identity/index.js'
import { silentLogger } from '../../../src/log.js'
import { DragnetNode } from '../../../src/node.js'
import { compilePolicy } from '../../../src/policy/index.js'
import { classifyValue } from '../../../src/stix/index.js'
import { checkConsistency } from '../../../src/store/check.js'
import { currentRecords } from '../../../src/store/reads.js'
import { STORE_FORMAT, type Tombstone } from '../../../src/store/index.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

/*
 * Local purge on a real LevelDB: the record and every index entry go, a tombstone stays, the
 * node refuses the record when it is offered again, and once the range is compacted the body's
 * bytes are in no file of the store.
 */

function emailIndicator (marker: string): Record<string, unknown> {
  const t = new Date().toISOString()
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${randomUUID()}`,
    created: t,
    modified: t,
    name: `suspect ${marker}`,
    description: `personal data ${marker}`,
    pattern: `[email-addr:value = '${marker}@example.org']`,
    pattern_type: 'stix',
    valid_from: t
  }
}

async function storeFilesContain (dir: string, needle: string): Promise<string[]> {
  const out: string[] = []
  for (const f of await readdir(dir)) {
    const bytes = await readFile(join(dir, f)).catch(() => null)
    if (bytes?.includes(Buffer.from(needle)) === true) out.push(f)
  }
  return out
}

describe('purge (store)', function () {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let node: DragnetNode | undefined

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => { await node?.stop().catch(() => {}); node = undefined; await tmp.cleanup() })

  it('removes the record and every index entry, keeps a tombstone, and compacts the bytes away', async () => {
    node = await testNode({ dir: tmp.dir })
    const marker = `jane-doe-${randomUUID().slice(0, 8)}`
    const keep = await node.publish([emailIndicator(`kept-${randomUUID().slice(0, 8)}`)], { tlp: 'green' })
    const [v] = await node.publish([emailIndicator(marker)], { tlp: 'green' })
    assert.equal(v.status, 'stored')
    const id = v.id!
    const email = classifyValue(`${marker}@example.org`)!
    assert.deepEqual(await node.store.lookupIds(email), [id])
    const storeDir = join(tmp.dir, FILES.store)

    const res = await node.purge.purge({ ids: [id] }, { reason: 'wrong person (court order 12/34)' })
    assert.deepEqual(res.purged.map(t => t.id), [id])
    assert.equal(await node.store.getRecord(id), undefined)
    assert.deepEqual(await node.store.lookupIds(email), [])
    assert.equal(node.store.counts().records, 1)
    const listed = await node.purge.list()
    assert.deepEqual(listed.map((t: Tombstone) => [t.id, t.reason, t.operator]), [[id, 'wrong person (court order 12/34)', 'operator']])
    assert.deepEqual(listed[0].scopes, ['green'])
    const served: string[] = []
    for await (const page of currentRecords(node.store)) served.push(...page.map(r => r.id))
    assert.deepEqual(served, [keep[0].id])
    assert.deepEqual((await checkConsistency(node.store)).problems, [])
    const audit = await node.store.auditEntries({ record: id })
    assert.ok(audit.some(e => e.verdict === 'purge' && e.rule === 'purge:operator' && e.reason.includes('court order')))
    assert.deepEqual(await storeFilesContain(storeDir, marker), [], 'the purged body is in no store file after compaction')

    // A second purge of the same id is "already", and the record is refused when offered again.
    const again = await node.purge.purge({ ids: [id] }, { reason: 'twice' })
    assert.deepEqual(again.already, [id])
  })

  it('refuses a purged record offered again (DRAGNET_PURGED, audited) and keeps refusing after a restart', async () => {
    node = await testNode({ dir: tmp.dir })
    const [v] = await node.publish([emailIndicator('x')], { tlp: 'green' })
    const bytes = (await node.store.getBytes(v.id!))!
    await node.purge.purge({ ids: [v.id!] }, { reason: 'test' })
    const [r] = await node.ingest.receive([{ bytes, from: node.peerId, source: 'import' }])
    assert.equal(r.status, 'rejected')
    assert.equal(r.status === 'rejected' && r.code, 'DRAGNET_PURGED')
    assert.ok((await node.store.auditEntries({ record: v.id! })).some(e => e.rule === 'purge:tombstone' && e.code === 'DRAGNET_PURGED'))
    await node.stop()
    const config = await loadConfig({ overrides: { name: 'test', country: 'DE', role: 'bureau', ingest: { verifyWorkers: 0 } } })
    node = await DragnetNode.open({ dataDir: tmp.dir, config, log: silentLogger(), network: false })
    await node.start()
    assert.equal(await node.store.getMeta('format'), STORE_FORMAT)
    assert.equal(await node.store.isPurged(v.id!), true)
    const [r2] = await node.ingest.receive([{ bytes, from: node.peerId, source: 'import' }])
    assert.equal(r2.status === 'rejected' && r2.code, 'DRAGNET_PURGED')
    // Our own seq is never reissued although its record is gone.
    const [next] = await node.publish([emailIndicator('y')], { tlp: 'green' })
    assert.equal(next.status === 'stored' && next.record.record.seq, 2)
  })

  it('purges every version of a STIX id, or every record of an author; refuses an empty reason and unknown targets', async () => {
    node = await testNode({ dir: tmp.dir })
    const obj = emailIndicator('v')
    const [a] = await node.publish([obj], { tlp: 'green' })
    const [b] = await node.publish([{ ...obj, modified: new Date(Date.now() + 1000).toISOString(), name: 'v2' }], { tlp: 'green' })
    const [c] = await node.publish([emailIndicator('other')], { tlp: 'amber' })
    await assert.rejects(node.purge.purge({ ids: [a.id!] }, { reason: ' ' }), { code: 'DRAGNET_BAD_REQUEST' })
    await assert.rejects(node.purge.purge({ stixId: 'indicator--00000000-0000-4000-8000-000000000000' }, { reason: 'x' }), { code: 'DRAGNET_NOT_FOUND' })
    await assert.rejects(node.purge.purge({ ids: ['nope'] }, { reason: 'x' }), { code: 'DRAGNET_BAD_REQUEST' })
    const s = await node.purge.purge({ stixId: obj.id as string }, { reason: 'stix' })
    assert.deepEqual(s.purged.map(t => t.id).sort(), [a.id, b.id].sort())
    // Import mode (a file or feed fetched again) does not bring the object back; an explicit publish does.
    const [imported] = await node.publish([obj], { tlp: 'green', source: 'import', skipExisting: true })
    assert.equal(imported.status === 'rejected' && imported.code, 'DRAGNET_PURGED')
    const [explicit] = await node.publish([obj], { tlp: 'green' })
    assert.equal(explicit.status, 'stored')
    await node.purge.purge({ ids: [explicit.id!] }, { reason: 'again' })
    const au = await node.purge.purge({ author: node.peerId }, { reason: 'author' })
    assert.deepEqual(au.purged.map(t => t.id), [c.id])
    assert.equal(node.store.counts().records, 0)
    assert.deepEqual((await checkConsistency(node.store)).problems, [])
  })
})

describe('retention (policy + timer)', function () {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let node: DragnetNode | undefined

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => { await node?.stop().catch(() => {}); node = undefined; await tmp.cleanup() })

  it('purges a record on schedule once its period ends by the node clock, with a tombstone and an audit entry', async () => {
    const policy = compilePolicy({ name: 'p', retention: [{ id: 'email-90d', match: { observable: 'email' }, days: 90 }, { match: { tlp: 'red' }, days: 365 }] }, '.')
    let now = Date.now()
    const config = await loadConfig({ overrides: { name: 'test', country: 'DE', role: 'bureau', ingest: { verifyWorkers: 0 }, retention: { intervalMs: 50 } } })
    await testNode({ dir: tmp.dir }).then(async n => { await n.stop() })
    node = await DragnetNode.open({ dataDir: tmp.dir, config, log: silentLogger(), network: false, policy, clock: () => now })
    await node.start()
    const [mail] = await node.publish([emailIndicator('retained')], { tlp: 'green' })
    const [other] = await node.publish([{ ...emailIndicator('z'), pattern: "[domain-name:value = 'example.com']" }], { tlp: 'green' })
    const purged = new Promise<Tombstone[]>(resolve => { node!.purge.onPurged(resolve) })
    // 89 days on: nothing is due. (The timer runs every 50 ms; give it a few rounds.)
    now += 89 * 86_400_000
    assert.equal(await node.purge.runRetention(), 0)
    now += 2 * 86_400_000
    const t = await purged
    assert.deepEqual(t.map(x => [x.id, x.operator]), [[mail.id, 'retention:email-90d']])
    assert.ok(t[0].reason.includes('90 days'))
    assert.ok(await node.store.has(other.id!))
    assert.ok((await node.store.auditEntries({ record: mail.id! })).some(e => e.verdict === 'purge' && e.rule === 'retention:email-90d'))
  })

  it('visits only records signed before the shortest period (RED ones included), and counts its runs in the metrics', async () => {
    const policy = compilePolicy({ name: 'p', retention: [{ id: 'red-1y', match: { tlp: 'red' }, days: 365 }, { id: 'amber-200d', match: { tlp: 'amber' }, days: 200 }] }, '.')
    const start = Date.now()
    let now = start
    const config = await loadConfig({ overrides: { name: 'test', country: 'DE', role: 'bureau', ingest: { verifyWorkers: 0 }, retention: { intervalMs: 3_600_000 } } })
    await testNode({ dir: tmp.dir }).then(async n => { await n.stop() })
    node = await DragnetNode.open({ dataDir: tmp.dir, config, log: silentLogger(), network: false, policy, clock: () => now })
    await node.start()
    const old = await node.publish([emailIndicator('old-red'), emailIndicator('old-red-2'), emailIndicator('old-red-3')], { tlp: 'red' })
    const [oldAmber] = await node.publish([emailIndicator('old-amber-2')], { tlp: 'amber' })
    const [oldGreen] = await node.publish([emailIndicator('old-green-2')], { tlp: 'green' })
    // Records are signed by the wall clock; the retention clock is the node's.
    const mid = Date.now()
    while (Date.now() <= mid + 5) await new Promise(resolve => setTimeout(resolve, 5))
    const young = await node.publish([emailIndicator('young-red')], { tlp: 'red' })
    const [youngGreen] = await node.publish([emailIndicator('young-green')], { tlp: 'green' })
    // The time-ordered walk up to an instant between the two groups: only the first.
    const visited: string[] = []
    for await (const id of node.store.idsSignedUpTo(mid)) visited.push(id)
    assert.deepEqual(new Set(visited), new Set([...old.map(v => v.id!), oldAmber.id!, oldGreen.id!]))
    assert.ok(!visited.includes(young[0].id!) && !visited.includes(youngGreen.id!))
    // 366 days on: every RED record and the amber one are due; green has no rule and stays.
    now = start + 366 * 86_400_000
    assert.equal(await node.purge.runRetention(), 5)
    for (const v of [...old, ...young, oldAmber]) assert.ok(await node.store.isPurged(v.id!))
    assert.ok(await node.store.has(youngGreen.id!))
    assert.ok(await node.store.has(oldGreen.id!))
    const { buildApi } = await import('../../../src/api/server.js')
    const app = await buildApi(node, { token: 'admin-token-0123456789abcdef', tokenDir: false })
    try {
      const text = (await app.inject({ url: '/metrics', headers: { authorization: 'Bearer admin-token-0123456789abcdef' } })).body
      assert.match(text, /^dragnet_retention_runs_total 1$/m)
      assert.match(text, /^dragnet_retention_expired_total 5$/m)
      assert.match(text, /^dragnet_purged_records_total\{kind="retention"\} 5$/m)
      assert.match(text, /^dragnet_purged_records_total\{kind="operator"\} 0$/m)
      assert.match(text, /^dragnet_tombstones 5$/m)
      assert.match(text, /^dragnet_erasure_requests_total\{decision="honoured"\} 0$/m)
    } finally {
      await app.close()
    }
  })

  it('policy: retention and erasure rules validate, and name the rule that applies', () => {
    assert.throws(() => compilePolicy({ name: 'p', retention: [{ match: { observable: 'phone' }, days: 3 }] }, '.'), { code: 'DRAGNET_BAD_POLICY' })
    assert.throws(() => compilePolicy({ name: 'p', retention: [{ match: { peer: { country: 'DE' } }, days: 3 }] }, '.'), { code: 'DRAGNET_BAD_POLICY' })
    assert.throws(() => compilePolicy({ name: 'p', retention: [{ days: 0 }] }, '.'), { code: 'DRAGNET_BAD_POLICY' })
    assert.throws(() => compilePolicy({ name: 'p', erasure: [{ id: 'x', action: 'ignore' }] }, '.'), { code: 'DRAGNET_BAD_POLICY' })
    const p = compilePolicy({ name: 'p', retention: [{ match: { tlp: 'red' }, days: 365 }], erasure: [{ id: 'keep-contributors', match: { author: { role: 'contributor' } }, action: 'refuse' }] }, '.')
    assert.deepEqual(p.retentionRules, [{ rule: 'retention[0]', days: 365 }])
  })
})
