import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { startApi } from '../../src/api/server.js'
import { loadConfig } from '../../src/config/config.js'
import { ensureToken, initDataDir } from '../../src/identity/index.js'
import { parseImport, runImport, skippedTotal, type ImportSummary } from '../../src/import/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { runCli } from '../helpers/cli.js'
import { testNode } from '../helpers/node.js'
import { requireSharedData } from '../helpers/shared-data.js'
import { STIX20_BUNDLE } from '../helpers/stix20-fixture.js'
import { tempDir } from '../helpers/tmp.js'

// ------------------------------------------------------------------ self-made fixtures

const LIST = [
  '# self-made list: documentation addresses and example domains',
  '192.0.2.10',
  '192.0.2.10:8080',
  'hxxp://evil[.]example/gate.php',
  'c2[.]evil.example',
  '198.51.100.0/24   # a network',
  '/just/a/path.php',
  'phish[@]evil.example',
  'no such thing',
  ''
].join('\n')

const EVENT = {
  Event: {
    uuid: '6a2b1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    info: 'Self-made event',
    date: '2024-05-01',
    timestamp: '1714550400',
    Tag: [{ name: 'tlp:amber' }, { name: 'campaign:test' }],
    Attribute: [
      { uuid: '6a2b1c3d-0000-4a6b-8c7d-000000000001', type: 'ip-dst', value: '203.0.113.7', to_ids: true, timestamp: '1714550000' },
      { uuid: '6a2b1c3d-0000-4a6b-8c7d-000000000002', type: 'sha256', value: 'cd'.repeat(32), to_ids: true, timestamp: '1714550001' },
      { uuid: '6a2b1c3d-0000-4a6b-8c7d-000000000003', type: 'hostname', value: 'ctx.evil.example', to_ids: false, timestamp: '1714550002' },
      { uuid: '6a2b1c3d-0000-4a6b-8c7d-000000000004', type: 'text', value: 'analyst note', to_ids: false, timestamp: '1714550003' }
    ]
  }
}

const V1 = '2026-01-01T00:00:00.000Z'
const V2 = '2026-02-01T00:00:00.000Z'
const BUNDLE = {
  type: 'bundle',
  id: 'bundle--6a2b1c3d-4e5f-4a6b-8c7d-000000000000',
  objects: [
    indicator({ kind: 'domain', value: 'versioned.example', seed: 'v', created: V1, modified: V1 }),
    indicator({ kind: 'domain', value: 'versioned.example', seed: 'v', created: V1, modified: V2 }),
    indicator({ kind: 'ipv4', value: '192.0.2.99', revoked: true }),
    malware('fixture'),
    { type: 'malware', spec_version: '2.1', id: 'malware--6a2b1c3d-4e5f-4a6b-8c7d-000000000001' }
  ]
}

/** Records in a data dir no process holds open. */
async function recordsIn (dir: string): Promise<number> {
  const node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({}), log: silentLogger(), network: false })
  try {
    return node.store.counts().records
  } finally {
    await node.stop()
  }
}

