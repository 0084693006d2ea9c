import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TLP_LEVELS, type Tlp } from '../../../src/record/index.js'
import type { Observable } from '../../../src/stix/types.js'
import { ROLES, roleFloor, tlpFloorInbound, tlpFloorOutbound, type Member } from '../../../src/policy/index.js'
import { DAY, IDS, M, NOW, policy, subject, testLists } from './helpers.js'

const self = M.de

describe('TLP floor: outbound', () => {
  const cases: Array<{ name: string, tlp: Tlp, author: string, to?: string[], peer: Member, onRoster?: boolean, rule: string | null }> = [
    { name: 'red from its author', tlp: 'red', author: IDS.de, peer: M.fr, rule: 'tlp-floor:red' },
    { name: 'red relayed', tlp: 'red', author: IDS.fr, peer: M.us, rule: 'tlp-floor:red' },
    { name: 'amber from the author to a roster peer, no list', tlp: 'amber', author: IDS.de, peer: M.fr, rule: null },
    { name: 'amber from the author to a non-roster peer', tlp: 'amber', author: IDS.de, peer: M.stranger, onRoster: false, rule: 'tlp-floor:amber-recipient' },
    { name: 'amber from the author to a listed recipient', tlp: 'amber', author: IDS.de, to: [IDS.fr, IDS.us], peer: M.us, rule: null },
    { name: 'amber from the author to an unlisted peer', tlp: 'amber', author: IDS.de, to: [IDS.us], peer: M.fr, rule: 'tlp-floor:amber-recipient' },
    { name: 'amber listed recipient who is off the roster', tlp: 'amber', author: IDS.de, to: [IDS.stranger], peer: M.stranger, onRoster: false, rule: 'tlp-floor:amber-recipient' },
    { name: 'amber+strict from the author to a listed recipient', tlp: 'amber+strict', author: IDS.de, to: [IDS.fr], peer: M.fr, rule: null },
    { name: 'amber relayed by a non-author', tlp: 'amber', author: IDS.fr, peer: M.us, rule: 'tlp-floor:amber-relay' },
    { name: 'amber relayed even to a listed recipient', tlp: 'amber', author: IDS.fr, to: [IDS.de, IDS.us], peer: M.us, rule: 'tlp-floor:amber-relay' },
    { name: 'amber+strict relayed', tlp: 'amber+strict', author: IDS.fr, peer: M.us, rule: 'tlp-floor:amber-relay' },
    { name: 'green to a roster peer', tlp: 'green', author: IDS.fr, peer: M.us, rule: null },
    { name: 'green outside the federation', tlp: 'green', author: IDS.de, peer: M.stranger, onRoster: false, rule: 'tlp-floor:green-outside-federation' },
    { name: 'clear outside the federation', tlp: 'clear', author: IDS.fr, peer: M.stranger, onRoster: false, rule: null }
  ]
  for (const c of cases) {
    it(`${c.name} → ${c.rule ?? 'floor allows'}`, () => {
      const s = subject({ tlp: c.tlp, author: c.author, to: c.to })
      const d = tlpFloorOutbound(s, { self, peer: c.peer, peerOnRoster: c.onRoster ?? true })
      assert.equal(d?.rule ?? null, c.rule)
      if (d != null) assert.equal(d.verdict, 'withhold')
    })
  }

  it('an unknown TLP level is never sent', () => {
    const d = tlpFloorOutbound({ author: IDS.de, tlp: 'white' as Tlp }, { self, peer: M.fr, peerOnRoster: true })
    assert.equal(d?.rule, 'tlp-floor:red')
  })
})

