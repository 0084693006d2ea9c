import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DragnetError } from '../../../src/errors.js'
import { decodeGossipFrame, encodeIdFrames, encodePrune, encodeRecords, IHAVE, MAX_IDS_PER_FRAME } from '../../../src/net/gossip-wire.js'
import { failureKind, packRecordsFrames, peerTimeout, PeerGuard, protocolViolation } from '../../../src/replication/index.js'
import { decodeFrame } from '../../../src/sync/protocol.js'

describe('replication: the shared peer edge (pure parts)', () => {
  it('two kinds of failure: violations are penalised, timeouts and closed streams are not', () => {
    assert.equal(failureKind(protocolViolation('x')), 'violation')
    assert.equal(failureKind(new DragnetError('DRAGNET_BAD_REQUEST', 'malformed reconciliation message')), 'violation')
    assert.equal(failureKind(new DragnetError('DRAGNET_TOO_LARGE', 'frame too large')), 'violation')
    assert.equal(failureKind(peerTimeout('slow')), 'timeout')
    assert.equal(failureKind(new DOMException('deadline', 'TimeoutError')), 'timeout')
    assert.equal(failureKind(new DragnetError('DRAGNET_NODE_UNREACHABLE', 'closed')), 'gone')
    assert.equal(failureKind(new DragnetError('DRAGNET_FORBIDDEN', 'already penalised')), 'gone')
    assert.equal(failureKind(new Error('stream reset')), 'gone')
  })

  it('strikes: distinct keys within the window; the allowance is exceeded by one more, a new window starts afresh', () => {
    let now = 1_000_000
    const g = new PeerGuard({ recordsPerSec: 10, bytesPerSec: 1000, framesPerSec: 10, idsPerSec: 10, strikesPerPeer: 3, strikeWindowMs: 60_000 }, () => now)
    assert.equal(g.strike('a'), false)
    assert.equal(g.strike('a'), false, 'the same key counts once')
    assert.equal(g.strike('b'), false)
    assert.equal(g.strike('c'), false)
    assert.equal(g.strike('d'), true)
    now += 60_001
    assert.equal(g.strike('e'), false, 'a new window')
  })

  it('rate limits delay the reader instead of failing it', () => {
    let now = 0
    const g = new PeerGuard({ recordsPerSec: 100, bytesPerSec: 1e9, framesPerSec: 1e6, idsPerSec: 1e6, strikesPerPeer: 3, strikeWindowMs: 1 }, () => now)
    g.records.take(200)
    assert.equal(g.delay(), 0, 'the burst (twice the rate) is free')
    g.records.take(100)
    assert.equal(g.delay(), 1000)
    now += 1000
    assert.equal(g.delay(), 0)
  })

  it('records frames pack within the limits and decode back', () => {
    const recs = Array.from({ length: 700 }, (_, i) => new Uint8Array(100 + (i % 50)).fill(i % 256))
    const frames = packRecordsFrames(0x01, recs, { maxFrameBytes: 16 * 1024, maxRecords: 256 })
    const back: Uint8Array[] = []
    for (const f of frames) {
      assert.ok(f.length <= 16 * 1024)
      const d = decodeGossipFrame(f, { maxRecords: 256 })
      assert.equal(d.type, 0x01)
      back.push(...(d as { records: Uint8Array[] }).records)
    }
    assert.deepEqual(back, recs)
    assert.equal(encodeIdFrames(IHAVE, [{ key: new Uint8Array(32), digests: Array.from({ length: MAX_IDS_PER_FRAME + 5 }, () => new Uint8Array(32)) }]).length, 2)
  })

  it('wire decoders are total: garbage decodes or throws a DragnetError, nothing else (fast-check, fixed seed)', () => {
    const valid = [encodeRecords([new Uint8Array(120)]), ...encodeIdFrames(IHAVE, [{ key: new Uint8Array(32), digests: [new Uint8Array(32)] }]), ...encodePrune([new Uint8Array(32)])]
    const mutated = fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat({ max: 64 })).map(([f, edits, cut]) => {
      const x = f.slice(0, Math.max(0, f.length - cut))
      for (const [at, b] of edits) if (x.length > 0) x[at % x.length] = b
      return x
    })
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated)
    fc.assert(fc.property(bytes, (b) => {
      for (const decode of [() => decodeGossipFrame(b, { maxRecords: 256 }), () => decodeFrame(b, { maxItems: 2000, scopes: 6 })]) {
        try { decode() } catch (err) { assert.ok(err instanceof DragnetError, String(err)) }
      }
    }), { seed: 42, numRuns: 3000 })
  })
})
