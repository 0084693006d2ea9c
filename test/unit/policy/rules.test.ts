import assert from 'node:assert/strict'
import type { Observable } from '../../../src/stix/types.js'
import { defaultPolicy, type Member } from '../../../src/policy/index.js'
import { DAY, HOUR, IDS, M, NOW, policy, subject, testLists, type RecordOverrides } from './helpers.js'

const GROUPS = {
  eu: { countries: ['DE', 'FR', 'NL', 'BE'] },
  'eu-bureaus': { countries: ['DE', 'FR', 'NL', 'BE'], roles: ['bureau'] },
  friends: { peers: [IDS.us, IDS.jp] },
  'eu-but-fr': { countries: ['DE', 'FR', 'NL', 'BE'], exclude: [IDS.fr] }
}

const byId = new Map<string, Member>(Object.values(M).map(m => [m.peerId, m]))

interface Case {
  name: string
  match: Record<string, unknown>
  expect: boolean
  direction?: 'inbound' | 'outbound'
  record?: RecordOverrides
  observables?: Observable[]
  scoTypes?: string[]
  /** outbound: receiving peer (default fr) */
  peer?: Member
  /** inbound: relaying neighbour (default: the author's entry) */
  from?: Member | 'self'
  /** the author's roster entry; null = author not on the roster; default: looked up */
  author?: Member | null
  now?: number
}

