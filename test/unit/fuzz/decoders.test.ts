import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DragnetError } from '../../../src/errors.js'
import { protocolViolation } from '../../../src/replication/index.js'
import { decodeFrame } from '../../../src/sync/protocol.js'
import { checkCase, DEFAULT_LIMITS, fuzz, prepareRecordTargets, TARGETS, type FuzzTarget } from '../../helpers/fuzz-targets.js'

/*
 * Every wire and file decoder under fast-check with a fixed seed and modest run counts; the long
 * runs are `npm run fuzz` (scripts/fuzz.ts). The contract each case is held to (only
 * DragnetErrors, a time bound, an allocation bound) is in test/helpers/fuzz-targets.ts.
 */
const RUNS: Record<string, number> = { 'record envelope': 400, 'records file': 150, 'record body (STIX)': 600, 'reconciliation message': 800, 'feed: TAXII envelope pages': 300, 'feed: MISP manifest and events': 300, 'feed: url-list': 300, 'feed: url-csv': 300 }

describe('fuzz: every decoder is total, bounded in time and in memory (fixed seed)', function () {
  this.timeout(60_000)
  before(prepareRecordTargets)
  for (const target of TARGETS) {
    it(target.name, async () => {
      await fuzz(target, { seed: 11, numRuns: RUNS[target.name] ?? 1000 })
    })
  }
})

describe('fuzz: the contract catches what it is meant to catch', () => {
  const control = (run: (b: Uint8Array) => unknown): FuzzTarget => ({ name: 'control', arbitrary: fc.uint8Array(), size: b => b.length, run })
  const fails = async (target: FuzzTarget, pattern: RegExp): Promise<void> => {
    await assert.rejects(checkCase(target, Uint8Array.of(0xff, 0xff, 0xff, 0x7f)), pattern)
  }

  it('a decoder that throws anything but a DragnetError fails', async () => {
    await fails(control(b => { if (b[0] === 0xff) throw new RangeError('Invalid array length') }), /not a DragnetError/)
  })

  it('a decoder that allocates a declared length before checking it fails', async () => {
    let kept: Uint8Array | undefined
    await fails(control(b => { kept = new Uint8Array(new DataView(b.buffer).getUint32(0, true) & 0x3ffffff); throw protocolViolation('truncated') }), /left \d+ bytes allocated/)
    assert.ok(kept != null)
  })

  it('a decoder that takes too long fails', async () => {
    await assert.rejects(checkCase(control(() => { const t = process.cpuUsage(); while (process.cpuUsage(t).user < 60_000); }), new Uint8Array(4), { ...DEFAULT_LIMITS, maxCaseMs: 20 }), /took \d+ ms of CPU/)
  })

  it('the sync decoder leaves its limits as it found them, also when an OPEN is refused', () => {
    const limits = { maxItems: 10, scopes: 6 }
    // OPEN naming two scopes, then a scoped message for scope 5 (out of range for the session)
    const open = Uint8Array.of(0x10, 2, 2, 0, 1, 1, 5, 0)
    assert.throws(() => decodeFrame(open, limits), (e: unknown) => e instanceof DragnetError)
    assert.deepEqual(limits, { maxItems: 10, scopes: 6 })
  })
})