function json (out: string): any {
  const lines = out.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

describe('import and export through the CLI', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let data: string

  before(async () => {
    tmp = await tempDir('dragnet-import-')
    data = join(tmp.dir, 'data')
    await initDataDir(data, { name: 'importer', country: 'DE' })
    await writeFile(join(tmp.dir, 'list.txt'), LIST)
    await writeFile(join(tmp.dir, 'event.json'), JSON.stringify(EVENT))
    await writeFile(join(tmp.dir, 'bundle.json'), JSON.stringify(BUNDLE))
    await writeFile(join(tmp.dir, 'iocs.csv'), 'seen,ioc,note\n2024-01-01,192.0.2.10,dup of the list\n2024-01-02,"evil[.]example/x?a=1,b",quoted\n')
  })

  after(async () => { await tmp?.cleanup() })

  it('imports a list, an event, a bundle and a CSV offline; importing again stores nothing new; exports current objects', async () => {
    const list = await runCli(['import', '--data', data, '--json', join(tmp.dir, 'list.txt')])
    assert.equal(list.code, 0, list.stderr)
    const s1: ImportSummary = json(list.stdout)
    assert.equal(s1.format, 'iocs')
    assert.equal(s1.values, 8)
    assert.equal(s1.imported, 5)
    assert.equal(s1.duplicates, 1)
    assert.deepEqual(s1.skipped, { 'no-host': 1, unrecognised: 1 })
    assert.deepEqual(s1.tlp, { green: 5 })

    const again = await runCli(['import', '--data', data, '--json', join(tmp.dir, 'list.txt')])
    const s2: ImportSummary = json(again.stdout)
    assert.deepEqual([s2.imported, s2.duplicates, s2.records.stored], [0, 6, 0])

    const ev = await runCli(['import', '--data', data, '--json', join(tmp.dir, 'event.json')])
    assert.equal(ev.code, 0, ev.stderr)
    const s3: ImportSummary = json(ev.stdout)
    assert.equal(s3.format, 'misp')
    assert.deepEqual([s3.values, s3.imported, s3.records.stored], [4, 3, 4], 'three attributes and the event\'s report')
    assert.deepEqual(s3.tlp, { amber: 4 }, 'the tlp:amber tag')
    assert.deepEqual(s3.skipped, { 'unsupported-type': 1 })

    // One object of the bundle is invalid: it is skipped with its code and the command says so.
    const b = await runCli(['import', '--data', data, '--json', '--tlp', 'clear', join(tmp.dir, 'bundle.json')])
    assert.equal(b.code, 1)
    const s4: ImportSummary = json(b.stdout)
    assert.deepEqual([s4.values, s4.imported, s4.duplicates], [5, 4, 0])
    assert.deepEqual(s4.skipped, { 'rejected:DRAGNET_STIX_INVALID': 1 })
    assert.equal(s4.examples[0].where, 'objects[4] malware--6a2b1c3d-4e5f-4a6b-8c7d-000000000001')

    const csv = await runCli(['import', '--data', data, '--json', '--progress', '--column', 'ioc', join(tmp.dir, 'iocs.csv')])
    const s5: ImportSummary = json(csv.stdout)
    assert.deepEqual([s5.format, s5.values, s5.imported, s5.duplicates], ['csv', 2, 1, 1])
    assert.match(csv.stderr, /importing \[.*\] 2\/2 objects 100%/, 'a progress bar on standard error when forced')

    const out = join(tmp.dir, 'export.json')
    // --raw: the objects as signed (the markings and identities export adds are tested in provenance.test.ts).
    const ex = await runCli(['export', '--data', data, '--format', 'stix', '--raw', '--tlp', 'clear,green', '--out', out])
    assert.equal(ex.code, 0, ex.stderr)
    const bundle = JSON.parse(await readFile(out, 'utf8'))
    assert.equal(bundle.type, 'bundle')
    const got = bundle.objects.map((o: any) => `${String(o.id)}@${String(o.modified ?? '')}`)
    assert.equal(new Set(got).size, got.length)
    // Current only: the newest version of the versioned indicator, no revoked one.
    assert.ok(got.includes(`${String(BUNDLE.objects[1].id)}@${V2}`))
    assert.ok(!got.includes(`${String(BUNDLE.objects[0].id)}@${V1}`))
    assert.ok(!got.some((g: string) => g.startsWith(String(BUNDLE.objects[2].id))))
    assert.equal(bundle.objects.length, 5 + 1 + 2, 'five list indicators, one CSV URL, the new version and the malware')

  })

  it('upgrades a STIX 2.0 bundle (indicators, malware, attack patterns, relationships, reports) and says per object what changed', async () => {
    const dir = join(tmp.dir, 'stix20')
    await initDataDir(dir, { name: 'stix20', country: 'DE' })
    const file = join(tmp.dir, 'playbook-2.0.json')
    await writeFile(file, JSON.stringify(STIX20_BUNDLE))
    const r = await runCli(['import', '--data', dir, '--json', file])
    // Two objects cannot be STIX 2.1: skipped with a reason; that is not a refusal by the node.
    assert.equal(r.code, 0, r.stderr)
    const s: ImportSummary = json(r.stdout)
    assert.deepEqual([s.format, s.values, s.imported, s.duplicates], ['stix', 14, 12, 0])
    assert.deepEqual(s.skipped, { 'stix-2.0-not-upgradable': 2 })
    assert.deepEqual(s.tlp, { green: 11, amber: 1 })
    assert.equal(s.upgrade?.objects, 12)
    assert.equal(s.upgrade?.changes.spec_version, 12)
    assert.deepEqual(s.upgrade?.details.find(d => d.id === STIX20_BUNDLE.objects[4].id)?.changes, ['spec_version: "2.1"', 'created: "2016-04-06T20:07:09Z" to the millisecond', 'modified: "2016-04-06T20:07:09Z" to the millisecond', 'is_family: true', 'malware_types: ["remote-access-trojan"] from labels'])
    assert.match(s.examples.find(e => e.value === STIX20_BUNDLE.objects[12].id)?.detail ?? '', /name is required/)
    const types = new Set(s.upgrade?.details.map(d => d.id.split('--')[0]))
    for (const t of ['indicator', 'malware', 'attack-pattern', 'relationship', 'report']) assert.ok(types.has(t), t)

    const human = await runCli(['import', '--data', dir, file])
    assert.match(human.stdout, /upgraded +12 objects from STIX 2\.0 to 2\.1 \(spec_version 12, /)
    assert.match(human.stdout, /objects\[4\] malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b: spec_version: "2\.1"; .*is_family: true/)
    assert.match(human.stdout, /duplicates +12/, 'importing again stores nothing new')
    // publish keeps refusing 2.0, with its clear error.
    const pub = await runCli(['publish', '--data', dir, file])
    assert.equal(pub.code, 1)
    assert.match(pub.stderr, /DRAGNET_STIX_VERSION: .*STIX 2\.0 bundles are not accepted/)
  })

  it('imports a CSV table by several value columns (--column FQDN,IP)', async () => {
    const dir = join(tmp.dir, 'csv-columns')
    await initDataDir(dir, { name: 'csv', country: 'DE' })
    const file = join(tmp.dir, 'table.csv')
    await writeFile(file, 'Date,FQDN,IP\n2026-01-01,c2[.]evil.example,198.51.100[.]7\n2026-01-02,,203.0.113.9\n')
    const r = await runCli(['import', '--data', dir, '--json', '--column', 'FQDN,IP', file])
    assert.equal(r.code, 0, r.stderr)
    const s: ImportSummary = json(r.stdout)
    assert.deepEqual([s.format, s.values, s.imported], ['csv', 3, 3])
    const look = await runCli(['lookup', '--data', dir, 'c2.evil.example'])
    assert.equal(JSON.parse(look.stdout).records.length, 1, 'refanged and stored')
  })

  it('refuses bad options and unreadable input with a clear error, storing nothing', async () => {
    const before = await recordsIn(data)
    const runs = await Promise.all([['--format', 'xml'], ['--tlp', 'purple'], ['--format', 'stix', '--column', '2']].map(async args => ({ args, r: await runCli(['import', '--data', data, ...args, join(tmp.dir, 'list.txt')]) })))
    for (const { args, r } of runs) {
      assert.equal(r.code, 1, args.join(' '))
      assert.match(r.stderr, /^error: DRAGNET_(BAD_REQUEST|BAD_TLP): /m)
    }
    const missing = await runCli(['import', '--data', data, join(tmp.dir, 'nope.txt')])
    assert.match(missing.stderr, /cannot read .*nope\.txt: ENOENT/)
    assert.equal(await recordsIn(data), before)
  })

  it('goes through the running node\'s API when a node runs on the data dir', async () => {
    const dir = join(tmp.dir, 'running')
    await initDataDir(dir, { name: 'running', country: 'DE' })
    const token = await ensureToken(dir)
    const node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({ overrides: { ingest: { verifyWorkers: 0 } } }), log: silentLogger(), network: false })
    await node.start({ api: async n => await startApi(n, '127.0.0.1:0', { token }) })
    try {
      const r = await runCli(['import', '--data', dir, '--json', join(tmp.dir, 'list.txt')])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(json(r.stdout).imported, 5)
      assert.equal(node.store.counts().records, 5, 'stored by the running node')
      const audit = await node.store.auditEntries({ limit: 1 })
      assert.equal(audit[0].rule, 'local:import')
      const again = await runCli(['import', '--data', dir, '--json', join(tmp.dir, 'list.txt')])
      assert.equal(json(again.stdout).records.stored, 0)
      const ex = await runCli(['export', '--data', dir])
      assert.equal(ex.code, 0, ex.stderr)
      const objects = JSON.parse(ex.stdout).objects
      assert.equal(objects.filter((o: any) => o.type === 'indicator').length, 5)
      assert.ok(objects.every((o: any) => o.type !== 'indicator' || o.object_marking_refs[0] === 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb'), 'TLP:GREEN (2.0) on every indicator')
      // A records file written by the running node (it signs the closing line), checked offline.
      const file = join(tmp.dir, 'running.jsonl')
      const rec = await runCli(['export', '--data', dir, '--format', 'records', '--out', file])
      assert.equal(rec.code, 0, rec.stderr)
      assert.match(rec.stderr, /exported 5 records/)
      const v = await runCli(['verify', file])
      assert.equal(v.code, 0, v.stdout + v.stderr)
      assert.match(v.stdout, new RegExp(`exporter +${node.peerId}`))
    } finally {
      await node.stop()
    }
  })
})

// ------------------------------------------------------------------ the shared real-world data

function files (dir: string, ext: string): string[] {
  return readdirSync(dir).sort().flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path, ext)
    return name.endsWith(ext) ? [path] : []
  })
}

