import assert from 'node:assert/strict'
import { isDragnetError } from '../../../src/errors.js'
import { compilePolicy, MAX_REGEX_VALUE_LENGTH, WarninglistSet } from '../../../src/policy/index.js'
import { policySubject } from '../../../src/policy/index.js'
import { M, NOW } from './helpers.js'

// The list regex of issue 10, item 8: a backtracking engine takes ~2 s on a 28-character label
// and ~7 s on 30, on the event loop, for a value any peer may send.
const HOSTILE = '/^(([a-z0-9]+)-?)+\\.dyn\\.example$/i'

const list = (entries: string[], name = 'dynamic hosts'): WarninglistSet =>
  new WarninglistSet([{ id: 'dyn', doc: { name, type: 'regex', list: entries, matching_attributes: ['hostname', 'domain', 'url'] }, source: 'dyn.json' }])

function worstMs (fn: () => unknown, runs = 5): number {
  let worst = 0
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    fn()
    worst = Math.max(worst, performance.now() - t)
  }
  return worst
}

describe('warninglists: regexes run in linear time (ReDoS)', () => {
  const set = list([HOSTILE])

  it('still matches what the list means', () => {
    assert.deepEqual(set.match({ kind: 'domain', value: 'host-1.DYN.example' }).map(h => h.list), ['dyn'])
    assert.deepEqual(set.match({ kind: 'domain', value: 'host-1.dyn.example.org' }), [])
  })

  it('decides a hostile 10,000-character value, and one just under the length cap, in milliseconds', () => {
    set.match({ kind: 'domain', value: 'warm-up.example' })
    const hostile = (len: number): string => 'a'.repeat(len - 13) + '!.dyn.example'
    // Generous bounds for a loaded CI machine; the backtracking engine needed seconds.
    assert.ok(worstMs(() => set.match({ kind: 'domain', value: hostile(10_000) })) < 10, 'past the cap: not run at all')
    const atCap = worstMs(() => set.match({ kind: 'domain', value: hostile(MAX_REGEX_VALUE_LENGTH) }))
    assert.ok(atCap < 100, `${atCap} ms on ${MAX_REGEX_VALUE_LENGTH} characters`)
    const label = worstMs(() => set.match({ kind: 'domain', value: hostile(43) }))
    assert.ok(label < 20, `${label} ms on a 30-character label (7 s before)`)
  })

  it('decides the hostile value through a whole policy decision too', () => {
    const p = compilePolicy({ name: 'x', rules: [{ id: 'benign', direction: 'inbound', match: { warninglist: { hit: true } }, action: 'reject' }] }, '.', { warninglists: set })
    const value = 'a'.repeat(30) + '!.dyn.example'
    const s = policySubject({ id: '1220' + '0'.repeat(64), author: M.fr.peerId, seq: 1, ts: NOW, tlp: 'green', body: { type: 'indicator', id: 'indicator--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d' } } as any, { observables: [{ kind: 'domain', value }], scoTypes: ['domain-name'] })
    const t = performance.now()
    assert.equal(p.inbound(s, { self: M.de, from: M.fr, author: M.fr, now: NOW }).rule, 'default:inbound')
    assert.ok(performance.now() - t < 50)
  })

  it('refuses at load what a linear-time engine cannot run, naming the list and the pattern', () => {
    for (const entry of ['/^(a+)\\1$/', '/^evil(?=\\.example)/', '/(?<=www\\.)evil/', '/(?<!x)y/']) {
      assert.throws(() => list(['/^fine$/', entry], 'lookaround list'), (err: unknown) => {
        assert.ok(isDragnetError(err, 'DRAGNET_BAD_POLICY'), String(err))
        assert.ok(err.message.startsWith('warninglist dyn.json: list[1]: list "lookaround list": regular expression '), err.message)
        assert.ok(err.message.includes(JSON.stringify(entry)), err.message)
        assert.match(err.message, /RE2/)
        return true
      }, entry)
    }
  })
})
