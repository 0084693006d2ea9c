import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  createInitiator, createResponder, OverlayView, ReconIndex, reconcileLocally,
  type ReconItem, type ReconOptions, type ReconView
} from '../../../src/sync/recon/index.js'
import { hexes, idsOf, makeItems, prng, uniqueById, type TsMode } from './recon-helpers.js'

interface Case {
  shared: ReconItem[]
  onlyA: ReconItem[]
  onlyB: ReconItem[]
}

function makeCase (seed: number, shared: number, a: number, b: number, mode: TsMode): Case {
  const rand = prng(seed)
  const all = uniqueById(makeItems(rand, shared + a + b, mode))
  // hand out the unique items at random, so differences interleave with shared items
  const c: Case = { shared: [], onlyA: [], onlyB: [] }
  const order = all.map((x, i) => ({ x, k: rand(), i }))
  order.sort((p, q) => p.k - q.k)
  order.forEach(({ x }, j) => (j < a ? c.onlyA : j < a + b ? c.onlyB : c.shared).push(x))
  for (const k of ['shared', 'onlyA', 'onlyB'] as const) c[k] = uniqueById(c[k])
  return c
}

function build (items: ReconItem[]): ReconIndex {
  return ReconIndex.fromSorted(uniqueById(items))
}

function assertExact (a: ReconView, b: ReconView, onlyA: ReconItem[], onlyB: ReconItem[], opts: ReconOptions = {}, protocol: 'range' | 'naive' = 'range'): ReturnType<typeof reconcileLocally> {
  const r = reconcileLocally(a, b, opts, protocol)
  assert.deepEqual(hexes(r.initiator.have), idsOf(onlyA), 'initiator have')
  assert.deepEqual(hexes(r.initiator.need), idsOf(onlyB), 'initiator need')
  assert.deepEqual(hexes(r.responder.have), idsOf(onlyB), 'responder have')
  assert.deepEqual(hexes(r.responder.need), idsOf(onlyA), 'responder need')
  return r
}

const caseArb = fc.record({
  seed: fc.integer(),
  shared: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3000 })),
  a: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 300 })),
  b: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 300 })),
  mode: fc.constantFrom<TsMode>('wide', 'dup', 'edge', 'year')
})

