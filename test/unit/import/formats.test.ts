import assert from 'node:assert/strict'
import { isDragnetError } from '../../../src/errors.js'
import { detectFormat, parseCsv, parseCsvRows, parseImport, parseIndicatorList, parseStix, runImport, type ImportVerdict } from '../../../src/import/index.js'

const NOW = Date.parse('2026-03-01T12:00:00.000Z')

function values (p: ReturnType<typeof parseIndicatorList>): string[] {
  return p.items.map(i => String(i.object.name))
}

describe('import: indicator lists', () => {
  const text = [
    '# a comment',
    '',
    '192.0.2.1',
    '192.0.2.1:8080        # same host, another port: a duplicate',
    'evil[.]example',
    'hxxp://evil[.]example/gate.php',
    'evil.example/wp-admin/',
    '/wp-admin/only-a-path.php',
    '198.51.100.0/24 # a network',
    'user[@]evil.example',
    '   ',
    '0123456789abcdef0123456789abcdef',
    'two words',
    'EVIL.EXAMPLE',
    '\tnot_a_host\t'
  ].join('\r\n')

  it('accounts for every value: indicators, duplicates, skipped with reasons', () => {
    const p = parseIndicatorList(text, { now: NOW })
    assert.equal(p.format, 'iocs')
    assert.equal(p.values, 12, 'non-blank, non-comment lines')
    assert.deepEqual(values(p), ['192.0.2.1', 'evil.example', 'http://evil.example/gate.php', 'http://evil.example/wp-admin/', '198.51.100.0/24', 'user@evil.example', '0123456789abcdef0123456789abcdef'])
    assert.equal(p.duplicates, 2, '192.0.2.1:8080 and EVIL.EXAMPLE repeat earlier values')
    assert.deepEqual(p.skipped.map(s => [s.where, s.reason]), [['line 8', 'no-host'], ['line 13', 'unrecognised'], ['line 15', 'unrecognised']])
    assert.equal(p.items.length + p.duplicates + p.skipped.length, p.values)
  })

  it('gives the same objects for the same file (ids from the values, times from the caller)', () => {
    const a = parseIndicatorList(text, { now: NOW })
    const b = parseIndicatorList(text, { now: NOW })
    assert.deepEqual(a.items, b.items)
    const later = parseIndicatorList(text, { now: NOW + 1000 })
    assert.deepEqual(later.items.map(i => i.object.id), a.items.map(i => i.object.id))
    for (const i of a.items) assert.equal(i.object.created, '2026-03-01T12:00:00.000Z')
  })

  it('reads an empty file as no values', () => {
    const p = parseIndicatorList('\n# only comments\n')
    assert.equal(p.values, 0)
    assert.equal(p.items.length, 0)
  })
})

