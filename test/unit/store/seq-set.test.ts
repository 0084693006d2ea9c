import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SeqIntervals } from '../../../src/store/seq-set.js'

/** The model: a plain set of seqs. */
function intervalsOf (seqs: Set<number>): Array<[number, number]> {
  const sorted = [...seqs].sort((a, b) => a - b)
  const out: Array<[number, number]> = []
  for (const s of sorted) {
    const last = out[out.length - 1]
    if (last != null && last[1] + 1 === s) last[1] = s
    else out.push([s, s])
  }
  return out
}

const seqArb = fc.integer({ min: 1, max: 400 })

describe('store: per-author seq intervals', () => {
  it('matches a set of seqs exactly below the cap, in any insertion order (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), seqArb), { maxLength: 300 }), (adds) => {
      const s = new SeqIntervals()
      const model = new Map<string, Set<number>>([['a', new Set()], ['b', new Set()]])
      for (const [author, seq] of adds) { s.add(author, seq); model.get(author)!.add(seq) }
      for (const [author, seqs] of model) {
        assert.deepEqual(s.intervals(author), intervalsOf(seqs))
        for (let q = 0; q <= 401; q++) assert.equal(s.has(author, q), seqs.has(q), `${author} ${q}`)
        assert.equal(s.max(author), seqs.size === 0 ? 0 : Math.max(...seqs))
        assert.equal(s.isExact(author), true)
      }
    }), { seed: 11, numRuns: 300 })
  })

  it('at the cap stays a superset with an exact maximum and never more intervals than the cap (fast-check)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(seqArb, { maxLength: 200 }), (cap, adds) => {
      const s = new SeqIntervals(cap)
      const seen = new Set<number>()
      for (const seq of adds) {
        s.add('x', seq)
        seen.add(seq)
        assert.ok(s.intervalCount('x') <= cap)
      }
      for (const q of seen) assert.equal(s.has('x', q), true, `seen seq ${q} must count as taken`)
      assert.equal(s.max('x'), seen.size === 0 ? 0 : Math.max(...seen))
      const exact = intervalsOf(seen)
      if (exact.length <= cap) assert.deepEqual(s.intervals('x'), exact)
      else assert.equal(s.isExact('x'), false)
      // The intervals stay sorted, disjoint and non-adjacent.
      const iv = s.intervals('x')
      for (let i = 1; i < iv.length; i++) assert.ok(iv[i - 1][1] + 1 < iv[i][0])
    }), { seed: 12, numRuns: 300 })
  })

  it('round-trips through its snapshot form, approximation flag included', () => {
    const s = new SeqIntervals(2)
    for (const q of [1, 5, 9, 2, 13]) s.add('x', q)
    s.add('y', 7)
    const back = SeqIntervals.fromJSON(JSON.parse(JSON.stringify(s.toJSON())), 2)
    assert.deepEqual(back.intervals('x'), s.intervals('x'))
    assert.equal(back.isExact('x'), false)
    assert.equal(back.isExact('y'), true)
    // The older plain form still loads.
    assert.deepEqual(SeqIntervals.fromJSON({ z: [1, 3, 7, 7] }).intervals('z'), [[1, 3], [7, 7]])
  })

  it('40,000 scattered seqs in random order cost O(log n) each (was O(n): minutes)', () => {
    const s = new SeqIntervals()
    const seqs = Array.from({ length: 40_000 }, (_, i) => 2 * i + 1)
    for (let i = seqs.length - 1; i > 0; i--) {
      const j = (i * 7919 + 13) % (i + 1)
      const t = seqs[i]; seqs[i] = seqs[j]; seqs[j] = t
    }
    const t0 = performance.now()
    for (const q of seqs) s.add('flooder', q)
    const ms = performance.now() - t0
    // O(n) inserts need ~n²/2 = 8e8 element moves here; O(log n) ones finish in tens of ms.
    assert.ok(ms < 1500, `${ms.toFixed(0)} ms for 40,000 scattered inserts`)
    assert.ok(s.intervalCount('flooder') <= 16_384)
    assert.equal(s.max('flooder'), 79_999)
    assert.equal(s.has('flooder', 79_999), true)
  })
})