describe('sync/recon reconciliation', () => {
  it('finds exactly the set differences on both sides (fast-check)', () => {
    fc.assert(fc.property(caseArb, ({ seed, shared, a, b, mode }) => {
      const c = makeCase(seed, shared, a, b, mode)
      const r = assertExact(build(c.shared.concat(c.onlyA)), build(c.shared.concat(c.onlyB)), c.onlyA, c.onlyB)
      if (c.onlyA.length + c.onlyB.length === 0) assert.equal(r.roundTrips, 1, 'identical sets take one round trip')
    }), { numRuns: 120 })
  })

  it('stays exact and terminates under a tiny frame limit and odd settings (fast-check)', () => {
    const optsArb = fc.record({
      maxMessageBytes: fc.constantFrom(512, 700, 2048),
      idListThreshold: fc.constantFrom(undefined, 0, 1, 3, 40),
      branching: fc.constantFrom(undefined, 2, 3, 16)
    })
    fc.assert(fc.property(caseArb, optsArb, ({ seed, shared, a, b, mode }, o) => {
      const opts: ReconOptions = { maxMessageBytes: o.maxMessageBytes, maxRounds: 100_000 }
      if (o.idListThreshold != null) opts.idListThreshold = o.idListThreshold
      if (o.branching != null) opts.branching = o.branching
      const c = makeCase(seed, Math.min(shared, 1500), a, b, mode)
      const r = assertExact(build(c.shared.concat(c.onlyA)), build(c.shared.concat(c.onlyB)), c.onlyA, c.onlyB, opts)
      assert.ok(r.initiator.bytesSent / r.initiator.messagesSent <= o.maxMessageBytes)
    }), { numRuns: 60 })
  })

  it('streams a huge one-sided difference through small frames', () => {
    const c = makeCase(11, 0, 0, 6000, 'wide')
    const opts = { maxMessageBytes: 4096, maxRounds: 10_000 }
    for (const [a, b, onlyA, onlyB] of [[[], c.onlyB, [], c.onlyB], [c.onlyB, [], c.onlyB, []]] as const) {
      const r = assertExact(build([...a]), build([...b]), [...onlyA], [...onlyB], opts)
      // every frame is used: the 6000 ids need about 192 KB, so about 48 answers of 4 KB
      assert.ok(r.roundTrips < 80, `${r.roundTrips} round trips`)
    }
  })

  it('meets the round-trip budget on 20,000 items with 200 scattered differences', () => {
    const c = makeCase(5, 20_000, 100, 100, 'year')
    const r = assertExact(build(c.shared.concat(c.onlyA)), build(c.shared.concat(c.onlyB)), c.onlyA, c.onlyB)
    assert.ok(r.roundTrips <= 4, `${r.roundTrips} round trips`)
    const same = reconcileLocally(build(c.shared), build(c.shared))
    assert.equal(same.roundTrips, 1)
    assert.ok(same.totalBytes < 1024, `${same.totalBytes} bytes in sync`)
  })

  it('reconciles overlay views: known-for-peer and withheld ids', () => {
    const c = makeCase(9, 2000, 30, 30, 'wide')
    const rand = prng(99)
    const a = build(c.shared.concat(c.onlyA))
    const b = build(c.shared.concat(c.onlyB))
    // A counts 10 of B's extras as known (rejected earlier), and withholds 10 of its own and 5 shared
    const known = c.onlyB.slice(0, 10)
    const withheld = c.onlyA.slice(0, 10).concat(c.shared.filter(() => rand() < 0.003).slice(0, 5))
    const view = new OverlayView(a, known, withheld)
    const wh = new Set(idsOf(withheld))
    const effA = uniqueById(c.shared.concat(c.onlyA, known)).filter(x => !wh.has(idsOf([x])[0]))
    const effB = uniqueById(c.shared.concat(c.onlyB))
    const bIds = new Set(idsOf(effB))
    const aIds = new Set(idsOf(effA))
    assertExact(view, b, effA.filter(x => !bIds.has(idsOf([x])[0])), effB.filter(x => !aIds.has(idsOf([x])[0])))
  })

  it('naive baseline finds the same differences, in frame-sized chunks', () => {
    const c = makeCase(21, 3000, 40, 25, 'dup')
    const a = build(c.shared.concat(c.onlyA))
    const b = build(c.shared.concat(c.onlyB))
    const r = assertExact(a, b, c.onlyA, c.onlyB, { maxMessageBytes: 8192 }, 'naive')
    assert.ok(r.roundTrips >= 3000 * 33 / 8192)
    assertExact(build(c.onlyA), build([]), c.onlyA, [], { maxMessageBytes: 512 }, 'naive')
    assertExact(build([]), build(c.onlyB), [], c.onlyB, { maxMessageBytes: 512 }, 'naive')
  })

  it('reports done on both sides and refuses messages after the end', () => {
    const c = makeCase(2, 500, 3, 4, 'wide')
    const init = createInitiator(build(c.shared.concat(c.onlyA)))
    const resp = createResponder(build(c.shared.concat(c.onlyB)))
    let msg: Uint8Array | undefined = init.initiate()
    let turn: 'resp' | 'init' = 'resp'
    let last: Uint8Array = msg
    while (msg != null) {
      last = msg
      const step = (turn === 'resp' ? resp : init).consume(msg)
      msg = step.message
      turn = turn === 'resp' ? 'init' : 'resp'
    }
    assert.ok(init.done && resp.done)
    assert.throws(() => resp.consume(last), /after the session ended/)
    assert.equal(init.stats.bytesSent, resp.stats.bytesReceived)
  })
})
