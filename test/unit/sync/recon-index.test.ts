import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  compareBounds, compareItems, MAX_BOUND, MIN_BOUND, OverlayView, ReconIndex,
  type Bound, type ReconItem, type ReconView
} from '../../../src/sync/recon/index.js'
import { isDragnetError } from '../../../src/errors.js'
import {
  boundArb, hex, inRange, itemArb, makeItems, modelFingerprint, prng, sortedUnique
} from './recon-helpers.js'

/** every query of the view agrees with the sorted model on [lo, hi) */
function checkRange (view: ReconView, model: ReconItem[], lo: Bound, hi: Bound): void {
  const want = model.filter(x => inRange(x, lo, hi))
  assert.equal(view.count(lo, hi), want.length, 'count')
  assert.deepEqual(view.fingerprint(lo, hi), modelFingerprint(model, lo, hi), 'fingerprint')
  assert.equal(view.summary(lo, hi).count, want.length, 'summary count')
  assert.deepEqual(view.items(lo, hi).map(x => hex(x.id) + x.ts), want.map(x => hex(x.id) + x.ts), 'items')
  const lim = Math.floor(want.length / 2)
  assert.equal(view.items(lo, hi, lim).length, lim, 'items limit')
  for (const parts of [2, 3, 16]) {
    const cuts = view.splitPoints(lo, hi, parts)
    assert.ok(cuts.length <= parts - 1)
    if (want.length >= parts && compareBounds(lo, hi) < 0) assert.equal(cuts.length, parts - 1, 'splitPoints count')
    let prev = lo
    for (const c of cuts) {
      assert.ok(compareBounds(c, prev) > 0, 'split bounds increase')
      prev = c
    }
    if (cuts.length > 0) assert.ok(compareBounds(cuts[cuts.length - 1], hi) < 0, 'split bounds inside the range')
    // parts are of roughly equal size: within one of each other when exact
    const edges = [lo, ...cuts, hi]
    const sizes = edges.slice(1).map((h, i) => want.filter(x => inRange(x, edges[i], h)).length)
    if (cuts.length > 0 && view instanceof ReconIndex) assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `split sizes ${sizes.join(',')}`)
  }
}

function checkWhole (index: ReconIndex, model: ReconItem[]): void {
  assert.equal(index.size, model.length)
  assert.deepEqual(index.toArray().map(x => hex(x.id) + x.ts), model.map(x => hex(x.id) + x.ts))
  checkRange(index, model, MIN_BOUND, MAX_BOUND)
}