describe('TLP floor: inbound', () => {
  const cases: Array<{ name: string, tlp: Tlp, author: string, to?: string[], from: Member | 'self', rule: string | null }> = [
    { name: 'red authored elsewhere', tlp: 'red', author: IDS.fr, from: M.fr, rule: 'tlp-floor:red' },
    { name: 'red published locally', tlp: 'red', author: IDS.de, from: 'self', rule: null },
    { name: 'own red record coming back', tlp: 'red', author: IDS.de, from: M.fr, rule: null },
    { name: 'amber straight from its author', tlp: 'amber', author: IDS.fr, from: M.fr, rule: null },
    { name: 'amber relayed by a non-author', tlp: 'amber', author: IDS.fr, from: M.us, rule: 'tlp-floor:amber-relay' },
    { name: 'amber+strict relayed', tlp: 'amber+strict', author: IDS.fr, to: [IDS.de], from: M.us, rule: 'tlp-floor:amber-relay' },
    { name: 'amber addressed to others', tlp: 'amber', author: IDS.fr, to: [IDS.us], from: M.fr, rule: 'tlp-floor:amber-recipient' },
    { name: 'amber addressed to this node', tlp: 'amber', author: IDS.fr, to: [IDS.de, IDS.us], from: M.fr, rule: null },
    { name: 'own amber published locally to others', tlp: 'amber+strict', author: IDS.de, to: [IDS.fr], from: 'self', rule: null },
    { name: 'foreign amber imported locally', tlp: 'amber', author: IDS.fr, from: 'self', rule: 'tlp-floor:amber-relay' },
    { name: 'foreign red imported locally', tlp: 'red', author: IDS.fr, from: 'self', rule: 'tlp-floor:red' },
    { name: 'green relayed', tlp: 'green', author: IDS.fr, from: M.us, rule: null },
    { name: 'clear relayed', tlp: 'clear', author: IDS.fr, from: M.nlVendor, rule: null }
  ]
  for (const c of cases) {
    it(`${c.name} → ${c.rule ?? 'floor allows'}`, () => {
      const s = subject({ tlp: c.tlp, author: c.author, to: c.to })
      const d = tlpFloorInbound(s, { self, from: c.from })
      assert.equal(d?.rule ?? null, c.rule)
      if (d != null) assert.equal(d.verdict, 'reject')
    })
  }
})

describe('fixed rules through a policy', () => {
  const sendAll = policy({
    defaults: { inbound: 'accept', outbound: 'send' },
    rules: [
      { id: 'send-everything', direction: 'outbound', action: 'send' },
      { id: 'accept-everything', direction: 'inbound', action: 'accept' }
    ]
  })

  it('a send-everything rule cannot send red or relay amber', () => {
    const ctx = { self, peer: M.fr, author: M.fr, now: NOW, peerOnRoster: true }
    assert.equal(sendAll.outbound(subject({ tlp: 'red', author: IDS.de }), { ...ctx, author: M.de }).rule, 'tlp-floor:red')
    assert.equal(sendAll.outbound(subject({ tlp: 'amber', author: IDS.fr }), ctx).rule, 'tlp-floor:amber-relay')
    assert.equal(sendAll.outbound(subject({ tlp: 'green' }), { ...ctx, peer: M.stranger, peerOnRoster: false }).rule, 'tlp-floor:green-outside-federation')
    assert.equal(sendAll.outbound(subject({ tlp: 'green' }), ctx).rule, 'send-everything')
  })

  it('an accept-everything rule cannot take in relayed amber', () => {
    const d = sendAll.inbound(subject({ tlp: 'amber', author: IDS.fr }), { self, from: M.us, author: M.fr, now: NOW })
    assert.deepEqual([d.verdict, d.rule], ['reject', 'tlp-floor:amber-relay'])
  })

  it('observers never author, in either direction', () => {
    const s = subject({ author: IDS.beObserver, tlp: 'clear' })
    const inb = sendAll.inbound(s, { self, from: M.beObserver, author: M.beObserver, now: NOW })
    assert.deepEqual([inb.verdict, inb.rule], ['reject', 'role:observer-author'])
    const out = sendAll.outbound(s, { self, peer: M.fr, author: M.beObserver, now: NOW, peerOnRoster: true })
    assert.deepEqual([out.verdict, out.rule], ['withhold', 'role:observer-author'])
    assert.equal(roleFloor('inbound', M.fr), null)
  })

  it('an observer node publishing locally is refused', () => {
    const observerSelf = M.beObserver
    const s = subject({ author: observerSelf.peerId, tlp: 'green' })
    const d = sendAll.inbound(s, { self: observerSelf, from: 'self', author: observerSelf, now: NOW })
    assert.equal(d.rule, 'role:observer-author')
  })
})

// ---- properties -------------------------------------------------------------------------------

