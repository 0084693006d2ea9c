import assert from 'node:assert/strict'
import { hopReport } from '../../../scripts/bench/hops.js'
import { HopTrace, hopTrace, startHopTrace, stopHopTrace } from '../../../src/util/hops.js'

/*
 * The propagation bench's critical path (scripts/bench/hops.ts): a record published on A, pushed
 * to B, relayed by B to C, which stores it last; and one that reached C by IHAVE → GRAFT from B.
 * The segments must add up to the record's latency, hop by hop.
 */
describe('propagation bench: critical paths from a hop trace', () => {
  afterEach(() => { stopHopTrace() })

  it('splits an eager path into publisher, relay and last-node segments that add up', () => {
    const t = new HopTrace()
    t.mark('A', 'r', 'signed', undefined, 1)
    t.mark('A', 'r', 'stored', undefined, 11)
    t.mark('A', 'r', 'sent', 'B', 12)
    t.mark('B', 'r', 'arrive', 'A', 13)
    t.mark('B', 'r', 'read', 'A', 15)
    t.mark('B', 'r', 'admitted', undefined, 16)
    t.mark('B', 'r', 'checked', undefined, 17)
    t.mark('B', 'r', 'verified', undefined, 19)
    t.mark('B', 'r', 'decided', undefined, 20)
    t.mark('B', 'r', 'forwardable', undefined, 21)
    t.mark('B', 'r', 'sent', 'C', 22)
    t.mark('B', 'r', 'stored', undefined, 40)
    t.mark('C', 'r', 'arrive', 'B', 24)
    t.mark('C', 'r', 'read', 'B', 24)
    t.mark('C', 'r', 'admitted', undefined, 25)
    t.mark('C', 'r', 'checked', undefined, 25)
    t.mark('C', 'r', 'verified', undefined, 26)
    t.mark('C', 'r', 'decided', undefined, 26)
    t.mark('C', 'r', 'forwardable', undefined, 27)
    t.mark('C', 'r', 'stored', undefined, 35)
    const r = hopReport(t.events, [{ id: 'r', t0: 0, last: 'C', author: 'A', latency: 35 }])
    assert.equal(r.paths, 1)
    assert.equal(r.hops.p50, 2)
    const per = Object.fromEntries(Object.entries(r.per_record_ms).map(([k, v]) => [k, v.all]))
    assert.deepEqual(per, {
      sign: 1, publish_write: 10, push_out: 2, wire: 3, read_wait: 2, admission: 2, held_check: 1, verify: 3, policy: 1, fwd_checks: 2, last_write: 8
    })
    assert.equal(Object.values(per).reduce((a, b) => a + b, 0), 35, 'the segments add up to the latency')
  })

  it('follows a repaired edge through its announcement and GRAFT', () => {
    const t = new HopTrace()
    t.mark('A', 'r', 'signed', undefined, 0)
    t.mark('A', 'r', 'stored', undefined, 5)
    t.mark('A', 'r', 'announce_sent', 'C', 25)
    t.mark('C', 'r', 'ihave', 'A', 26)
    t.mark('C', 'r', 'graft', 'A', 27)
    t.mark('A', 'r', 'graft_in', 'C', 28)
    t.mark('A', 'r', 'sent', 'C', 30)
    t.mark('C', 'r', 'arrive', 'A', 31)
    t.mark('C', 'r', 'read', 'A', 31)
    t.mark('C', 'r', 'stored', undefined, 40)
    const r = hopReport(t.events, [{ id: 'r', t0: 0, last: 'C', author: 'A', latency: 40 }])
    const per = Object.fromEntries(Object.entries(r.per_record_ms).map(([k, v]) => [k, v.all]))
    assert.equal(per.announce_wait, 20)
    assert.equal(per.ihave_wire, 1)
    assert.equal(per.graft_wait, 1)
    assert.equal(per.graft_wire, 1)
    assert.equal(per.graft_read, 2)
    assert.equal(per.wire, 1)
    assert.equal(per.push_out, undefined, 'a repaired edge has no push')
  })

  it('traces nothing unless a bench started it', () => {
    assert.equal(hopTrace(), null)
    const t = startHopTrace()
    assert.equal(hopTrace(), t)
    stopHopTrace()
    assert.equal(hopTrace(), null)
  })
})