describe('sync/recon ReconIndex', () => {
  it('matches a sorted-array model under random inserts and deletes (fast-check)', () => {
    const op = fc.oneof(
      { weight: 3, arbitrary: itemArb.map(x => ({ kind: 'insert' as const, x })) },
      { weight: 1, arbitrary: fc.nat().map(i => ({ kind: 'deleteAt' as const, i })) },
      { weight: 1, arbitrary: itemArb.map(x => ({ kind: 'delete' as const, x })) }
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 600, size: 'max' }), fc.array(fc.tuple(boundArb(itemArb), boundArb(itemArb)), { maxLength: 6 }), (ops, ranges) => {
      const index = new ReconIndex()
      let model: ReconItem[] = []
      for (const o of ops) {
        if (o.kind === 'insert') {
          const had = model.some(y => compareItems(y, o.x) === 0)
          assert.equal(index.insert(o.x), !had)
          if (!had) model = sortedUnique([...model, o.x])
        } else {
          const x = o.kind === 'delete' ? o.x : model[model.length === 0 ? 0 : o.i % model.length]
          if (x == null) continue
          const had = model.some(y => compareItems(y, x) === 0)
          assert.equal(index.delete(x), had)
          model = model.filter(y => compareItems(y, x) !== 0)
        }
      }
      checkWhole(index, model)
      for (const x of model.slice(0, 20)) assert.ok(index.has(x))
      for (const [a, b] of ranges) {
        const [lo, hi] = compareBounds(a, b) <= 0 ? [a, b] : [b, a]
        checkRange(index, model, lo, hi)
      }
    }), { numRuns: 150 })
  })

  it('stays consistent through deep trees, splits and merges (24,000 items)', () => {
    const rand = prng(7)
    const all = sortedUnique(makeItems(rand, 12_000, 'dup').concat(makeItems(rand, 12_000, 'wide')))
    const index = new ReconIndex()
    const shuffled = [...all].sort(() => rand() - 0.5)
    for (const x of shuffled) index.insert(x)
    checkWhole(index, all)
    // delete 90% in random order, then re-insert a third of them: exercises merges and refills
    const gone = new Set<string>()
    for (const x of shuffled.slice(0, Math.floor(shuffled.length * 0.9))) {
      assert.ok(index.delete(x))
      gone.add(hex(x.id) + x.ts)
    }
    let model = all.filter(x => !gone.has(hex(x.id) + x.ts))
    checkWhole(index, model)
    const back = shuffled.slice(0, Math.floor(shuffled.length * 0.3))
    for (const x of back) assert.ok(index.insert(x))
    model = sortedUnique(model.concat(back))
    checkWhole(index, model)
    for (let i = 0; i < 40; i++) {
      const a = model[Math.floor(rand() * model.length)]
      const b = model[Math.floor(rand() * model.length)]
      const [lo, hi] = compareItems(a, b) <= 0 ? [a, b] : [b, a]
      checkRange(index, model, { ts: lo.ts, id: lo.id.slice(0, Math.floor(rand() * 33)) }, hi)
    }
    for (const x of [...model]) assert.ok(index.delete(x))
    checkWhole(index, [])
  })

  it('keeps appends at the right edge packed', () => {
    const index = new ReconIndex()
    const rand = prng(3)
    const items: ReconItem[] = []
    for (let i = 0; i < 50_000; i++) items.push({ ts: 1000 + i, id: makeItems(rand, 1, 'wide')[0].id })
    const before = process.memoryUsage().arrayBuffers
    for (const x of items) index.insert(x)
    const perItem = (process.memoryUsage().arrayBuffers - before) / items.length
    assert.ok(perItem < 48, `append-only inserts cost ${perItem.toFixed(1)} bytes of buffers per item`)
    checkRange(index, items, MIN_BOUND, MAX_BOUND)
  })

  it('bulkLoad equals incremental inserts, and keeps working after it (fast-check)', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 0, max: 3000 }), fc.constantFrom('wide', 'dup', 'edge'), fc.array(itemArb, { maxLength: 200, size: 'max' }), (seed, n, mode, more) => {
      const rand = prng(seed)
      const items = sortedUnique(makeItems(rand, n, mode as 'wide'))
      const bulk = ReconIndex.fromSorted(items)
      const inc = new ReconIndex()
      for (const x of items) inc.insert(x)
      checkWhole(bulk, items)
      assert.deepEqual(bulk.fingerprint(MIN_BOUND, MAX_BOUND), inc.fingerprint(MIN_BOUND, MAX_BOUND))
      const cols = { ts: Float64Array.from(items.map(x => x.ts)), ids: new Uint8Array(items.length * 32) }
      items.forEach((x, i) => cols.ids.set(x.id, i * 32))
      checkWhole(ReconIndex.fromSorted(cols), items)
      for (const x of more) {
        bulk.insert(x)
        inc.insert(x)
      }
      const model = sortedUnique(items.concat(more))
      checkWhole(bulk, model)
      for (let i = 0; i < 5 && model.length > 0; i++) {
        const a = model[Math.floor(rand() * model.length)]
        checkRange(bulk, model, a, MAX_BOUND)
        checkRange(bulk, model, MIN_BOUND, { ts: a.ts, id: a.id.slice(0, 3) })
      }
    }), { numRuns: 40 })
  })

  it('rejects unsorted, duplicate and invalid input', () => {
    const a = { ts: 5, id: new Uint8Array(32).fill(1) }
    const b = { ts: 5, id: new Uint8Array(32).fill(2) }
    const bad = (fn: () => unknown): void => {
      assert.throws(fn, (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'))
    }
    bad(() => ReconIndex.fromSorted([b, a]))
    bad(() => ReconIndex.fromSorted([a, a]))
    bad(() => ReconIndex.fromSorted([{ ts: -1, id: a.id }]))
    bad(() => ReconIndex.fromSorted([{ ts: 1.5, id: a.id }]))
    bad(() => ReconIndex.fromSorted([{ ts: 2 ** 53, id: a.id }]))
    bad(() => ReconIndex.fromSorted([{ ts: 1, id: new Uint8Array(31) }]))
    bad(() => ReconIndex.fromSorted({ ts: [1, 2], ids: new Uint8Array(32) }))
    bad(() => new ReconIndex().insert({ ts: Number.NaN, id: a.id }))
    bad(() => new ReconIndex().count({ ts: 0, id: new Uint8Array(33) }, MAX_BOUND))
  })
})

describe('sync/recon OverlayView', () => {
  it('agrees with the materialised (base ∪ add) \\ remove (fast-check)', () => {
    fc.assert(fc.property(
      fc.integer(), fc.integer({ min: 0, max: 2500 }),
      fc.array(itemArb, { maxLength: 40, size: 'max' }), fc.integer({ min: 0, max: 40 }), fc.array(itemArb, { maxLength: 10, size: 'max' }),
      fc.array(fc.tuple(boundArb(itemArb), boundArb(itemArb)), { maxLength: 5 }),
      (seed, n, adds, removeFromBase, removeOther, ranges) => {
        const rand = prng(seed)
        const base = sortedUnique(makeItems(rand, n, 'dup'))
        const index = ReconIndex.fromSorted(base)
        const removes = [...base].sort(() => rand() - 0.5).slice(0, removeFromBase).concat(removeOther)
        // an add that is also removed stays out; an add already in the base counts once
        const addAll = adds.concat(base.slice(0, 3))
        const view = new OverlayView(index, addAll, removes)
        const rm = new Set(removes.map(x => hex(x.id) + x.ts))
        const model = sortedUnique(base.concat(addAll)).filter(x => !rm.has(hex(x.id) + x.ts))
        assert.equal(view.size, model.length)
        checkRange(view, model, MIN_BOUND, MAX_BOUND)
        for (const [a, b] of ranges) {
          const [lo, hi] = compareBounds(a, b) <= 0 ? [a, b] : [b, a]
          checkRange(view, model, lo, hi)
        }
        for (const x of addAll.concat(removes).slice(0, 30)) assert.equal(view.has(x), model.some(y => compareItems(x, y) === 0))
      }), { numRuns: 60 })
  })

  it('follows the base as it changes', () => {
    const x = { ts: 10, id: new Uint8Array(32).fill(7) }
    const y = { ts: 11, id: new Uint8Array(32).fill(8) }
    const index = new ReconIndex()
    const view = new OverlayView(index, [x], [y])
    assert.equal(view.size, 1)
    index.insert(x)
    assert.equal(view.size, 1, 'an add that reached the base counts once')
    index.insert(y)
    assert.equal(view.size, 1, 'a removed item that reached the base stays hidden')
    assert.deepEqual(view.fingerprint(MIN_BOUND, MAX_BOUND), modelFingerprint([x], MIN_BOUND, MAX_BOUND))
  })
})