const MEMBERS = Object.values(M) as Member[]
const ALL_IDS = MEMBERS.map(m => m.peerId)
const COUNTRIES = ['DE', 'FR', 'US', 'NL', 'BE', 'JP', 'XX']
const GROUPS = { eu: { countries: ['DE', 'FR', 'NL', 'BE'] }, friends: { peers: [IDS.us, IDS.jp] }, bureaus: { roles: ['bureau'] } }
const OBSERVABLES: Observable[] = [
  { kind: 'ipv4', value: '8.8.8.8' },
  { kind: 'ipv4', value: '203.0.113.9' },
  { kind: 'domain', value: 'www.example.com' },
  { kind: 'domain', value: 'c2.evil.test' },
  { kind: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e' }
]
const nonEmpty = <T>(xs: readonly T[]) => fc.subarray([...xs], { minLength: 1 })
const range = (lo: number, hi: number) => fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const)

const memberMatcher = fc.record({
  id: nonEmpty(ALL_IDS),
  country: nonEmpty(COUNTRIES),
  role: nonEmpty(ROLES),
  group: nonEmpty(Object.keys(GROUPS)),
  not_id: nonEmpty(ALL_IDS),
  not_country: nonEmpty(COUNTRIES),
  not_role: nonEmpty(ROLES),
  not_group: nonEmpty(Object.keys(GROUPS))
}, { requiredKeys: [] }).filter(m => Object.keys(m).length > 0)

const recordMatchers = {
  author: memberMatcher,
  tlp: nonEmpty(TLP_LEVELS),
  type: nonEmpty(['indicator', 'malware', 'observed-data']),
  labels: fc.record({ any: nonEmpty(['c2', 'apt', 'test']), all: nonEmpty(['c2', 'apt']), none: nonEmpty(['test']) }, { requiredKeys: [] }).filter(l => Object.keys(l).length > 0),
  confidence: fc.tuple(range(0, 100), fc.constantFrom('match', 'no-match')).map(([[min, max], missing]) => ({ min, max, missing })),
  age: range(0, 400 * DAY).map(([min, max]) => ({ min, max })),
  expired: fc.boolean(),
  revoked: fc.boolean(),
  observables: fc.record({ kinds: nonEmpty(['email-addr', 'user-account', 'ipv4-addr']) }),
  warninglist: fc.record({ hit: fc.boolean(), lists: nonEmpty(['resolvers', 'top', 'hashes']) }, { requiredKeys: ['hit'] })
}

const outboundRule = fc.record({
  match: fc.record({ ...recordMatchers, peer: memberMatcher }, { requiredKeys: [] }),
  action: fc.constantFrom('send', 'send', 'withhold')
}).map(r => ({ ...r, direction: 'outbound' }))

const inboundRule = fc.record({
  match: fc.record({ ...recordMatchers, from: memberMatcher }, { requiredKeys: [] }),
  action: fc.constantFrom('accept', 'accept', 'reject')
}).map(r => ({ ...r, direction: 'inbound' }))

const policyDoc = fc.record({
  rules: fc.array(fc.oneof(outboundRule, inboundRule), { maxLength: 12 }),
  sendAllFirst: fc.boolean(),
  defaults: fc.record({ inbound: fc.constantFrom('accept', 'reject'), outbound: fc.constantFrom('send', 'withhold') })
}).map(({ rules, sendAllFirst, defaults }) => {
  const all: Array<Record<string, unknown>> = sendAllFirst
    ? [{ direction: 'outbound', action: 'send' }, { direction: 'inbound', action: 'accept' }, ...rules]
    : rules
  return { groups: GROUPS, defaults, rules: all.map((r, i) => ({ id: `r${i}`, ...r })) }
})

const record = fc.record({
  author: fc.constantFrom(...ALL_IDS),
  tlp: fc.constantFrom(...TLP_LEVELS),
  to: fc.option(nonEmpty(ALL_IDS), { nil: undefined }),
  ageMs: fc.integer({ min: -DAY, max: 400 * DAY }),
  type: fc.constantFrom('indicator', 'malware', 'observed-data'),
  labels: fc.subarray(['c2', 'apt', 'test']),
  confidence: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  validUntil: fc.option(fc.integer({ min: -30, max: 30 }).map(d => new Date(NOW + d * DAY).toISOString()), { nil: undefined }),
  revoked: fc.boolean(),
  observables: fc.subarray(OBSERVABLES),
  scoTypes: fc.subarray(['email-addr', 'user-account', 'ipv4-addr', 'domain-name'])
})

type Rec = typeof record extends fc.Arbitrary<infer T> ? T : never