describe('import: CSV', () => {
  it('parses RFC 4180 rows: quotes, doubled quotes, commas and line breaks in fields', () => {
    const rows = parseCsvRows('a,"b,c","d ""e""",f\r\n"multi\nline",2\n\nlast')
    assert.deepEqual(rows.map(r => r.cells), [['a', 'b,c', 'd "e"', 'f'], ['multi\nline', '2'], ['last']])
    assert.deepEqual(rows.map(r => r.line), [1, 2, 5])
    assert.throws(() => parseCsvRows('"never closed'), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'))
  })

  const csv = 'first_seen,ioc,comment\n2026-01-01,192.0.2.7,"c2, port 443"\n2026-01-02,evil[.]example,\n2026-01-03,,empty cell\n2026-01-04,nonsense value,x\n'

  it('takes the column by header name, or finds a value-like header by itself', () => {
    for (const column of ['ioc', 'IOC', undefined]) {
      const p = parseCsv(csv, { column, now: NOW })
      assert.equal(p.values, 3, `column ${String(column)}: three non-empty cells`)
      assert.deepEqual(values(p), ['192.0.2.7', 'evil.example'])
      assert.deepEqual(p.skipped.map(s => [s.where, s.reason]), [['row 5', 'unrecognised']])
    }
  })

  it('takes the column by number from 1, treating a non-indicator first row as the header', () => {
    const p = parseCsv(csv, { column: 2, now: NOW })
    assert.equal(p.values, 3)
    assert.deepEqual(values(p), ['192.0.2.7', 'evil.example'])
    const noHeader = parseCsv('192.0.2.1;x\n192.0.2.2;y\n', { column: 1, now: NOW })
    assert.deepEqual(values(noHeader), ['192.0.2.1', '192.0.2.2'], 'semicolon-separated, no header')
  })

  it('refuses a column that is not there, naming the header', () => {
    assert.throws(() => parseCsv(csv, { column: 'indicator' }), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST') && /no column named "indicator".*"ioc"/.test(e.message))
    assert.throws(() => parseCsv(csv, { column: 0 }), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'))
    assert.throws(() => parseCsv(csv, { column: ['ioc', 'nope'] }), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST') && /no column named "nope"/.test(e.message))
  })

  // A table as analysts keep them: a host name and an address per row, defanged, one cell empty.
  const table = 'Date,FQDN,IP,Note\n2026-01-01,c2[.]evil.example,198.51.100[.]7,dropper\n2026-01-02,,203.0.113.9,no host\n2026-01-03,cdn[.]evil.example,198.51.100.7,same address\n2026-01-04,not a host!,,junk\n'

  it('takes several value columns by name or number, refanging each value; says which column a value came from', () => {
    for (const column of [['FQDN', 'IP'], ['fqdn', 'ip'], [2, 3], ['FQDN', 3]]) {
      const p = parseCsv(table, { column, now: NOW })
      assert.equal(p.values, 6, `${JSON.stringify(column)}: six non-empty cells`)
      assert.deepEqual(values(p), ['c2.evil.example', '198.51.100.7', '203.0.113.9', 'cdn.evil.example'])
      assert.equal(p.duplicates, 1, '198.51.100.7 twice')
      assert.deepEqual(p.skipped.map(s => [s.where, s.reason]), [['row 5 column FQDN', 'unrecognised']])
    }
    const one = parseCsv(table, { column: ['IP'], now: NOW })
    assert.deepEqual(values(one), ['198.51.100.7', '203.0.113.9'])
  })
})

describe('import: STIX input', () => {
  const ind = { type: 'indicator', spec_version: '2.1', id: 'indicator--0b8e1d52-4bf9-4d1c-8a6a-4f1f6c2b7e10', created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z', pattern: "[ipv4-addr:value = '192.0.2.1']", pattern_type: 'stix', valid_from: '2026-01-01T00:00:00.000Z' }
  const red = { ...ind, id: 'indicator--0b8e1d52-4bf9-4d1c-8a6a-4f1f6c2b7e11', object_marking_refs: ['marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da', 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed'] }
  const white = { ...ind, id: 'indicator--0b8e1d52-4bf9-4d1c-8a6a-4f1f6c2b7e12', object_marking_refs: ['marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9'] }

  it('reads bundles, bare arrays and single objects; exact repeats are duplicates', () => {
    const fromBundle = parseStix({ type: 'bundle', id: 'bundle--0b8e1d52-4bf9-4d1c-8a6a-4f1f6c2b7e00', objects: [ind, { ...ind }, red] })
    assert.equal(fromBundle.values, 3)
    assert.equal(fromBundle.items.length, 2)
    assert.equal(fromBundle.duplicates, 1)
    assert.equal(parseStix([ind, red]).items.length, 2)
    assert.equal(parseStix(ind).items.length, 1)
  })

  it('takes the TLP from TLP markings, the strictest when there are several; white is CLEAR', () => {
    const p = parseStix([ind, red, white])
    assert.deepEqual(p.items.map(i => i.tlp), [undefined, 'red', 'clear'])
  })

  it('takes STIX 2.0 bundles (upgraded: see stix20.test.ts) and refuses what is not STIX', () => {
    assert.deepEqual(parseStix({ type: 'bundle', id: 'bundle--x', spec_version: '2.0', objects: [] }).items, [])
    assert.throws(() => parseStix({ type: 'bundle', id: 'bundle--x', spec_version: '2.0', objects: {} }), (e: unknown) => isDragnetError(e, 'DRAGNET_NOT_STIX'))
    assert.throws(() => parseStix(42), (e: unknown) => isDragnetError(e, 'DRAGNET_NOT_STIX'))
  })
})

describe('import: format detection', () => {
  it('tells STIX, MISP, CSV and lists apart', () => {
    assert.equal(detectFormat('{"type":"bundle","id":"bundle--x","objects":[]}').format, 'stix')
    assert.equal(detectFormat('[{"type":"indicator"}]').format, 'stix')
    assert.equal(detectFormat('{"Event":{"info":"x","Attribute":[]}}').format, 'misp')
    assert.equal(detectFormat('[{"Event":{"Attribute":[]}}]').format, 'misp')
    assert.equal(detectFormat('{"response":[{"Event":{"Attribute":[]}}]}').format, 'misp')
    assert.equal(detectFormat('ioc\n192.0.2.1\n', 'list.csv').format, 'csv')
    assert.equal(detectFormat('192.0.2.1\n', 'list.txt').format, 'iocs')
    assert.equal(detectFormat('[2001:db8::1]:443\n', 'list.txt').format, 'iocs', 'an IPv6 host:port line is no JSON')
  })

  it('says when JSON does not parse, and refuses an unknown format', () => {
    assert.throws(() => parseImport('{"type": ', { name: 'x.json' }), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_JSON'))
    assert.throws(() => parseImport('x', { format: 'xml' as never }), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'))
  })
})

describe('import: publishing and the summary', () => {
  it('publishes in chunks of one TLP, in order, and accounts for every verdict', async () => {
    const p = parseIndicatorList('192.0.2.1\n192.0.2.2\n192.0.2.3\n/path\n192.0.2.1\n', { now: NOW })
    p.items[1].tlp = 'amber'
    const calls: Array<{ n: number, tlp: string }> = []
    const verdicts: ImportVerdict[][] = [
      [{ status: 'stored', id: 'a' }],
      [{ status: 'duplicate', id: 'b' }],
      [{ status: 'rejected', code: 'DRAGNET_NOT_OWNER', reason: 'owned' }]
    ]
    const s = await runImport(p, { chunk: 2, publish: async (objects, tlp) => { calls.push({ n: objects.length, tlp }); return verdicts[calls.length - 1] } })
    assert.deepEqual(calls, [{ n: 1, tlp: 'green' }, { n: 1, tlp: 'amber' }, { n: 1, tlp: 'green' }])
    assert.equal(s.values, 5)
    assert.equal(s.imported, 1)
    assert.equal(s.duplicates, 2, 'one repeated in the file, one already stored')
    assert.deepEqual(s.skipped, { 'no-host': 1, 'owned-by-another-member': 1 })
    assert.deepEqual(s.records, { stored: 1, duplicate: 1, rejected: 1 })
    assert.deepEqual(s.tlp, { green: 1 })
  })

  it('keeps a chunk under the byte limit (one API request each)', async () => {
    const p = parseIndicatorList(Array.from({ length: 10 }, (_, i) => `192.0.2.${i}`).join('\n'), { now: NOW })
    const size = JSON.stringify(p.items[0].object).length
    const sizes: number[] = []
    await runImport(p, { chunkBytes: size * 3 + 10, publish: async (objects) => { sizes.push(objects.length); return objects.map(() => ({ status: 'stored' as const })) } })
    assert.deepEqual(sizes, [3, 3, 3, 1])
  })

  it('puts everything at --tlp when given, refusing what its source marks stricter', async () => {
    const p = parseIndicatorList('192.0.2.1\n192.0.2.2\n192.0.2.3\n', { now: NOW })
    p.items[0].tlp = 'red'
    p.items[1].tlp = 'clear'
    const published: Array<[string, number]> = []
    const s = await runImport(p, { tlp: 'green', publish: async (objects, tlp) => { published.push([tlp, objects.length]); return objects.map(() => ({ status: 'stored' as const })) } })
    assert.deepEqual(published, [['green', 2]], 'one chunk at --tlp, without the red item')
    assert.deepEqual(s.skipped, { 'rejected:DRAGNET_TLP_CONFLICT': 1 })
    assert.match(s.examples[0].detail ?? '', /--tlp green is looser than .*\(red/)
    assert.deepEqual(s.records, { stored: 2, duplicate: 0, rejected: 1 })
  })
})
