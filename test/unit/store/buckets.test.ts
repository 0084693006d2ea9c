import assert from 'node:assert/strict'
import fc from 'fast-check'
import { hexTs } from '../../../src/store/buckets.js'
import { decodeStored, encodeStored } from '../../../src/store/record-value.js'
import type { RecordInfo } from '../../../src/store/index.js'

describe('store: key and value encodings on the write path', function () {
  it('hexTs writes every safe integer as Number#toString(16) padded to 13 digits (fast-check)', () => {
    for (const ts of [0, 1, 2 ** 24 - 1, 2 ** 24, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 1_733_000_000_000, 2 ** 52, Number.MAX_SAFE_INTEGER]) {
      assert.equal(hexTs(ts), ts.toString(16).padStart(13, '0'), String(ts))
    }
    fc.assert(fc.property(fc.maxSafeNat(), (ts) => hexTs(ts) === ts.toString(16).padStart(13, '0')), { numRuns: 5000 })
  })

  it('a stored value gives back its info (non-ASCII text included), envelope and audit key', () => {
    const info: RecordInfo = { arrival: 7, addedAt: 1, source: 'gossip', from: 'peer', stixId: 'indicator--x', type: 'indicator', modified: 'é∑ 𝄞', author: 'a', seq: 3, ts: 4, tlp: 'green' }
    const envelope = Uint8Array.from([1, 2, 3, 250, 251])
    const back = decodeStored(encodeStored(info, envelope, '0019b1c2d3e4f!0000000a'))
    assert.deepEqual(back.info, info)
    assert.deepEqual([...back.bytes], [...envelope])
    assert.equal(back.auditKey, '0019b1c2d3e4f!0000000a')
    const bare = decodeStored(encodeStored(info, envelope))
    assert.equal(bare.auditKey, undefined)
    assert.deepEqual(bare.info, info)
  })
})