// Written for this test, not taken from the importer: what the data should yield.
function stableJson (v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v != null && typeof v === 'object') return `{${Object.keys(v).sort().map(k => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`
  return JSON.stringify(v)
}

const MISP_TYPES_MAPPED = new Set(['ip-src', 'ip-dst', 'ip-src|port', 'ip-dst|port', 'hostname|port', 'domain|port', 'domain', 'hostname', 'domain|ip', 'url', 'uri', 'link',
  'email', 'email-src', 'email-dst', 'email-reply-to', 'md5', 'sha1', 'sha256', 'filename|md5', 'filename|sha1', 'filename|sha256', 'malware-sample', 'filename', 'vulnerability'])

interface Expect { values: number, duplicates?: number, skipped?: Record<string, number>, tlp?: string }

function expectStix (text: string): Expect {
  const doc = JSON.parse(text)
  const objects: any[] = Array.isArray(doc) ? doc : doc.type === 'bundle' ? doc.objects ?? [] : [doc]
  const seen = new Set<string>()
  let duplicates = 0
  for (const o of objects) {
    const k = stableJson(o)
    if (seen.has(k)) duplicates++
    seen.add(k)
  }
  // payload_bin must be base64 (STIX 2.1 binary type); the SCO examples hold three that are not.
  const badBase64 = objects.filter(o => o.type === 'artifact' && typeof o.payload_bin === 'string' && !/^[A-Za-z0-9+/]*={0,2}$/.test(o.payload_bin)).length
  return { values: objects.length, duplicates, skipped: badBase64 > 0 ? { 'rejected:DRAGNET_STIX_INVALID': badBase64 } : {} }
}