function toSubject (r: Rec) {
  const body: Record<string, unknown> = { type: r.type, labels: r.labels, revoked: r.revoked }
  if (r.confidence !== undefined) body.confidence = r.confidence
  if (r.validUntil !== undefined) body.valid_until = r.validUntil
  return subject({ author: r.author, tlp: r.tlp, to: r.to, ts: NOW - r.ageMs, body }, { observables: r.observables, scoTypes: r.scoTypes })
}

const situation = fc.record({
  rec: record,
  self: fc.constantFrom(...MEMBERS),
  peer: fc.constantFrom(...MEMBERS),
  peerOnRoster: fc.boolean(),
  from: fc.oneof(fc.constant('self' as const), fc.constantFrom(...MEMBERS)),
  authorKnown: fc.boolean()
})

describe('TLP floor properties (fast-check)', () => {
  const lists = testLists('resolvers', 'top', 'hashes')
  const byId = new Map(MEMBERS.map(m => [m.peerId, m]))

  it('no rule set sends what the floor withholds, and the floor decision is the decision', () => {
    fc.assert(fc.property(policyDoc, fc.array(situation, { minLength: 1, maxLength: 8 }), (doc, sits) => {
      const p = policy(doc, lists)
      for (const sit of sits) {
        const s = toSubject(sit.rec)
        const author = sit.authorKnown ? byId.get(sit.rec.author) : undefined
        const ctx = { self: sit.self, peer: sit.peer, author, now: NOW, peerOnRoster: sit.peerOnRoster }
        const floor = tlpFloorOutbound(s, ctx) ?? roleFloor('outbound', author)
        const d = p.outbound(s, ctx)
        if (floor != null) assert.deepEqual(d, floor)
        else assert.ok(d.rule.startsWith('r') || d.rule === 'default:outbound', d.rule)
        assert.ok(d.verdict === 'send' || d.verdict === 'withhold')
        if (d.verdict === 'send') {
          assert.notEqual(s.tlp, 'red')
          if (s.tlp !== 'clear') assert.ok(sit.peerOnRoster)
          if (s.tlp === 'amber' || s.tlp === 'amber+strict') {
            assert.equal(s.author, sit.self.peerId)
            if (s.to != null) assert.ok(s.to.includes(sit.peer.peerId))
          }
        }
      }
    }), { numRuns: 300 })
  })

  it('no rule set accepts what the floor rejects', () => {
    fc.assert(fc.property(policyDoc, fc.array(situation, { minLength: 1, maxLength: 8 }), (doc, sits) => {
      const p = policy(doc, lists)
      for (const sit of sits) {
        const s = toSubject(sit.rec)
        const author = sit.authorKnown ? byId.get(sit.rec.author) : undefined
        const ctx = { self: sit.self, from: sit.from, author, now: NOW }
        const floor = tlpFloorInbound(s, ctx) ?? roleFloor('inbound', author)
        const d = p.inbound(s, ctx)
        if (floor != null) assert.deepEqual(d, floor)
        if (d.verdict === 'accept') {
          if (s.tlp === 'red') assert.equal(s.author, sit.self.peerId)
          if (s.tlp === 'amber' || s.tlp === 'amber+strict') {
            assert.equal(s.author, sit.from === 'self' ? sit.self.peerId : sit.from.peerId)
          }
          assert.notEqual(author?.role, 'observer')
        }
      }
    }), { numRuns: 300 })
  })

  it('a subject reused across contexts decides as fresh subjects do, and explain agrees', () => {
    fc.assert(fc.property(policyDoc, record, fc.array(situation, { minLength: 1, maxLength: 8 }), (doc, rec, sits) => {
      const p = policy(doc, lists)
      const shared = toSubject(rec)
      for (const sit of sits) {
        const author = sit.authorKnown ? byId.get(rec.author) : undefined
        const now = NOW + (sit.peerOnRoster ? 0 : 10 * DAY)
        const out = { self: sit.self, peer: sit.peer, author, now, peerOnRoster: sit.peerOnRoster }
        const fresh = p.outbound(toSubject(rec), out)
        assert.deepEqual(p.outbound(shared, out), fresh)
        assert.deepEqual(p.explain(toSubject(rec), { direction: 'outbound', ...out }).decision, fresh)
        const inb = { self: sit.self, from: sit.from, author, now }
        const freshIn = p.inbound(toSubject(rec), inb)
        assert.deepEqual(p.inbound(shared, inb), freshIn)
        assert.deepEqual(p.explain(toSubject(rec), { direction: 'inbound', ...inb }).decision, freshIn)
      }
    }), { numRuns: 200 })
  })
})
