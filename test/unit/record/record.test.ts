import assert from 'node:assert/strict'
import canonicalize from 'canonicalize'
import fc from 'fast-check'
import { NodeIdentity } from '../../../src/identity/index.js'
import {
  HEADER_BYTES, SIGNING_DOMAIN, canonicalJson, createRecord, decodeRecord, encodeUnsigned, idOfEnvelope, openRecord,
  recordId, scopesOf, verifyEnvelope, type UnsignedRecord
} from '../../../src/record/index.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { isDragnetError } from '../../../src/errors.js'

const body = indicator({ kind: 'ipv4', value: '198.51.100.7' })

function codeOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (isDragnetError(err)) return err.code
    throw err
  }
  return 'accepted'
}

describe('record', () => {
  let id: NodeIdentity
  let other: NodeIdentity
  before(async () => {
    id = await NodeIdentity.generate()
    other = await NodeIdentity.generate()
  })

  it('creates, verifies and decodes a record with every field', () => {
    const r = createRecord(id, { seq: 7, ts: 1_700_000_000_000, tlp: 'amber', to: [other.peerId], body })
    const back = openRecord(r.bytes)
    assert.equal(back.id, r.id)
    assert.deepEqual(back.record, { v: 1, author: id.peerId, seq: 7, ts: 1_700_000_000_000, tlp: 'amber', to: [other.peerId], body })
    assert.equal(back.id, recordId(back.bytes.subarray(HEADER_BYTES)))
    assert.match(back.id, /^1220[0-9a-f]{64}$/)
    assert.equal(idOfEnvelope(r.bytes), r.id)
  })

  it('signs a domain-separated message: the bare payload signature does not verify', async () => {
    const r = createRecord(id, { seq: 1, ts: 1, tlp: 'green', body })
    const forged = r.bytes.slice()
    forged.set(id.sign(forged.subarray(HEADER_BYTES)), 33)
    assert.equal(codeOf(() => openRecord(forged)), 'DRAGNET_BAD_SIGNATURE')
    assert.equal(new TextDecoder().decode(SIGNING_DOMAIN), 'dragnet/record/v1\n')
  })

  it('rejects a flipped bit anywhere in the record', () => {
    const r = createRecord(id, { seq: 3, ts: 1_700_000_000_123, tlp: 'green', body })
    const codes = new Set<string>()
    for (let i = 0; i < r.bytes.length; i++) {
      for (const bit of [0, 7]) {
        const bad = r.bytes.slice()
        bad[i] ^= 1 << bit
        const code = codeOf(() => openRecord(bad))
        assert.notEqual(code, 'accepted', `flipping bit ${bit} of byte ${i} was accepted`)
        codes.add(code)
      }
    }
    assert.ok(codes.has('DRAGNET_BAD_SIGNATURE'))
    assert.ok(codes.has('DRAGNET_MALFORMED_RECORD'))
  })

  it('rejects oversized and too deeply nested records, on creation and on receipt', () => {
    const big = { ...body, description: 'x'.repeat(300 * 1024) }
    assert.equal(codeOf(() => createRecord(id, { seq: 1, ts: 1, tlp: 'green', body: big })), 'DRAGNET_TOO_LARGE')
    const r = createRecord(id, { seq: 1, ts: 1, tlp: 'green', body: { ...body, description: 'y'.repeat(2000) } })
    assert.equal(codeOf(() => openRecord(r.bytes, { maxRecordBytes: 1024 })), 'DRAGNET_TOO_LARGE')
    let deep: unknown = 'leaf'
    for (let i = 0; i < 40; i++) deep = { d: deep }
    assert.equal(codeOf(() => createRecord(id, { seq: 1, ts: 1, tlp: 'green', body: { ...body, x_deep: deep } })), 'DRAGNET_TOO_DEEP')
    const shallow = createRecord(id, { seq: 1, ts: 1, tlp: 'green', body: { ...body, x_deep: deep } }, { maxDepth: 64 })
    assert.equal(codeOf(() => openRecord(shallow.bytes)), 'DRAGNET_TOO_DEEP')
    assert.equal(codeOf(() => openRecord(shallow.bytes, { maxDepth: 64 })), 'accepted')
  })

  it('rejects validly signed payloads that are not canonical or not records', () => {
    const sign = (payload: string): Uint8Array => {
      const unsigned = Buffer.from(payload, 'utf8')
      const bytes = new Uint8Array(HEADER_BYTES + unsigned.length)
      bytes[0] = 1
      bytes.set(id.publicKey, 1)
      bytes.set(id.sign(Buffer.concat([SIGNING_DOMAIN, unsigned])), 33)
      bytes.set(unsigned, HEADER_BYTES)
      return bytes
    }
    const fields = { v: 1, author: id.peerId, seq: 1, ts: 5, tlp: 'green', body }
    assert.equal(codeOf(() => openRecord(sign(canonicalJson(fields)))), 'accepted')
    assert.equal(codeOf(() => openRecord(sign(JSON.stringify(fields)))), 'DRAGNET_NOT_CANONICAL')
    assert.equal(codeOf(() => openRecord(sign(canonicalJson(fields) + ' '))), 'DRAGNET_NOT_CANONICAL')
    assert.equal(codeOf(() => openRecord(sign(canonicalJson({ ...fields, author: other.peerId })))), 'DRAGNET_MALFORMED_RECORD')
    assert.equal(codeOf(() => openRecord(sign(canonicalJson({ ...fields, tlp: 'white' })))), 'DRAGNET_MALFORMED_RECORD')
    assert.equal(codeOf(() => openRecord(sign(canonicalJson({ ...fields, seq: 0 })))), 'DRAGNET_MALFORMED_RECORD')
    assert.equal(codeOf(() => openRecord(sign(canonicalJson({ ...fields, extra: 1 })))), 'DRAGNET_MALFORMED_RECORD')
    assert.equal(codeOf(() => openRecord(sign(canonicalJson({ ...fields, to: [other.peerId, id.peerId].sort().reverse() })))), 'DRAGNET_MALFORMED_RECORD')
    assert.equal(codeOf(() => openRecord(sign('{"v":1,'))), 'DRAGNET_MALFORMED_RECORD')
    assert.equal(codeOf(() => openRecord(new Uint8Array(10))), 'DRAGNET_MALFORMED_RECORD')
  })

  it('verifies before parsing: a bad signature is reported even when the payload is garbage', () => {
    const garbage = new Uint8Array(HEADER_BYTES + 20).fill(0x7b)
    garbage[0] = 1
    garbage.set(id.publicKey, 1)
    assert.equal(codeOf(() => verifyEnvelope(garbage)), 'DRAGNET_BAD_SIGNATURE')
  })

  it('property: decode(encode(r)) == r and the id is stable', () => {
    const json = fc.letrec(tie => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(fc.string().filter(s => s !== '__proto__'), tie('value'), { maxKeys: 4, noNullPrototype: true })
    })).value
    const arbRecord = fc.record({
      seq: fc.integer({ min: 1, max: 2 ** 40 }),
      ts: fc.integer({ min: 0, max: 2 ** 45 }),
      tlp: fc.constantFrom('clear', 'green', 'amber', 'amber+strict', 'red' as const),
      extra: fc.dictionary(fc.string({ minLength: 1 }).map(s => `x_${s}`), json, { maxKeys: 3, noNullPrototype: true }),
      withTo: fc.boolean()
    })
    fc.assert(fc.property(arbRecord, (a) => {
      const init = { seq: a.seq, ts: a.ts, tlp: a.tlp, body: { ...body, ...a.extra }, ...(a.withTo ? { to: [other.peerId] } : {}) }
      let r
      try {
        r = createRecord(id, init, { maxDepth: 64 })
      } catch (err) {
        // Lone surrogates have no canonical form; refusing them is the property.
        if (isDragnetError(err, 'DRAGNET_NOT_CANONICAL')) return
        throw err
      }
      const back = openRecord(r.bytes, { maxDepth: 64 })
      // JSON has one zero: -0 is signed as 0, so compare with the JSON view of what was signed.
      assert.deepEqual(back.record, JSON.parse(JSON.stringify(r.record)))
      assert.equal(back.id, r.id)
      // Same fields, same bytes, same id — whoever encodes them.
      assert.equal(recordId(encodeUnsigned(back.record as UnsignedRecord)), r.id)
      assert.equal(createRecord(id, init, { maxDepth: 64 }).id, r.id)
    }), { numRuns: 300 })
  })

  it('property: canonical JSON equals the RFC 8785 reference implementation', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      assert.equal(canonicalJson(v), (canonicalize as unknown as (x: unknown) => string)(v))
    }), { numRuns: 500 })
  })

  it('decodes stored bytes without re-verifying', () => {
    const r = createRecord(id, { seq: 1, ts: 2, tlp: 'clear', body })
    assert.deepEqual(decodeRecord(r.bytes).record, r.record)
  })

  it('files records into sharing scopes by TLP and author', () => {
    assert.deepEqual(scopesOf({ tlp: 'clear', author: 'a' }), ['clear'])
    assert.deepEqual(scopesOf({ tlp: 'green', author: 'a' }), ['green'])
    assert.deepEqual(scopesOf({ tlp: 'amber', author: 'a' }), ['amber:a:*'])
    assert.deepEqual(scopesOf({ tlp: 'amber+strict', author: 'a', to: ['b', 'c'] }), ['amber:a:b', 'amber:a:c'])
    assert.deepEqual(scopesOf({ tlp: 'red', author: 'a' }), [])
  })
})
