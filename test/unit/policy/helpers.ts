import type { Tlp } from '../../../src/record/index.js'
import type { Observable, StixObject } from '../../../src/stix/types.js'
import { compilePolicy, policySubject, WarninglistSet, type Member, type Policy, type PolicySubject } from '../../../src/policy/index.js'

// Real Ed25519 PeerIds (from fixed seeds), so fixtures pass the same checks as a roster.
export const IDS = {
  de: '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5',
  fr: '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq',
  us: '12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba',
  nlVendor: '12D3KooWPT98FXMfDQYavZm66EeVjTqP9Nnehn1gyaydqV8L8BQw',
  usVendor: '12D3KooWHFd1gyNYFqxt7ke9FY2VoVVWY2XSPhvL9vg2pB6wQGfa',
  beObserver: '12D3KooWK98A5qKRAA9qZccvoJLvcLu68PCFZLNfdd81iQLvHj6W',
  stranger: '12D3KooWRawPbxPtP1eZaJpumGnyWX2DcUyd3RQnydr3eAto4Az7',
  jp: '12D3KooWB8sCGZCrwr79HtabLAn95qyPQx6RYHXjEbiD6QKou7ww'
} as const

export const M = {
  de: { peerId: IDS.de, name: 'BKA', country: 'DE', role: 'bureau' },
  fr: { peerId: IDS.fr, name: 'OCLCTIC', country: 'FR', role: 'bureau' },
  us: { peerId: IDS.us, name: 'FBI', country: 'US', role: 'bureau' },
  nlVendor: { peerId: IDS.nlVendor, name: 'NL vendor', country: 'NL', role: 'contributor' },
  usVendor: { peerId: IDS.usVendor, name: 'US vendor', country: 'US', role: 'contributor' },
  beObserver: { peerId: IDS.beObserver, name: 'BE ministry', country: 'BE', role: 'observer' },
  stranger: { peerId: IDS.stranger, name: 'not on the roster', country: 'XX', role: 'bureau' },
  jp: { peerId: IDS.jp, name: 'NPA', country: 'jp', role: 'bureau' }
} satisfies Record<string, Member>

/** A fixed "now": 2025-06-01T00:00:00Z. */
export const NOW = Date.UTC(2025, 5, 1)
export const HOUR = 3_600_000
export const DAY = 24 * HOUR

export interface RecordOverrides {
  id?: string
  author?: string
  seq?: number
  ts?: number
  tlp?: Tlp
  to?: string[]
  body?: Partial<StixObject>
}

export function indicator (over: Partial<StixObject> = {}): StixObject {
  return {
    type: 'indicator',
    id: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f',
    spec_version: '2.1',
    created: '2025-05-01T00:00:00.000Z',
    modified: '2025-05-01T00:00:00.000Z',
    pattern: "[ipv4-addr:value = '203.0.113.7']",
    pattern_type: 'stix',
    valid_from: '2025-05-01T00:00:00Z',
    ...over
  }
}

export function subject (over: RecordOverrides = {}, extras: { observables?: Observable[], scoTypes?: string[] } = {}): PolicySubject {
  const body = over.body?.type != null && over.body.type !== 'indicator'
    ? { id: `${over.body.type}--00000000-0000-4000-8000-000000000000`, ...over.body } as StixObject
    : indicator(over.body)
  return policySubject({
    id: over.id ?? '1220' + 'ab'.repeat(32),
    author: over.author ?? IDS.fr,
    seq: over.seq ?? 1,
    ts: over.ts ?? NOW - HOUR,
    tlp: over.tlp ?? 'green',
    to: over.to,
    body
  }, extras)
}

/** Inline MISP-format lists used by the core tests (written for the tests, not copied). */
export const LISTS = {
  resolvers: { name: 'Test resolvers', version: 1, type: 'cidr', matching_attributes: ['ip-src', 'ip-dst', 'domain|ip'], list: ['8.8.8.8', '2001:4860:4860::8888', '192.0.2.0/24'] },
  top: { name: 'Test top sites', version: 1, type: 'hostname', matching_attributes: ['hostname', 'domain', 'url'], list: ['.example.com', 'example.org.', 'Shop.Example.NET'] },
  hashes: { name: 'Test empty hashes', version: 1, type: 'string', matching_attributes: ['md5', 'sha256'], list: ['D41D8CD98F00B204E9800998ECF8427E'] },
  tlds: { name: 'Test TLDs', version: 1, type: 'string', matching_attributes: ['hostname', 'domain'], list: ['COM', 'ORG'] },
  cdn: { name: 'Test CDN substrings', version: 1, type: 'substring', matching_attributes: ['url', 'domain'], list: ['cdn.', 'static-assets', 'akamai'] },
  sinkhole: { name: 'Test sinkhole regex', version: 1, type: 'regex', matching_attributes: ['domain'], list: ['/^sinkhole\\d*\\./i', 'honeypot$'] }
} as const

export function testLists (...names: Array<keyof typeof LISTS>): WarninglistSet {
  const pick = names.length > 0 ? names : Object.keys(LISTS) as Array<keyof typeof LISTS>
  return new WarninglistSet(pick.map(id => ({ id, doc: LISTS[id] })))
}

export function policy (doc: Record<string, unknown>, lists?: WarninglistSet): Policy {
  return compilePolicy({ name: 'test', ...doc }, '.', lists != null ? { warninglists: lists } : {})
}
