import assert from 'node:assert/strict'
import { parseIndicatorValue, refang } from '../../../src/import/index.js'
import { analyzeStixObject } from '../../../src/stix/index.js'
import { listIndicator } from '../../../src/import/iocs.js'

// Self-made values only (documentation ranges, example domains): no shared data needed.

describe('import: refanging', () => {
  const table: Array<[string, string]> = [
    ['hxxp://evil.example/x', 'http://evil.example/x'],
    ['hxxps://evil.example/x', 'https://evil.example/x'],
    ['hXXps://evil.example/x', 'https://evil.example/x'],
    ['hxxp[:]//evil.example/x', 'http://evil.example/x'],
    ['http[://]evil.example', 'http://evil.example'],
    ['fxxp://files.example/a', 'ftp://files.example/a'],
    ['evil[.]example', 'evil.example'],
    ['evil(.)example', 'evil.example'],
    ['evil{.}example', 'evil.example'],
    ['evil[dot]example', 'evil.example'],
    ['evil(DOT)example', 'evil.example'],
    ['192.0.2[.]1', '192.0.2.1'],
    ['192[.]0[.]2[.]1', '192.0.2.1'],
    ['user[@]evil.example', 'user@evil.example'],
    ['user(@)evil.example', 'user@evil.example'],
    ['user[at]evil[.]example', 'user@evil.example'],
    ['evil.example[/]path', 'evil.example/path'],
    ['  evil.example  ', 'evil.example'],
    // Not defanged: left alone (a domain that merely starts with "hxxp" is no scheme).
    ['hxxpsomething.example', 'hxxpsomething.example'],
    ['[2001:db8::1]:443', '[2001:db8::1]:443']
  ]
  for (const [input, expected] of table) {
    it(`${input} → ${expected}`, () => { assert.equal(refang(input), expected) })
  }
})

describe('import: one value from an indicator list', () => {
  const ok = (raw: string, kind: string, value: string): void => {
    const r = parseIndicatorValue(raw)
    assert.ok(r.ok, `${raw} should be recognised, got ${JSON.stringify(r)}`)
    assert.deepEqual(r.observable, { kind, value }, raw)
  }
  const skip = (raw: string, reason: string): void => {
    const r = parseIndicatorValue(raw)
    assert.ok(!r.ok, `${raw} should be skipped, got ${JSON.stringify(r)}`)
    assert.equal(r.reason, reason, raw)
  }

  it('recognises IPv4, IPv6 and CIDR blocks (canonical forms)', () => {
    ok('192.0.2.1', 'ipv4', '192.0.2.1')
    ok('2001:DB8:0:0::1', 'ipv6', '2001:db8::1')
    ok('198.51.100.0/24', 'ipv4-cidr', '198.51.100.0/24')
    ok('198.51.100.7/24', 'ipv4-cidr', '198.51.100.0/24')
    ok('2001:db8::/32', 'ipv6-cidr', '2001:db8::/32')
    ok('192.0.2.1/32', 'ipv4', '192.0.2.1')
  })

  it('drops a trailing port: the host is the indicator', () => {
    ok('192.0.2.1:8080', 'ipv4', '192.0.2.1')
    ok('[2001:db8::1]:443', 'ipv6', '2001:db8::1')
    ok('c2.example.com:443', 'domain', 'c2.example.com')
    ok('192.0.2[.]1:443', 'ipv4', '192.0.2.1')
    skip('c2.example.com:99999', 'unrecognised')
    skip('c2.example.com:http', 'unrecognised')
  })

  it('reads a host with a path as a URL without its scheme', () => {
    ok('evil.example/wp-admin/x.php', 'url', 'http://evil.example/wp-admin/x.php')
    ok('192.0.2.1:8080/gate.php?id=1', 'url', 'http://192.0.2.1:8080/gate.php?id=1')
    ok('Evil.Example/Path', 'url', 'http://evil.example/Path')
    ok('evil.example/', 'domain', 'evil.example')
  })

  it('recognises URLs, refanged', () => {
    ok('hxxp://evil[.]example/a', 'url', 'http://evil.example/a')
    ok('hxxps://192.0.2[.]1:8443/b', 'url', 'https://192.0.2.1:8443/b')
    ok('HTTP://EVIL.EXAMPLE/A', 'url', 'http://evil.example/A')
  })

  it('recognises domains, hashes and email addresses', () => {
    ok('Evil.Example.', 'domain', 'evil.example')
    ok('abcdef0123456789abcdef0123456789', 'md5', 'abcdef0123456789abcdef0123456789')
    ok('ABCDEF0123456789ABCDEF0123456789ABCDEF01', 'sha1', 'abcdef0123456789abcdef0123456789abcdef01')
    ok('a'.repeat(64), 'sha256', 'a'.repeat(64))
    ok('phish[@]evil[.]example', 'email', 'phish@evil.example')
  })

  it('skips bare paths and what is no indicator, with the reason', () => {
    skip('/wp-content/x.php', 'no-host')
    skip('//////atom.xml', 'no-host')
    skip('not a value', 'unrecognised')
    skip('localhost', 'unrecognised')
    skip('abc123', 'unrecognised')
    skip('', 'unrecognised')
  })

  it('makes indicators the node accepts, with ids derived from kind and value', () => {
    const values = ['192.0.2.1', '2001:db8::1', '198.51.100.0/24', 'evil.example', 'http://evil.example/a\'b', 'a@evil.example', 'a'.repeat(32), 'b'.repeat(40), 'c'.repeat(64)]
    for (const v of values) {
      const r = parseIndicatorValue(v)
      assert.ok(r.ok)
      const ind = listIndicator(r.observable, '2026-01-01T00:00:00.000Z')
      const a = analyzeStixObject(ind)
      assert.deepEqual(a.observables, [r.observable], `the indicator for ${v} names exactly its value`)
      assert.equal(ind.id, listIndicator(r.observable, '2027-01-01T00:00:00.000Z').id, 'the id does not depend on the time')
    }
  })
})
