import assert from 'node:assert/strict'
import { isDragnetError } from '../../../src/errors.js'
import { explain, formatExplanation } from '../../../src/policy/index.js'
import { IDS, M, NOW, policy, subject, testLists } from './helpers.js'

describe('policy explain (dry run)', () => {
  const p = policy({
    groups: { eu: { countries: ['DE', 'FR', 'NL'] } },
    rules: [
      { id: 'amber-only', direction: 'outbound', match: { tlp: ['amber'] }, action: 'withhold', reason: 'not for amber' },
      { id: 'personal', direction: 'outbound', match: { peer: { not_group: ['eu'] }, observables: { kinds: ['email-addr'] } }, action: 'withhold', reason: 'GDPR' },
      { id: 'catch-all', direction: 'outbound', action: 'send' },
      { id: 'benign', direction: 'inbound', match: { warninglist: { hit: true }, author: { role: ['contributor'] } }, action: 'reject' }
    ],
    defaults: { outbound: 'withhold' }
  }, testLists('resolvers'))

  it('walks every rule of the direction, says why each matched or not, and marks the decisive one', () => {
    const s = subject({ tlp: 'green' }, { scoTypes: ['email-addr'] })
    const e = explain(p, s, { direction: 'outbound', self: M.de, peer: M.us, author: M.fr, now: NOW })
    assert.deepEqual({ ...e.decision }, { verdict: 'withhold', rule: 'personal', reason: 'GDPR' })
    assert.equal(e.floor, null)
    assert.deepEqual(e.rules.map(r => [r.id, r.evaluated, r.matched, r.decisive]), [
      ['amber-only', true, false, false],
      ['personal', true, true, true],
      ['catch-all', false, true, false]
    ])
    assert.deepEqual(e.rules[0].checks, [{ matcher: 'tlp', matched: false, detail: 'tlp green not in [amber]' }])
    const personal = e.rules[1].checks
    assert.deepEqual(personal.map(c => c.matcher), ['peer', 'observables'])
    assert.match(personal[0].detail, new RegExp(`peer not_group: ${IDS.us} is in none of \\[eu\\]`))
    assert.match(personal[1].detail, /include \[email-addr\]/)
    const text = formatExplanation(e)
    assert.match(text, /^outbound: withhold by personal — GDPR/)
    assert.match(text, /=> rules\[1\] personal \(withhold\): MATCHED, decides/)
    assert.match(text, / · rules\[2\] catch-all \(send\): would match, not reached/)
    assert.match(text, /\(no matchers: matches every record\)/)
  })

  it('reports a floor decision and marks no rule decisive', () => {
    const s = subject({ tlp: 'red', author: IDS.de })
    const e = explain(p, s, { direction: 'outbound', self: M.de, peer: M.fr, author: M.de, now: NOW })
    assert.equal(e.decision.rule, 'tlp-floor:red')
    assert.equal(e.floor?.rule, 'tlp-floor:red')
    assert.ok(e.rules.every(r => !r.evaluated && !r.decisive))
    assert.match(formatExplanation(e), /fixed rule tlp-floor:red decided/)
  })

  it('explains inbound decisions with warninglist hits; from defaults to the author', () => {
    const s = subject({ author: IDS.nlVendor }, { observables: [{ kind: 'ipv4', value: '8.8.8.8' }] })
    const e = explain(p, s, { direction: 'inbound', self: M.de, author: M.nlVendor, now: NOW })
    assert.equal(e.decision.rule, 'benign')
    assert.deepEqual(e.warninglistHits.map(h => h.list), ['resolvers'])
    const wl = e.rules[0].checks.find(c => c.matcher === 'warninglist')!
    assert.match(wl.detail, /hits 8\.8\.8\.8 on resolvers \(8\.8\.8\.8\); rule wants hit: true/)
    assert.match(formatExplanation(e), /ipv4 8\.8\.8\.8 on resolvers/)
  })

  it('says when no rule matched', () => {
    const e = explain(p, subject({ author: IDS.fr }), { direction: 'inbound', self: M.de, author: M.fr, now: NOW })
    assert.equal(e.decision.rule, 'default:inbound')
    assert.match(formatExplanation(e), /no rule matched: default:inbound/)
  })

  it('needs a peer for outbound', () => {
    assert.throws(() => explain(p, subject(), { direction: 'outbound', self: M.de, now: NOW }), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_REQUEST'))
  })
})
