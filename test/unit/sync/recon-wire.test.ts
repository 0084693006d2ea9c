import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  createInitiator, createNaiveInitiator, createNaiveResponder, createResponder, MAX_BOUND, ReconIndex,
  type Bound, type ReconSession
} from '../../../src/sync/recon/index.js'
import {
  decodeMessage, MODE_FINGERPRINT, MODE_ID_DIFF, MODE_ID_LIST, MODE_SKIP, WIRE_VERSION, writeBound, Writer
} from '../../../src/sync/recon/codec.js'
import { isDragnetError } from '../../../src/errors.js'
import { makeItems, prng, uniqueById } from './recon-helpers.js'

const index = ReconIndex.fromSorted(uniqueById(makeItems(prng(1), 3000, 'wide')))
const small = ReconIndex.fromSorted(uniqueById(makeItems(prng(2), 5, 'wide')))

function started (view: ReconIndex): ReconSession {
  const s = createInitiator(view)
  s.initiate()
  return s
}

function rejects (session: ReconSession, msg: Uint8Array, pattern?: RegExp): void {
  assert.throws(() => session.consume(msg), (e: unknown) => {
    assert.ok(isDragnetError(e, 'DRAGNET_BAD_REQUEST'), `expected DRAGNET_BAD_REQUEST, got ${String(e)}`)
    if (pattern != null) assert.match((e as Error).message, pattern)
    return true
  })
  // a failed session stays failed
  assert.throws(() => session.consume(new Uint8Array([WIRE_VERSION])), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'))
}

/** builds a message from raw ranges: [hi, mode, payload writer] */
function message (ranges: Array<[Bound, number, (w: Writer) => void]>): Uint8Array {
  const w = new Writer()
  w.u8(WIRE_VERSION)
  let prevTs = 0
  for (const [hi, mode, payload] of ranges) {
    writeBound(w, prevTs, hi)
    w.u8(mode)
    payload(w)
    if (hi.ts !== Number.POSITIVE_INFINITY) prevTs = hi.ts
  }
  return w.finish()
}

const fp = (w: Writer): void => {
  w.varint(5)
  w.bytes(new Uint8Array(16).fill(9))
}
const none = (): void => {}
const emptyDiff = (w: Writer): void => {
  w.varint(0)
  w.varint(0)
}
const b = (ts: number, ...prefix: number[]): Bound => ({ ts, id: Uint8Array.from(prefix) })

describe('sync/recon malformed messages', () => {
  it('rejects every truncation of a valid message that cuts a range', () => {
    const first = createInitiator(index).initiate()
    const reply = createResponder(small).consume(first).message!
    for (const msg of [first, reply]) {
      let thrown = 0
      for (let n = 0; n < msg.length; n++) {
        const cut = msg.subarray(0, n)
        const session = msg === first ? createResponder(index) : started(small)
        try {
          session.consume(cut)
        } catch (e) {
          assert.ok(isDragnetError(e, 'DRAGNET_BAD_REQUEST'), `prefix ${n}: ${String(e)}`)
          thrown++
        }
      }
      // only a prefix that ends exactly between two ranges is itself well formed
      let ranges = 0
      decodeMessage(msg, () => {
        ranges++
        return true
      })
      assert.ok(thrown >= msg.length - ranges - 1, `${thrown} of ${msg.length} prefixes rejected`)
    }
  })

  it('answers random garbage with DragnetError or a well-formed step, never a hang (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, prefixVersion) => {
      const msg = prefixVersion ? Uint8Array.from([WIRE_VERSION, ...bytes]) : bytes
      for (const session of [createResponder(index, { maxRounds: 4 }), createNaiveResponder(index)]) {
        try {
          const step = session.consume(msg)
          if (step.message != null) assert.ok(step.message.length <= 1 << 20)
        } catch (e) {
          assert.ok(isDragnetError(e, 'DRAGNET_BAD_REQUEST'), String(e))
        }
      }
    }), { numRuns: 400 })
  })

  it('rejects malformed structure', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['unknown version', Uint8Array.from([2])],
      ['empty buffer', new Uint8Array(0)],
      ['bounds do not increase', message([[b(10), MODE_FINGERPRINT, fp], [b(10), MODE_FINGERPRINT, fp]])],
      ['bound below the previous', Uint8Array.from([WIRE_VERSION, 11, 0, MODE_SKIP, 0, 0, MODE_SKIP])],
      ['unknown range mode', message([[b(10), 7, none]])],
      ['two skip ranges in a row', message([[b(10), MODE_SKIP, none], [b(20), MODE_SKIP, none], [MAX_BOUND, MODE_FINGERPRINT, fp]])],
      ['ends with a skip range', message([[b(10), MODE_SKIP, none]])],
      ['range after the top bound', message([[MAX_BOUND, MODE_FINGERPRINT, fp], [MAX_BOUND, MODE_FINGERPRINT, fp]])],
      ['bound prefix of 33 bytes', Uint8Array.from([WIRE_VERSION, 5, 33, ...new Uint8Array(33).fill(1), MODE_FINGERPRINT])],
      ['bound prefix ends in a zero byte', Uint8Array.from([WIRE_VERSION, 11, 2, 1, 0, MODE_FINGERPRINT, 1, ...new Uint8Array(16)])],
      ['top bound with a prefix', Uint8Array.from([WIRE_VERSION, 0, 1, 5, MODE_FINGERPRINT])],
      ['overlong varint', Uint8Array.from([WIRE_VERSION, 0x85, 0x00, 0, MODE_FINGERPRINT])],
      ['varint too long', Uint8Array.from([WIRE_VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
      ['varint out of range', Uint8Array.from([WIRE_VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])],
      ['bound ts out of range', message([[b(2 ** 52), MODE_SKIP, none], [b(2 ** 53 + 2 ** 52), MODE_FINGERPRINT, fp]])],
      ['trailing garbage after a range', Uint8Array.from([...message([[MAX_BOUND, MODE_FINGERPRINT, fp]]), 1])],
      ['id list claims 2^40 items', message([[MAX_BOUND, MODE_ID_LIST, w => w.varint(2 ** 40)]])],
      ['id list item outside its range', message([[b(10), MODE_ID_LIST, w => {
        w.varint(1)
        w.varint(10)
        w.bytes(new Uint8Array(32))
      }]])],
      ['id list not ascending', message([[b(10), MODE_ID_LIST, w => {
        w.varint(2)
        w.varint(3)
        w.bytes(new Uint8Array(32).fill(2))
        w.varint(0)
        w.bytes(new Uint8Array(32).fill(1))
      }]])],
      ['id list duplicate', message([[b(10), MODE_ID_LIST, w => {
        w.varint(2)
        w.varint(3)
        w.bytes(new Uint8Array(32).fill(2))
        w.varint(0)
        w.bytes(new Uint8Array(32).fill(2))
      }]])],
      ['id diff claims 2^45 ids', message([[b(10), MODE_ID_DIFF, w => {
        w.varint(0)
        w.varint(2 ** 45)
      }]])],
      ['id diff claims 2^30 indexes', message([[b(10), MODE_ID_DIFF, w => w.varint(2 ** 30)]])],
      ['unsolicited id diff', message([[b(10), MODE_ID_DIFF, emptyDiff]])],
      ['fingerprint cut short', message([[MAX_BOUND, MODE_FINGERPRINT, w => {
        w.varint(1)
        w.bytes(new Uint8Array(9))
      }]])]
    ]
    for (const [what, msg] of cases) {
      for (const session of [createResponder(index), createResponder(new ReconIndex())]) {
        assert.throws(() => session.consume(msg), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'), what)
      }
    }
  })

  it('rejects oversize messages, before decoding them', () => {
    const big = new Uint8Array(600).fill(0)
    big[0] = WIRE_VERSION
    rejects(createResponder(index, { maxMessageBytes: 512 }), big, /exceeds the 512-byte limit/)
    rejects(createNaiveResponder(index, { maxMessageBytes: 512 }), big, /exceeds the 512-byte limit/)
  })

  it('holds the other side to its open id lists', () => {
    // the initiator holds 5 items, so its first message is one id list over everything
    const start = (): ReconSession => started(small)
    rejects(start(), message([]), /left unanswered/)
    rejects(start(), Uint8Array.from([WIRE_VERSION]), /left unanswered/)
    rejects(start(), message([[b(10), MODE_SKIP, none], [MAX_BOUND, MODE_ID_DIFF, emptyDiff]]), /answers no open id list|left unanswered/)
    rejects(start(), message([[b(10), MODE_ID_DIFF, emptyDiff]]), /left unanswered/)
    rejects(start(), message([[MAX_BOUND, MODE_ID_DIFF, w => {
      w.varint(1)
      w.varint(5)
      w.varint(0)
    }]]), /index outside/)
    rejects(start(), message([
      [b(10), MODE_ID_DIFF, emptyDiff],
      [MAX_BOUND, MODE_ID_DIFF, emptyDiff]
    ]), /answers no open id list/)
    // a partial answer followed by a fingerprint over the rest is fine
    const ok = start().consume(message([
      [b(10), MODE_ID_DIFF, emptyDiff],
      [MAX_BOUND, MODE_FINGERPRINT, fp]
    ]))
    assert.ok(ok.message != null)
  })

  it('gives up after maxRounds against a peer that never settles', () => {
    const session = createInitiator(index, { maxRounds: 30 })
    session.initiate()
    const evil = message([[MAX_BOUND, MODE_FINGERPRINT, w => {
      w.varint(3000)
      w.bytes(new Uint8Array(16).fill(1))
    }]])
    assert.throws(() => { for (let i = 0; i < 100; i++) session.consume(evil) }, /did not finish within 30 rounds/)
    assert.equal(session.stats.rounds, 31)
  })

  it('rejects bad options and misuse', () => {
    for (const opts of [{ maxMessageBytes: 100 }, { maxMessageBytes: 1500.5 }, { idListThreshold: -1 }, { branching: 1 }, { maxRounds: 0 }]) {
      assert.throws(() => createResponder(index, opts), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'))
    }
    assert.throws(() => createInitiator(index).consume(Uint8Array.from([WIRE_VERSION])), (e: unknown) => isDragnetError(e, 'DRAGNET_INTERNAL'))
    const s = createInitiator(index)
    s.initiate()
    assert.throws(() => s.initiate(), (e: unknown) => isDragnetError(e, 'DRAGNET_INTERNAL'))
    assert.throws(() => createResponder(index).consume('x' as unknown as Uint8Array), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_REQUEST'))
  })

  it('naive baseline checks its chunks too', () => {
    const init = createNaiveInitiator(index, { maxMessageBytes: 2048 })
    const chunk = init.initiate()
    rejects(createNaiveResponder(index), chunk.subarray(0, chunk.length - 1))
    rejects(createNaiveResponder(index), Uint8Array.from([...chunk, 0]), /trailing bytes/)
    const resp = createNaiveResponder(index, { maxMessageBytes: 2048 })
    const answer = resp.consume(chunk).message!
    rejects(resp, chunk, /does not start where/)
    rejects(init, Uint8Array.from([0x81, 0, 0, 0, 0]), /does not cover a prefix/)
    assert.ok(answer.length > 0)
  })
})
