import assert from 'node:assert/strict'
import { isDragnetError } from '../../../src/errors.js'
import { policySubject, type FeedbackCountsView, type FeedbackTarget, type Member, type PolicySubject } from '../../../src/policy/index.js'
import { IDS, M, NOW, HOUR, indicator, policy } from './helpers.js'

const TARGET = 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f'

function withFeedback (feedback: FeedbackCountsView): PolicySubject {
  return policySubject({ id: '1220' + 'ab'.repeat(32), author: IDS.de, seq: 1, ts: NOW - HOUR, tlp: 'green', body: indicator() }, { feedback })
}

function sighting (targets: FeedbackTarget[], over: { author?: string, tlp?: 'green' | 'amber' | 'red', to?: string[] } = {}): PolicySubject {
  const body = { type: 'sighting', spec_version: '2.1', id: 'sighting--00000000-0000-4000-8000-000000000001', created: '2025-05-01T00:00:00.000Z', modified: '2025-05-01T00:00:00.000Z', sighting_of_ref: TARGET }
  return policySubject({ id: '1220' + 'cd'.repeat(32), author: over.author ?? IDS.fr, seq: 1, ts: NOW - HOUR, tlp: over.tlp ?? 'green', ...(over.to != null ? { to: over.to } : {}), body }, { targets })
}

const out = (p: ReturnType<typeof policy>, s: PolicySubject, peer: Member = M.us): { verdict: string, rule: string, reason: string } =>
  p.outbound(s, { self: M.fr, peer, author: M.fr, now: NOW, peerOnRoster: true })

describe('policy: sightings and opinions', () => {
  it('disagreements and sightings match the counts about the record\'s object, inclusive', () => {
    const p = policy({ rules: [
      { id: 'disputed', direction: 'outbound', match: { type: 'indicator', disagreements: { gte: 2 } }, action: 'withhold' },
      { id: 'quiet', direction: 'outbound', match: { sightings: { lte: 0 } }, action: 'withhold' }
    ] })
    assert.equal(out(p, withFeedback({ sightings: 3, agree: 0, disagree: 2 })).rule, 'disputed')
    assert.equal(out(p, withFeedback({ sightings: 3, agree: 0, disagree: 1 })).rule, 'default:outbound')
    assert.equal(out(p, withFeedback({ sightings: 0, agree: 0, disagree: 1 })).rule, 'quiet')
    const ex = p.explain(withFeedback({ sightings: 3, agree: 0, disagree: 2 }), { direction: 'outbound', self: M.fr, peer: M.us, now: NOW })
    assert.match(ex.rules[0].checks.find(c => c.matcher === 'disagreements')!.detail, /disagreements 2 within 2\.\.∞/)
  })

  it('target.held matches sightings and opinions by whether their objects are held; other records never', () => {
    const p = policy({ rules: [{ id: 'unknown-target', direction: 'inbound', match: { target: { held: false } }, action: 'reject' }] })
    const ctx = { self: M.de, from: M.fr, author: M.fr, now: NOW }
    assert.equal(p.inbound(sighting([{ id: TARGET, held: false }]), ctx).rule, 'unknown-target')
    assert.equal(p.inbound(sighting([{ id: TARGET, held: true, owner: IDS.us }]), ctx).rule, 'default:inbound')
    assert.equal(p.inbound(withFeedback({ sightings: 0, agree: 0, disagree: 0 }), ctx).rule, 'default:inbound')
  })

  it('feedback goes to the author of its object past the rules, after the TLP floor; feedback_to_author: false leaves it to the rules', () => {
    const rules = [{ id: 'no-feedback', direction: 'outbound', match: { type: ['sighting', 'opinion'] }, action: 'withhold' }]
    const p = policy({ rules })
    const s = sighting([{ id: TARGET, held: true, owner: IDS.us }])
    assert.deepEqual({ ...out(p, s, M.us) }, { verdict: 'send', rule: 'feedback:to-author', reason: out(p, s, M.us).reason })
    assert.equal(out(p, s, M.de).rule, 'no-feedback', 'anyone else: the rules decide')
    assert.equal(out(p, sighting([{ id: TARGET, held: true, owner: IDS.us }], { tlp: 'red' }), M.us).rule, 'tlp-floor:red')
    assert.equal(out(p, sighting([{ id: TARGET, held: true, owner: IDS.us }], { tlp: 'amber', to: [IDS.de] }), M.us).rule, 'tlp-floor:amber-recipient')
    const off = policy({ defaults: { feedback_to_author: false }, rules })
    assert.equal(out(off, s, M.us).rule, 'no-feedback')
    assert.equal(p.explain(s, { direction: 'outbound', self: M.fr, peer: M.us, now: NOW }).floor?.rule, 'feedback:to-author')
  })

  it('refuses malformed feedback matchers with the rule and field named', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ disagreements: { gte: -1 } }, /disagreements\.gte: expected a whole number/],
      [{ disagreements: {} }, /expected at least one of gte, lte/],
      [{ sightings: { gte: 5, lte: 2 } }, /gte is greater than lte/],
      [{ sightings: { min: 1 } }, /unknown field/],
      [{ target: { held: 'no' } }, /expected true or false/]
    ]
    for (const [match, re] of bad) {
      assert.throws(() => policy({ rules: [{ id: 'r', direction: 'outbound', match, action: 'withhold' }] }), (err: unknown) => isDragnetError(err) && err.code === 'DRAGNET_BAD_POLICY' && re.test(err.message), JSON.stringify(match))
    }
    assert.throws(() => policy({ defaults: { feedback_to_author: 'yes' } }), /feedback_to_author: expected true or false/)
  })
})
