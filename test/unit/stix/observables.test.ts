import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  analyzeStixObject, classifyValue, extractObservables, normalizeObservable, referencedScoTypes,
  type Observable, type ObservableKind, type StixObject
} from '../../../src/stix/index.js'
import { T0, indicator, sco, sdo, uuid } from './fixtures.js'

const MD5 = 'd41d8cd98f00b204e9800998ecf8427e'
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

const NORMALIZE: Array<[ObservableKind, string, string | null]> = [
  ['ipv4', ' 198.51.100.7 ', '198.51.100.7'],
  ['ipv4', '198.51.100.7/32', '198.51.100.7'],
  ['ipv4', '198.51.100.0/24', null],
  ['ipv4', '198.51.100.256', null],
  ['ipv4', '2001:db8::1', null],
  ['ipv4-cidr', '198.51.100.77/24', '198.51.100.0/24'],
  ['ipv4-cidr', '198.51.100.7', null],
  ['ipv4-cidr', '0.0.0.0/0', '0.0.0.0/0'],
  ['ipv6', '2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
  ['ipv6', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['ipv6', 'fe80::1%eth0', 'fe80::1'],
  ['ipv6', '2001:db8::/32', null],
  ['ipv6-cidr', '2001:db8:1:2::/32', '2001:db8::/32'],
  ['domain', 'Example.COM.', 'example.com'],
  ['domain', ' www.example.com ', 'www.example.com'],
  ['domain', '_dmarc.example.com', '_dmarc.example.com'],
  ['domain', 'BÜCHER.example', 'bücher.example'],
  ['domain', 'xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ['domain', 'localhost', null],
  ['domain', 'a..example', null],
  ['domain', 'exa mple.com', null],
  ['domain', 'example.com/path', null],
  ['domain', '198.51.100.7', null],
  ['domain', `${'a'.repeat(64)}.example`, null],
  ['url', ' HTTP://Example.COM/Path?Q=A#Frag ', 'http://example.com/Path?Q=A#Frag'],
  ['url', 'https://User:Pw@Example.com:8443/x', 'https://User:Pw@example.com:8443/x'],
  ['url', 'http://[2001:DB8::1]:80/', 'http://[2001:db8::1]:80/'],
  ['url', 'http://Example.com', 'http://example.com'],
  ['url', 'example.com/path', null],
  ['url', 'http:///path', null],
  ['url', 'http://exa mple.com/', null],
  ['url', 'http://example.com:port/', null],
  ['email', ' John.Doe@Example.COM ', 'john.doe@example.com'],
  ['email', 'a+tag@sub.example.org.', 'a+tag@sub.example.org'],
  ['email', 'nobody', null],
  ['email', 'a@localhost', null],
  ['email', 'a b@example.com', null],
  ['email', '@example.com', null],
  ['md5', MD5.toUpperCase(), MD5],
  ['md5', ` ${MD5} `, MD5],
  ['md5', MD5.slice(1), null],
  ['sha1', SHA1, SHA1],
  ['sha1', MD5, null],
  ['sha256', SHA256.toUpperCase(), SHA256],
  ['sha256', 'g'.repeat(64), null]
]

const CLASSIFY: Array<[string, Observable | null]> = [
  ['198.51.100.7', { kind: 'ipv4', value: '198.51.100.7' }],
  [' 198.51.100.7/32 ', { kind: 'ipv4', value: '198.51.100.7' }],
  ['198.51.100.9/24', { kind: 'ipv4-cidr', value: '198.51.100.0/24' }],
  ['2001:DB8::0:1', { kind: 'ipv6', value: '2001:db8::1' }],
  ['2001:db8::/32', { kind: 'ipv6-cidr', value: '2001:db8::/32' }],
  [MD5.toUpperCase(), { kind: 'md5', value: MD5 }],
  [SHA1, { kind: 'sha1', value: SHA1 }],
  [SHA256, { kind: 'sha256', value: SHA256 }],
  ['deadbeef', null],
  ['cafe.be', { kind: 'domain', value: 'cafe.be' }],
  ['https://Evil.Example.com/a?b', { kind: 'url', value: 'https://evil.example.com/a?b' }],
  ['Phish@Example.com', { kind: 'email', value: 'phish@example.com' }],
  ['Evil.Example.com.', { kind: 'domain', value: 'evil.example.com' }],
  ['', null],
  ['   ', null],
  ['not a value', null],
  ['example', null],
  ['hxxp://evil[.]example', null],
  ['198.51.100.7:8080', null]
]

function ind (pattern: string, props: Record<string, unknown> = {}): StixObject {
  return indicator(pattern, props) as StixObject
}

const EXTRACT: Array<[string, string, Observable[]]> = [
  ['an IPv4 equality', "[ipv4-addr:value = '198.51.100.7']", [{ kind: 'ipv4', value: '198.51.100.7' }]],
  ['duplicates once', "[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value = '198.51.100.7'] OR [ipv4-addr:value = '198.51.100.7/32']", [{ kind: 'ipv4', value: '198.51.100.7' }]],
  ['a CIDR value, host bits cleared', "[ipv4-addr:value = '198.51.100.77/24']", [{ kind: 'ipv4-cidr', value: '198.51.100.0/24' }]],
  ['ISSUBSET on a network', "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", [{ kind: 'ipv4-cidr', value: '198.51.100.0/24' }]],
  ['ISSUBSET on an IPv6 network', "[ipv6-addr:value ISSUBSET '2001:db8:0:0::/64']", [{ kind: 'ipv6-cidr', value: '2001:db8::/64' }]],
  ['IPv6 compressed', "[ipv6-addr:value = '2001:0db8:0000:0000:0000:ff00:0042:8329']", [{ kind: 'ipv6', value: '2001:db8::ff00:42:8329' }]],
  ['an IN list, skipping what is not a domain', "[domain-name:value IN ('a.example.com', 'B.Example.com', 'not a domain', 7)]", [
    { kind: 'domain', value: 'a.example.com' }, { kind: 'domain', value: 'b.example.com' }
  ]],
  ['url and email', "[url:value = 'HTTP://Example.com/x'] AND [email-addr:value = 'Bad@Example.com']", [
    { kind: 'url', value: 'http://example.com/x' }, { kind: 'email', value: 'bad@example.com' }
  ]],
  ['hashes with quoted and bare names', `[file:hashes.'SHA-256' = '${SHA256.toUpperCase()}' OR file:hashes.MD5 = '${MD5}' OR file:hashes.'SHA-1' = '${SHA1}']`, [
    { kind: 'sha256', value: SHA256 }, { kind: 'md5', value: MD5 }, { kind: 'sha1', value: SHA1 }
  ]],
  ['hash names in other spellings', `[file:hashes.md5 = '${MD5}' OR file:hashes.SHA1 = '${SHA1}' OR file:hashes.SHA256 = '${SHA256}']`, [
    { kind: 'md5', value: MD5 }, { kind: 'sha1', value: SHA1 }, { kind: 'sha256', value: SHA256 }
  ]],
  ['hashes of other algorithms and objects are not file observables', `[file:hashes.'SHA-512' = '${SHA256}${SHA256}' OR x509-certificate:hashes.'SHA-256' = '${SHA256}']`, []],
  ['a hash of the wrong length', "[file:hashes.MD5 = 'abc']", []],
  ['artifact hashes', `[artifact:hashes.'SHA-256' = '${SHA256}']`, [{ kind: 'sha256', value: SHA256 }]],
  ['hashes through a reference', `[process:image_ref.hashes.MD5 = '${MD5}' OR email-message:body_multipart[*].body_raw_ref.hashes.'SHA-256' = '${SHA256}']`, [
    { kind: 'md5', value: MD5 }, { kind: 'sha256', value: SHA256 }
  ]],
  ['values through references', "[network-traffic:dst_ref.value = '198.51.100.9' AND network-traffic:src_ref.value = 'c2.example.com'] AND [email-message:from_ref.value = 'Boss@Example.com']", [
    { kind: 'ipv4', value: '198.51.100.9' }, { kind: 'domain', value: 'c2.example.com' }, { kind: 'email', value: 'boss@example.com' }
  ]],
  ['a reference list', "[email-message:to_refs[*].value IN ('a@example.com', 'b@example.com')]", [
    { kind: 'email', value: 'a@example.com' }, { kind: 'email', value: 'b@example.com' }
  ]],
  ['!= is ignored', "[ipv4-addr:value != '198.51.100.1']", []],
  ['NOT = is ignored', "[ipv4-addr:value NOT = '198.51.100.1']", []],
  ['NOT IN is ignored', "[domain-name:value NOT IN ('a.example.com')]", []],
  ['NOT ISSUBSET is ignored', "[ipv4-addr:value NOT ISSUBSET '198.51.100.0/24']", []],
  ['negation through a reference is ignored', "[network-traffic:dst_ref.value != '198.51.100.9']", []],
  ['negation ignored, the rest kept', "[ipv4-addr:value = '198.51.100.1' AND ipv4-addr:value != '198.51.100.2']", [{ kind: 'ipv4', value: '198.51.100.1' }]],
  ['LIKE, MATCHES and ordering assert nothing', "[domain-name:value LIKE '%.example.com' OR url:value MATCHES '^http' OR ipv4-addr:value > '198.51.100.1']", []],
  ['ISSUBSET on a domain asserts nothing', "[domain-name:value ISSUBSET 'example.com']", []],
  ['other properties assert nothing', "[file:name = 'evil.exe' AND domain-name:resolves_to_refs[*].type = 'ipv4-addr']", []],
  ['qualified and nested observations', "([ipv4-addr:value = '198.51.100.1'] REPEATS 2 TIMES) FOLLOWEDBY [url:value = 'https://example.com/'] WITHIN 60 SECONDS", [
    { kind: 'ipv4', value: '198.51.100.1' }, { kind: 'url', value: 'https://example.com/' }
  ]]
]

describe('observables', () => {
  describe('normalizeObservable', () => {
    for (const [kind, raw, want] of NORMALIZE) {
      it(`${kind} ${JSON.stringify(raw)} → ${want}`, () => assert.equal(normalizeObservable(kind, raw), want))
    }
  })

  describe('classifyValue', () => {
    for (const [raw, want] of CLASSIFY) {
      it(`${JSON.stringify(raw)} → ${want == null ? null : `${want.kind} ${want.value}`}`, () => assert.deepEqual(classifyValue(raw), want))
    }
  })

  describe('extractObservables from indicator patterns', () => {
    for (const [label, pattern, want] of EXTRACT) {
      it(label, () => assert.deepEqual(extractObservables(ind(pattern)), want))
    }

    it('does not parse patterns of other languages', () => {
      assert.deepEqual(extractObservables(ind("alert ip 198.51.100.1 any -> any any (msg:\"x\";)", { pattern_type: 'snort' })), [])
    })
  })

  describe('extractObservables from SCOs and observed-data', () => {
    it('reads the value of address, domain, url and email SCOs', () => {
      assert.deepEqual(extractObservables(sco('ipv4-addr', { value: '198.51.100.0/24' }) as StixObject), [{ kind: 'ipv4-cidr', value: '198.51.100.0/24' }])
      assert.deepEqual(extractObservables(sco('ipv6-addr', { value: '2001:0db8::0001' }) as StixObject), [{ kind: 'ipv6', value: '2001:db8::1' }])
      assert.deepEqual(extractObservables(sco('domain-name', { value: 'Example.com' }) as StixObject), [{ kind: 'domain', value: 'example.com' }])
      assert.deepEqual(extractObservables(sco('url', { value: 'https://example.com/a' }) as StixObject), [{ kind: 'url', value: 'https://example.com/a' }])
      assert.deepEqual(extractObservables(sco('email-addr', { value: 'John@Example.com' }) as StixObject), [{ kind: 'email', value: 'john@example.com' }])
      assert.deepEqual(extractObservables(sco('mac-addr', { value: 'd2:fb:49:24:37:18' }) as StixObject), [])
    })

    it('reads the known hashes of a file, ignoring others', () => {
      const file = sco('file', { name: 'x', hashes: { MD5: MD5.toUpperCase(), 'SHA-1': SHA1, 'SHA-256': SHA256, 'SHA-512': 'ab'.repeat(64), SSDEEP: '3:a:b' } })
      assert.deepEqual(extractObservables(file as StixObject), [{ kind: 'md5', value: MD5 }, { kind: 'sha1', value: SHA1 }, { kind: 'sha256', value: SHA256 }])
    })

    it('reads the deprecated embedded objects of observed-data', () => {
      const od = sdo('observed-data', {
        first_observed: T0,
        last_observed: T0,
        number_observed: 1,
        objects: {
          0: { type: 'ipv4-addr', value: '198.51.100.3' },
          1: { type: 'domain-name', value: 'Example.com', resolves_to_refs: ['0'] },
          2: { type: 'network-traffic', dst_ref: '0', protocols: ['tcp'] },
          3: { type: 'file', hashes: { 'SHA-256': SHA256 } }
        }
      })
      assert.deepEqual(extractObservables(od as StixObject), [
        { kind: 'ipv4', value: '198.51.100.3' }, { kind: 'domain', value: 'example.com' }, { kind: 'sha256', value: SHA256 }
      ])
      assert.deepEqual(referencedScoTypes(od as StixObject), ['ipv4-addr', 'domain-name', 'network-traffic', 'file'])
    })

    it('finds nothing in SDOs without observables', () => {
      assert.deepEqual(extractObservables(sdo('malware', { is_family: true, name: 'x' }) as StixObject), [])
      assert.deepEqual(referencedScoTypes(sdo('malware', { is_family: true, name: 'x' }) as StixObject), [])
    })
  })

  describe('referencedScoTypes', () => {
    const table: Array<[string, string, string[]]> = [
      ['the object types in a pattern', "[user-account:account_login = 'jdoe'] AND [x-acme-sensor:armed = true]", ['user-account', 'x-acme-sensor']],
      ['types reached through fixed references', "[email-message:from_ref.value = 'a@example.com' AND email-message:subject = 'x']", ['email-message', 'email-addr']],
      ['user accounts behind references', "[process:creator_user_ref.account_login = 'root']", ['process', 'user-account']],
      ['two hops', "[email-message:from_ref.belongs_to_ref.account_login = 'jdoe']", ['email-message', 'email-addr', 'user-account']],
      ['ambiguous references resolved by the value', "[network-traffic:dst_ref.value = '198.51.100.1' OR network-traffic:src_ref.value = 'jdoe@example.com']", ['network-traffic', 'ipv4-addr', 'email-addr']],
      ['negated comparisons still name their types', "[email-addr:value != 'jdoe@example.com']", ['email-addr']]
    ]
    for (const [label, pattern, want] of table) {
      it(label, () => assert.deepEqual(referencedScoTypes(ind(pattern)), want))
    }

    it('names an SCO by its own type', () => {
      assert.deepEqual(referencedScoTypes(sco('user-account', { account_login: 'jdoe' }) as StixObject), ['user-account'])
    })

    it('names the SCO types observed-data refers to', () => {
      const od = sdo('observed-data', {
        first_observed: T0, last_observed: T0, number_observed: 1, object_refs: [`email-addr--${uuid()}`, `user-account--${uuid()}`, `relationship--${uuid()}`]
      })
      assert.deepEqual(referencedScoTypes(od as StixObject), ['email-addr', 'user-account'])
    })
  })

  describe('analyzeStixObject', () => {
    it('validates, extracts and names types in one pass, returning the pattern tree', () => {
      const obj = ind("[email-message:from_ref.value = 'Boss@Example.com'] AND [ipv4-addr:value = '198.51.100.1']")
      const a = analyzeStixObject(obj)
      assert.equal(a.object, obj)
      assert.deepEqual(a.observables, extractObservables(obj))
      assert.deepEqual(a.scoTypes, ['email-message', 'email-addr', 'ipv4-addr'])
      assert.equal(a.pattern?.kind, 'and')
    })

    it('has no pattern for other objects', () => {
      const a = analyzeStixObject(sco('domain-name', { value: 'example.com' }))
      assert.equal(a.pattern, undefined)
      assert.deepEqual(a.scoTypes, ['domain-name'])
    })
  })

  describe('properties', () => {
    const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: n, maxLength: n })
    const values = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
      fc.domain().chain(d => fc.mixedCase(fc.constant(d))),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.emailAddress(),
      hex(32), hex(40), hex(64),
      fc.string()
    )
    const KINDS: ObservableKind[] = ['ipv4', 'ipv6', 'ipv4-cidr', 'ipv6-cidr', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256']

    it('normalizeObservable is idempotent', () => {
      fc.assert(fc.property(fc.constantFrom(...KINDS), values, (kind, raw) => {
        const once = normalizeObservable(kind, raw)
        return once == null || normalizeObservable(kind, once) === once
      }), { numRuns: 2000 })
    })

    it('classifyValue returns canonical values that classify to themselves', () => {
      fc.assert(fc.property(values, raw => {
        const o = classifyValue(raw)
        if (o == null) return true
        assert.equal(normalizeObservable(o.kind, o.value), o.value)
        assert.deepEqual(classifyValue(o.value), o)
        return true
      }), { numRuns: 2000 })
    })

    it('recognises every generated IP address and hash', () => {
      fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), ip => classifyValue(ip)?.kind === (ip.includes(':') ? 'ipv6' : 'ipv4')))
      fc.assert(fc.property(fc.constantFrom(32, 40, 64), n => fc.sample(hex(n), 1).every(h => classifyValue(h)?.value === h.toLowerCase())))
    })

    it('extracts what a generated equality pattern asserts', () => {
      fc.assert(fc.property(fc.ipV4(), fc.domain(), (ip, domain) => {
        const got = extractObservables(ind(`[ipv4-addr:value = '${ip}' OR domain-name:value = '${domain}']`))
        return got.length === 2 && got[0].kind === 'ipv4' && got[1].value === normalizeObservable('domain', domain)
      }))
    })
  })
})
