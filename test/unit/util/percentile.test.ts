import assert from 'node:assert/strict'
import { percentile } from '../../../src/util/percentile.js'

describe('percentile (nearest rank)', () => {
  it('picks the smallest sample with p % at or below it, in any input order, without sorting the input', () => {
    const xs = [50, 10, 40, 20, 30, 100, 90, 60, 80, 70]
    const before = [...xs]
    assert.equal(percentile(xs, 50), 50)
    assert.equal(percentile(xs, 95), 100)
    assert.equal(percentile(xs, 90), 90)
    assert.equal(percentile(xs, 0), 10)
    assert.equal(percentile(xs, 100), 100)
    assert.deepEqual(xs, before)
    assert.equal(percentile([7], 99), 7)
  })

  it('is NaN without samples, so any bound checked against it fails', () => {
    assert.ok(Number.isNaN(percentile([], 50)))
    assert.equal(percentile([], 95) <= 1000, false)
  })

  it('agrees with counting: at least p % of the samples are at or below it, fewer below it', () => {
    const xs = Array.from({ length: 257 }, (_, i) => (i * 7919) % 1000)
    for (const p of [1, 25, 50, 75, 95, 99, 99.9]) {
      const v = percentile(xs, p)
      assert.ok(xs.filter(x => x <= v).length >= (p / 100) * xs.length, `p${p}`)
      assert.ok(xs.filter(x => x < v).length < (p / 100) * xs.length, `p${p}`)
    }
  })
})