const CASES: Case[] = [
  // peer (outbound)
  { name: 'peer.id listed', match: { peer: { id: [IDS.fr, IDS.us] } }, expect: true },
  { name: 'peer.id not listed', match: { peer: { id: [IDS.us] } }, expect: false },
  { name: 'peer.id as a scalar', match: { peer: { id: IDS.fr } }, expect: true },
  { name: 'peer.country listed', match: { peer: { country: ['FR', 'DE'] } }, expect: true },
  { name: 'peer.country not listed', match: { peer: { country: ['US'] } }, expect: false },
  { name: 'peer.country compares case-insensitively (rule)', match: { peer: { country: ['fr'] } }, expect: true },
  { name: 'peer.country compares case-insensitively (roster)', match: { peer: { country: ['JP'] } }, peer: M.jp, expect: true },
  { name: 'peer.role listed', match: { peer: { role: ['contributor'] } }, peer: M.nlVendor, expect: true },
  { name: 'peer.role not listed', match: { peer: { role: ['contributor', 'observer'] } }, expect: false },
  { name: 'peer.group by country', match: { peer: { group: ['eu'] } }, expect: true },
  { name: 'peer.group by country, outside', match: { peer: { group: ['eu'] } }, peer: M.us, expect: false },
  { name: 'peer.group by peers', match: { peer: { group: ['friends'] } }, peer: M.us, expect: true },
  { name: 'peer.group needs every selector (country and role)', match: { peer: { group: ['eu-bureaus'] } }, peer: M.nlVendor, expect: false },
  { name: 'peer.group with both selectors met', match: { peer: { group: ['eu-bureaus'] } }, peer: M.de, expect: true },
  { name: 'peer.group exclude wins', match: { peer: { group: ['eu-but-fr'] } }, peer: M.fr, expect: false },
  { name: 'peer.group several groups are alternatives', match: { peer: { group: ['eu', 'friends'] } }, peer: M.jp, expect: true },
  { name: 'peer.not_group outside', match: { peer: { not_group: ['eu'] } }, peer: M.us, expect: true },
  { name: 'peer.not_group inside', match: { peer: { not_group: ['eu'] } }, peer: M.nlVendor, expect: false },
  { name: 'peer.not_id', match: { peer: { not_id: [IDS.us] } }, expect: true },
  { name: 'peer.not_country', match: { peer: { not_country: ['FR'] } }, expect: false },
  { name: 'peer.not_role', match: { peer: { not_role: ['contributor'] } }, peer: M.us, expect: true },
  { name: 'peer fields AND: country ok, role not', match: { peer: { country: ['NL'], role: ['bureau'] } }, peer: M.nlVendor, expect: false },
  { name: 'peer fields AND: both ok', match: { peer: { country: ['NL'], role: ['contributor'] } }, peer: M.nlVendor, expect: true },

  // from (inbound)
  { name: 'from.role of the relaying neighbour', direction: 'inbound', match: { from: { role: ['contributor'] } }, from: M.nlVendor, expect: true },
  { name: 'from.role: relayed by a bureau', direction: 'inbound', match: { from: { role: ['contributor'] } }, from: M.fr, expect: false },
  { name: 'from = self matches this node\'s own entry', direction: 'inbound', match: { from: { id: [IDS.de] } }, record: { author: IDS.de }, from: 'self', expect: true },

  // author
  { name: 'author.id without a roster entry', match: { author: { id: [IDS.stranger] } }, record: { author: IDS.stranger }, author: null, expect: true },
  { name: 'author.id other', match: { author: { id: [IDS.us] } }, expect: false },
  { name: 'author.country', match: { author: { country: ['FR'] } }, expect: true },
  { name: 'author.country other', match: { author: { country: ['DE'] } }, expect: false },
  { name: 'author.role', direction: 'inbound', match: { author: { role: ['contributor'] } }, record: { author: IDS.nlVendor }, expect: true },
  { name: 'author.role other', direction: 'inbound', match: { author: { role: ['contributor'] } }, expect: false },
  { name: 'author.group', match: { author: { group: ['eu-bureaus'] } }, expect: true },
  { name: 'author.group other', match: { author: { group: ['friends'] } }, expect: false },
  { name: 'author unknown: positive field fails', match: { author: { country: ['XX'] } }, record: { author: IDS.stranger }, author: null, expect: false },
  { name: 'author unknown: not_group holds', match: { author: { not_group: ['eu'] } }, record: { author: IDS.stranger }, author: null, expect: true },
  { name: 'author.not_country', direction: 'inbound', match: { author: { not_country: ['FR'] } }, record: { author: IDS.us }, expect: true },

  // tlp, type
  { name: 'tlp listed', match: { tlp: ['green', 'clear'] }, expect: true },
  { name: 'tlp not listed', match: { tlp: ['clear'] }, expect: false },
  { name: 'tlp scalar', match: { tlp: 'green' }, expect: true },
  { name: 'type listed', match: { type: ['indicator', 'malware'] }, expect: true },
  { name: 'type not listed', match: { type: ['malware'] }, expect: false },
  { name: 'type of a non-indicator body', match: { type: ['malware'] }, record: { body: { type: 'malware', name: 'x' } }, expect: true },

  // labels
  { name: 'labels.any one present', match: { labels: { any: ['phishing', 'c2'] } }, record: { body: { labels: ['c2'] } }, expect: true },
  { name: 'labels.any none present', match: { labels: { any: ['phishing'] } }, record: { body: { labels: ['c2'] } }, expect: false },
  { name: 'labels.any with no labels', match: { labels: { any: ['phishing'] } }, expect: false },
  { name: 'labels.all present', match: { labels: { all: ['c2', 'apt'] } }, record: { body: { labels: ['apt', 'c2', 'x'] } }, expect: true },
  { name: 'labels.all one missing', match: { labels: { all: ['c2', 'apt'] } }, record: { body: { labels: ['c2'] } }, expect: false },
  { name: 'labels.none absent', match: { labels: { none: ['test'] } }, record: { body: { labels: ['c2'] } }, expect: true },
  { name: 'labels.none present', match: { labels: { none: ['test'] } }, record: { body: { labels: ['c2', 'test'] } }, expect: false },
  { name: 'labels.none with no labels', match: { labels: { none: ['test'] } }, expect: true },
  { name: 'labels any+none combined', match: { labels: { any: ['c2'], none: ['test'] } }, record: { body: { labels: ['c2', 'test'] } }, expect: false },

  // confidence
  { name: 'confidence at min (inclusive)', match: { confidence: { min: 50 } }, record: { body: { confidence: 50 } }, expect: true },
  { name: 'confidence below min', match: { confidence: { min: 50 } }, record: { body: { confidence: 49 } }, expect: false },
  { name: 'confidence at max (inclusive)', match: { confidence: { max: 49 } }, record: { body: { confidence: 49 } }, expect: true },
  { name: 'confidence above max', match: { confidence: { max: 49 } }, record: { body: { confidence: 50 } }, expect: false },
  { name: 'confidence in range', match: { confidence: { min: 20, max: 80 } }, record: { body: { confidence: 0 } }, expect: false },
  { name: 'confidence missing: no match by default', match: { confidence: { max: 49 } }, expect: false },
  { name: 'confidence missing: missing: match', match: { confidence: { max: 49, missing: 'match' } }, expect: true },
  { name: 'confidence malformed counts as missing', match: { confidence: { min: 0, missing: 'no-match' } }, record: { body: { confidence: 'high' } }, expect: false },

  // age
  { name: 'age.max inside', match: { age: { max: '2h' } }, record: { ts: NOW - HOUR }, expect: true },
  { name: 'age.max boundary (inclusive)', match: { age: { max: '1h' } }, record: { ts: NOW - HOUR }, expect: true },
  { name: 'age.max exceeded', match: { age: { max: '59m' } }, record: { ts: NOW - HOUR }, expect: false },
  { name: 'age.min reached', match: { age: { min: '30d' } }, record: { ts: NOW - 31 * DAY }, expect: true },
  { name: 'age.min not reached', match: { age: { min: '30d' } }, record: { ts: NOW - 29 * DAY }, expect: false },
  { name: 'age combined units and ms', match: { age: { min: '1d12h', max: 2 * DAY } }, record: { ts: NOW - 36 * HOUR }, expect: true },
  { name: 'age of a record from the future is negative', match: { age: { max: '1h' } }, record: { ts: NOW + HOUR }, expect: true },
  { name: 'age.min with a record from the future', match: { age: { min: '0s' } }, record: { ts: NOW + HOUR }, expect: false },

  // expired, revoked
  { name: 'expired: valid_until passed', match: { expired: true }, record: { body: { valid_until: '2025-05-31T00:00:00Z' } }, expect: true },
  { name: 'expired: valid_until exactly now', match: { expired: true }, record: { body: { valid_until: new Date(NOW).toISOString() } }, expect: true },
  { name: 'expired: valid_until ahead', match: { expired: true }, record: { body: { valid_until: '2025-06-02T00:00:00Z' } }, expect: false },
  { name: 'expired: false without valid_until', match: { expired: false }, expect: true },
  { name: 'expired: unparsable valid_until is not expired', match: { expired: true }, record: { body: { valid_until: 'soon' } }, expect: false },
  { name: 'revoked: true', match: { revoked: true }, record: { body: { revoked: true } }, expect: true },
  { name: 'revoked: true on a live record', match: { revoked: true }, expect: false },
  { name: 'revoked: false', match: { revoked: false }, expect: true },

  // observables
  { name: 'observables.kinds present in scoTypes', match: { observables: { kinds: ['email-addr', 'user-account'] } }, scoTypes: ['ipv4-addr', 'email-addr'], expect: true },
  { name: 'observables.kinds absent', match: { observables: { kinds: ['email-addr', 'user-account'] } }, scoTypes: ['ipv4-addr'], expect: false },
  { name: 'observables.kinds derived from the observables too', match: { observables: { kinds: ['email-addr'] } }, observables: [{ kind: 'email', value: 'a@b.example' }], expect: true },
  { name: 'observables.kinds: the body itself is an SCO', match: { observables: { kinds: ['user-account'] } }, record: { body: { type: 'user-account', user_id: 'alice' } }, expect: true },

  // warninglist
  { name: 'warninglist hit', match: { warninglist: { hit: true } }, observables: [{ kind: 'ipv4', value: '8.8.8.8' }], expect: true },
  { name: 'warninglist no hit', match: { warninglist: { hit: true } }, observables: [{ kind: 'ipv4', value: '203.0.113.9' }], expect: false },
  { name: 'warninglist hit: false and no hit', match: { warninglist: { hit: false } }, observables: [{ kind: 'ipv4', value: '203.0.113.9' }], expect: true },
  { name: 'warninglist hit: false and a hit', match: { warninglist: { hit: false } }, observables: [{ kind: 'domain', value: 'www.example.com' }], expect: false },
  { name: 'warninglist lists by id', match: { warninglist: { hit: true, lists: ['resolvers'] } }, observables: [{ kind: 'ipv4', value: '192.0.2.44' }], expect: true },
  { name: 'warninglist lists by MISP name', match: { warninglist: { hit: true, lists: ['Test resolvers'] } }, observables: [{ kind: 'ipv4', value: '8.8.8.8' }], expect: true },
  { name: 'warninglist hit on another list only', match: { warninglist: { hit: true, lists: ['resolvers'] } }, observables: [{ kind: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e' }], expect: false },
  { name: 'warninglist any of several observables', match: { warninglist: { hit: true } }, observables: [{ kind: 'ipv4', value: '203.0.113.9' }, { kind: 'domain', value: 'cdn.evil.test' }], expect: true },
  { name: 'warninglist without observables', match: { warninglist: { hit: true } }, expect: false },

  // AND across matchers; empty match
  { name: 'all matchers must hold', match: { tlp: ['green'], type: ['indicator'], peer: { country: ['US'] } }, expect: false },
  { name: 'all matchers hold', match: { tlp: ['green'], type: ['indicator'], peer: { country: ['FR'] } }, expect: true },
  { name: 'empty match matches everything', match: {}, expect: true }
]

describe('policy rules: matcher semantics', () => {
  const lists = testLists()
  for (const c of CASES) {
    const direction = c.direction ?? 'outbound'
    it(`${direction} ${c.name} → ${c.expect ? 'match' : 'no match'}`, () => {
      const action = direction === 'outbound' ? 'withhold' : 'reject'
      const p = policy({ groups: GROUPS, rules: [{ id: 'r', direction, match: c.match, action }] }, lists)
      const s = subject(c.record, { observables: c.observables, scoTypes: c.scoTypes })
      const author = c.author === null ? undefined : c.author ?? byId.get(s.author)
      const now = c.now ?? NOW
      const d = direction === 'outbound'
        ? p.outbound(s, { self: M.de, peer: c.peer ?? M.fr, author, now, peerOnRoster: true })
        : p.inbound(s, { self: M.de, from: c.from ?? author ?? M.fr, author, now })
      assert.equal(d.rule, c.expect ? 'r' : `default:${direction}`, d.reason)
      assert.equal(d.verdict, c.expect ? action : direction === 'outbound' ? 'send' : 'accept')
      // explain must agree with the decision, check by check.
      const e = p.explain(s, { direction, self: M.de, now, author, peer: c.peer ?? M.fr, from: c.from ?? author ?? M.fr })
      assert.deepEqual(e.decision, d)
      assert.equal(e.rules[0].matched, c.expect)
    })
  }
})

describe('policy rules: order and defaults', () => {
  const peerCtx = { self: M.de, peer: M.us, author: M.fr, now: NOW, peerOnRoster: true }

  it('the first matching rule wins', () => {
    const p = policy({
      rules: [
        { id: 'first-miss', direction: 'outbound', match: { tlp: ['clear'] }, action: 'withhold' },
        { id: 'second', direction: 'outbound', match: { type: ['indicator'] }, action: 'send', reason: 'indicators go out' },
        { id: 'third', direction: 'outbound', match: {}, action: 'withhold' }
      ]
    })
    const d = p.outbound(subject(), peerCtx)
    assert.deepEqual({ ...d }, { verdict: 'send', rule: 'second', reason: 'indicators go out' })
  })

  it('a later rule decides when earlier ones miss', () => {
    const p = policy({
      defaults: { outbound: 'send' },
      rules: [
        { id: 'a', direction: 'outbound', match: { tlp: ['clear'] }, action: 'send' },
        { id: 'b', direction: 'outbound', match: { peer: { country: ['US'] } }, action: 'withhold' }
      ]
    })
    assert.equal(p.outbound(subject(), peerCtx).rule, 'b')
    assert.equal(p.outbound(subject(), { ...peerCtx, peer: M.fr }).rule, 'default:outbound')
  })

  for (const [inbound, outbound] of [['accept', 'send'], ['reject', 'withhold'], ['accept', 'withhold'], ['reject', 'send']] as const) {
    it(`defaults inbound ${inbound} / outbound ${outbound} apply per direction`, () => {
      const p = policy({
        defaults: { inbound, outbound },
        rules: [
          { id: 'out-only', direction: 'outbound', match: { tlp: ['red'] }, action: outbound === 'send' ? 'withhold' : 'send' },
          { id: 'in-only', direction: 'inbound', match: { tlp: ['red'] }, action: inbound === 'accept' ? 'reject' : 'accept' }
        ]
      })
      const out = p.outbound(subject(), peerCtx)
      assert.deepEqual([out.verdict, out.rule], [outbound, 'default:outbound'])
      const inb = p.inbound(subject(), { self: M.de, from: M.fr, author: M.fr, now: NOW })
      assert.deepEqual([inb.verdict, inb.rule], [inbound, 'default:inbound'])
    })
  }

  it('rules of the other direction are never consulted', () => {
    const p = policy({ rules: [{ id: 'in', direction: 'inbound', action: 'reject' }] })
    assert.equal(p.outbound(subject(), peerCtx).rule, 'default:outbound')
    assert.equal(p.inbound(subject(), { self: M.de, from: M.fr, author: M.fr, now: NOW }).rule, 'in')
  })

  it('a rule without reason gets one naming it', () => {
    const p = policy({ rules: [{ id: 'quiet', direction: 'outbound', action: 'withhold' }] })
    assert.match(p.outbound(subject(), peerCtx).reason, /quiet/)
  })

  it('defaultPolicy sends and accepts whatever the floor allows', () => {
    const p = defaultPolicy()
    assert.equal(p.outbound(subject(), peerCtx).verdict, 'send')
    assert.equal(p.outbound(subject({ tlp: 'red' }), peerCtx).rule, 'tlp-floor:red')
    assert.equal(p.inbound(subject(), { self: M.de, from: M.fr, author: M.fr, now: NOW }).verdict, 'accept')
  })
})

describe('policy rules: one subject, many decisions', () => {
  const p = policy({
    groups: GROUPS,
    rules: [
      { id: 'eu-only-personal', direction: 'outbound', match: { peer: { not_group: ['eu'] }, observables: { kinds: ['email-addr'] } }, action: 'withhold' },
      { id: 'contributor-authors', direction: 'outbound', match: { author: { role: ['contributor'] } }, action: 'withhold' },
      { id: 'fresh', direction: 'outbound', match: { age: { max: '1d' } }, action: 'send' },
      { id: 'stale-in', direction: 'inbound', match: { age: { min: '1d' } }, action: 'reject' }
    ],
    defaults: { outbound: 'withhold' }
  })

  it('decides per peer from one subject as it would from fresh subjects', () => {
    const extras = { scoTypes: ['email-addr'] }
    const shared = subject({}, extras)
    for (const peer of [M.fr, M.us, M.nlVendor, M.jp, M.fr, M.us]) {
      const ctx = { self: M.de, peer, author: M.fr, now: NOW, peerOnRoster: true }
      assert.deepEqual(p.outbound(shared, ctx), p.outbound(subject({}, extras), ctx))
    }
  })

  it('re-evaluates when the author entry or the clock changes', () => {
    const s = subject({ author: IDS.nlVendor })
    const ctx = { self: M.de, peer: M.fr, now: NOW, peerOnRoster: true }
    assert.equal(p.outbound(s, { ...ctx, author: M.nlVendor }).rule, 'contributor-authors')
    assert.equal(p.outbound(s, { ...ctx, author: undefined }).rule, 'fresh')
    assert.equal(p.outbound(s, { ...ctx, author: undefined, now: NOW + 2 * DAY }).rule, 'default:outbound')
    assert.equal(p.inbound(s, { self: M.de, from: M.nlVendor, author: M.nlVendor, now: NOW + 2 * DAY }).rule, 'stale-in')
    assert.equal(p.inbound(s, { self: M.de, from: M.nlVendor, author: M.nlVendor, now: NOW }).rule, 'default:inbound')
  })

  it('follows a member whose country or role changes (roster reload, or the entry edited in place)', () => {
    const ctx = { self: M.de, author: M.fr, now: NOW, peerOnRoster: true }
    const s = subject({}, { scoTypes: ['email-addr'] })
    const moving = { ...M.nlVendor }
    assert.equal(p.outbound(s, { ...ctx, peer: moving }).rule, 'fresh')
    moving.country = 'US'
    assert.equal(p.outbound(s, { ...ctx, peer: moving }).rule, 'eu-only-personal')
    assert.equal(p.outbound(s, { ...ctx, peer: { ...moving, country: 'NL' } }).rule, 'fresh')
  })

  it('the same subject under two policies', () => {
    const other = policy({ rules: [{ id: 'all', direction: 'outbound', action: 'withhold' }] })
    const s = subject()
    const ctx = { self: M.de, peer: M.fr, author: M.fr, now: NOW, peerOnRoster: true }
    assert.equal(p.outbound(s, ctx).rule, 'fresh')
    assert.equal(other.outbound(s, ctx).rule, 'all')
    assert.equal(p.outbound(s, ctx).rule, 'fresh')
  })

  it('inGroup answers from the policy groups', () => {
    assert.equal(p.inGroup(M.nlVendor, 'eu'), true)
    assert.equal(p.inGroup(M.us, 'eu'), false)
    assert.equal(p.inGroup(M.us, 'no-such-group'), false)
  })
})
