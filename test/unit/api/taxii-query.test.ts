import assert from 'node:assert/strict'
import { isDragnetError } from '../../../src/errors.js'
import { acceptsTaxii, COLLECTIONS, collectionById, decodeCursor, encodeCursor, parseTaxiiQuery, taxiiTimestamp, timestampMicros } from '../../../src/api/taxii-query.js'

const badRequest = (e: unknown): boolean => isDragnetError(e, 'DRAGNET_BAD_REQUEST')

describe('taxii: media types', () => {
  it('accepts TAXII 2.1, version-less TAXII, wildcards and no Accept at all', () => {
    for (const a of [undefined, '', 'application/taxii+json;version=2.1', 'application/taxii+json; version=2.1', 'application/taxii+json;version="2.1"',
      'APPLICATION/TAXII+JSON;VERSION=2.1', 'application/taxii+json', '*/*', 'application/*', 'text/html, application/taxii+json;version=2.1;q=0.9']) {
      assert.equal(acceptsTaxii(a), true, String(a))
    }
  })

  it('refuses other types, other versions and q=0', () => {
    for (const a of ['application/json', 'application/taxii+json;version=2.0', 'application/stix+json;version=2.1', 'text/html', 'application/taxii+json;version=2.1;q=0']) {
      assert.equal(acceptsTaxii(a), false, a)
    }
  })
})

describe('taxii: timestamps and collections', () => {
  it('writes RFC 3339 UTC with microseconds', () => {
    assert.equal(taxiiTimestamp(Date.parse('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z')
    assert.match(taxiiTimestamp(Date.now()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
  })

  it('reads timestamps to the microsecond, with any precision and offsets', () => {
    const base = Date.parse('2026-01-02T03:04:05Z') * 1000
    assert.equal(timestampMicros('2026-01-02T03:04:05Z'), base)
    assert.equal(timestampMicros('2026-01-02T03:04:05.000001Z'), base + 1)
    assert.equal(timestampMicros('2026-01-02T03:04:05.123456Z'), base + 123456)
    assert.equal(timestampMicros('2026-01-02T05:04:05.5+02:00'), base + 500000)
    assert.equal(timestampMicros('yesterday'), null)
    assert.equal(timestampMicros('2026-02-30T00:00:00Z'), null)
  })

  it('has one collection per TLP level with fixed ids, found by id or alias', () => {
    assert.deepEqual(COLLECTIONS.map(c => c.tlp), ['clear', 'green', 'amber', 'amber+strict', 'red'])
    assert.equal(new Set(COLLECTIONS.map(c => c.id)).size, 5)
    for (const c of COLLECTIONS) {
      assert.match(c.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.equal(collectionById(c.id), c)
      assert.equal(collectionById(c.alias), c)
    }
    assert.equal(collectionById('tlp-amber-strict')?.tlp, 'amber+strict')
    assert.equal(collectionById('nope'), undefined)
  })
})

describe('taxii: query parameters', () => {
  it('defaults to the last version and a page of 100', () => {
    const q = parseTaxiiQuery({}, 'objects', 'green')
    assert.equal(q.limit, 100)
    assert.deepEqual(q.versions, { all: false, first: false, last: true, at: new Set() })
    assert.equal(q.specVersionOk, true)
  })

  it('reads lists (comma-separated, repeated parameters add up) and caps the limit', () => {
    const q = parseTaxiiQuery({ 'match[type]': ['indicator,malware', 'tool'], 'match[id]': 'indicator--a', 'match[version]': 'first,2026-01-01T00:00:00.000Z', limit: '5000' }, 'objects', 'green')
    assert.deepEqual([...q.types!], ['indicator', 'malware', 'tool'])
    assert.deepEqual([...q.ids!], ['indicator--a'])
    assert.equal(q.versions.first, true)
    assert.equal(q.versions.last, false)
    assert.deepEqual([...q.versions.at], [Date.parse('2026-01-01T00:00:00Z') * 1000])
    assert.equal(q.limit, 1000)
    assert.equal(parseTaxiiQuery({ 'match[spec_version]': '2.0' }, 'objects', 'green').specVersionOk, false)
    assert.equal(parseTaxiiQuery({ 'match[spec_version]': '2.0,2.1' }, 'objects', 'green').specVersionOk, true)
  })

  it('refuses malformed values and filters an endpoint does not take, naming them', () => {
    const cases: Array<[Record<string, unknown>, Parameters<typeof parseTaxiiQuery>[1], string]> = [
      [{ limit: '0' }, 'objects', 'limit'],
      [{ limit: 'ten' }, 'objects', 'limit'],
      [{ added_after: 'yesterday' }, 'objects', 'added_after'],
      [{ 'match[version]': 'newest' }, 'objects', 'match[version]'],
      [{ 'match[spec_version]': 'latest' }, 'objects', 'match[spec_version]'],
      [{ 'match[colour]': 'red' }, 'objects', 'match[colour]'],
      [{ 'match[type]': 'indicator' }, 'versions', 'match[type]'],
      [{ 'match[id]': 'x' }, 'object', 'match[id]'],
      [{ page: '2' }, 'manifest', 'page']
    ]
    for (const [query, endpoint, property] of cases) {
      assert.throws(() => parseTaxiiQuery(query, endpoint, 'green'), (e: unknown) => badRequest(e) && (e as { details: { property?: string } }).details.property === property, JSON.stringify(query))
    }
  })
})

describe('taxii: the next cursor', () => {
  it('round-trips and is opaque', () => {
    const text = encodeCursor({ kind: 'o', tlp: 'amber+strict', position: 123456789 })
    assert.match(text, /^[A-Za-z0-9_-]+$/)
    assert.ok(!text.includes('123456789'))
    assert.deepEqual(decodeCursor(text, 'o', 'amber+strict'), { kind: 'o', tlp: 'amber+strict', position: 123456789 })
    assert.deepEqual(parseTaxiiQuery({ next: text }, 'objects', 'amber+strict').next?.position, 123456789)
  })

  it('refuses a forged cursor, or one from another collection or endpoint', () => {
    const green = encodeCursor({ kind: 'o', tlp: 'green', position: 5 })
    assert.throws(() => decodeCursor(green, 'o', 'red'), badRequest)
    assert.throws(() => decodeCursor(green, 'v', 'green'), badRequest)
    assert.throws(() => decodeCursor('bm9wZQ', 'o', 'green'), badRequest)
    assert.throws(() => decodeCursor('../../etc', 'o', 'green'), badRequest)
    assert.throws(() => parseTaxiiQuery({ next: [green, green] }, 'objects', 'green'), badRequest)
  })
})