function expectMisp (text: string): Expect {
  const e = JSON.parse(text).Event
  let values = e.Attribute.length
  let unsupported = e.Attribute.filter((a: any) => !MISP_TYPES_MAPPED.has(a.type)).length
  for (const o of e.Object ?? []) {
    values += o.Attribute.length
    // An ip-port object's port goes into the one indicator with its address.
    unsupported += o.Attribute.filter((a: any) => !MISP_TYPES_MAPPED.has(a.type) && !(o.name === 'ip-port' && a.type === 'port')).length
  }
  const tlp = e.Tag.map((t: any) => t.name).find((n: string) => n.startsWith('tlp:')) === 'tlp:white' ? 'clear' : undefined
  return { values, tlp, skipped: { 'unsupported-type': unsupported } }
}

function expectList (text: string): Expect {
  const lines = text.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  return { values: lines.length, skipped: { 'no-host': lines.filter(l => l.startsWith('/')).length } }
}

describe('import: every file of the shared data, with a correct summary; importing again stores nothing new', function () {
  this.timeout(240_000)
  const results: Array<{ file: string, first: ImportSummary, second: ImportSummary, stored: number, expect: Expect }> = []
  let root: string

  before(async function () {
    root = requireSharedData(this)
    const jobs = [
      ...files(join(root, 'stix'), '.json').map(f => ({ file: f, expect: expectStix })),
      ...files(join(root, 'misp', 'events'), '.json').map(f => ({ file: f, expect: expectMisp })),
      ...files(join(root, 'iocs'), '.txt').filter(f => !f.endsWith('LICENSE')).map(f => ({ file: f, expect: expectList }))
    ]
    // Each file into a node of its own (its counts stand alone), three at a time: most of an
    // import is waiting for LevelDB, so a few overlap well on two cores.
    const run = async (job: typeof jobs[number]): Promise<void> => {
      const tmp = await tempDir('dragnet-shared-import-')
      const node = await testNode({ dir: tmp.dir })
      try {
        const text = readFileSync(job.file, 'utf8')
        const parsed = parseImport(text, { name: job.file })
        const publish = async (objects: Array<Record<string, unknown>>, tlp: any): Promise<any> => await node.publish(objects, { tlp, source: 'import', skipExisting: true })
        const first = await runImport(parsed, { publish, file: job.file })
        const stored = node.store.counts().records
        const second = await runImport(parseImport(text, { name: job.file }), { publish, file: job.file })
        assert.equal(node.store.counts().records, stored, `${job.file}: importing again stored ${node.store.counts().records - stored} records`)
        results.push({ file: relative(root, job.file), first, second, stored, expect: job.expect(text) })
      } finally {
        await node.stop()
        await tmp.cleanup()
      }
    }
    const queue = [...jobs]
    await Promise.all([1, 2, 3].map(async () => { while (queue.length > 0) await run(queue.shift()!) }))
    results.sort((a, b) => a.file.localeCompare(b.file))
  })

  it('reads every value of every file and accounts for each: imported, duplicate or skipped with a reason', () => {
    assert.equal(results.length, 19 + 5 + 7, '19 STIX files, 5 MISP events, 7 indicator lists')
    for (const r of results) {
      const s = r.first
      console.log(`      ${r.file.padEnd(72)} values ${String(s.values).padStart(6)}  imported ${String(s.imported).padStart(6)}  duplicates ${String(s.duplicates).padStart(5)}  skipped ${JSON.stringify(s.skipped)}`)
    }
    for (const r of results) {
      const s = r.first
      assert.equal(s.values, r.expect.values, `${r.file}: values`)
      assert.equal(s.imported + s.duplicates + skippedTotal(s), s.values, `${r.file}: every value accounted for`)
      assert.equal(s.records.stored, r.stored, `${r.file}: records stored`)
      if (r.expect.duplicates != null) assert.equal(s.duplicates, r.expect.duplicates, `${r.file}: duplicates`)
      for (const [reason, n] of Object.entries(r.expect.skipped ?? {})) assert.equal(s.skipped[reason] ?? 0, n, `${r.file}: skipped ${reason}`)
      if (r.file.startsWith('stix')) assert.equal(skippedTotal(s), Object.values(r.expect.skipped ?? {}).reduce((a, b) => a + b, 0), `${r.file}: nothing else skipped`)
      if (r.expect.tlp != null) assert.deepEqual(Object.keys(s.tlp), [r.expect.tlp], `${r.file}: the MISP TLP tag`)
      assert.ok(s.imported > 0, `${r.file}: imports something`)
    }
  })

  it('importing the same file again stores nothing new', () => {
    for (const r of results) {
      const s = r.second
      assert.equal(s.records.stored, 0, `${r.file}: stored again`)
      assert.equal(s.imported, 0)
      assert.equal(s.duplicates, r.first.imported + r.first.duplicates, `${r.file}: what was imported is now a duplicate`)
    }
  })
})
