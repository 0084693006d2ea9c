import assert from 'node:assert/strict'
import { isDragnetError } from '../../../src/errors.js'
import { parsePolicyText } from '../../../src/policy/index.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'
import { analyzeStixObject, MAX_STIX_DEPTH, parsePattern } from '../../../src/stix/index.js'

/*
 * Depth before recursion (issue 10, item 7): every decoder and walker measures nesting before it
 * recurses, and answers with its own error code, never "Maximum call stack size exceeded".
 */

function nested (depth: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

function expectCode (fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDragnetError(err), `expected ${code}, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    assert.doesNotMatch(err.message, /call stack/i)
    if (message != null) assert.match(err.message, message)
    return true
  })
}

describe('depth limits: STIX objects and patterns', () => {
  it('STIX validation refuses an object nested deeper than it walks, before walking it', () => {
    expectCode(() => analyzeStixObject({ ...malware('deep'), x_deep: nested(20_000) }), 'DRAGNET_TOO_DEEP', /malware--.*nests deeper than 256 levels/)
    const ok = analyzeStixObject({ ...malware('fine'), x_nested: nested(MAX_STIX_DEPTH - 2) })
    assert.equal(ok.object.type, 'malware')
  })

  it('patterns: 12,000 stacked qualifiers and 5,000 parentheses are DRAGNET_BAD_PATTERN', () => {
    const base = "[ipv4-addr:value = '198.51.100.1']"
    expectCode(() => parsePattern(base + ' REPEATS 2 TIMES'.repeat(12_000)), 'DRAGNET_BAD_PATTERN', /nests deeper than 128 levels/)
    expectCode(() => parsePattern('('.repeat(5000) + base + ')'.repeat(5000)), 'DRAGNET_BAD_PATTERN', /deeper than 64 levels/)
    expectCode(() => parsePattern("[ipv4-addr:value = '1.2.3.4' AND " + '('.repeat(5000) + "ipv4-addr:value = '1.2.3.5'" + ')'.repeat(5000) + ']'), 'DRAGNET_BAD_PATTERN')
    // A quote inside a comment does not hide the brackets after it.
    expectCode(() => parsePattern("/* it's */ " + '('.repeat(5000) + base + ')'.repeat(5000)), 'DRAGNET_BAD_PATTERN')
    expectCode(() => analyzeStixObject({ ...indicator({ kind: 'ipv4', value: '198.51.100.1' }), pattern: base + ' WITHIN 5 SECONDS'.repeat(12_000) }), 'DRAGNET_BAD_PATTERN')
  })

  it('patterns: brackets in strings do not count; real nesting and qualifiers within the limits parse', () => {
    assert.equal(parsePattern(`[file:name = '${'('.repeat(500)}']`).kind, 'observation')
    assert.equal(parsePattern('('.repeat(30) + "[ipv4-addr:value = '198.51.100.1']" + ')'.repeat(30) + ' REPEATS 2 TIMES'.repeat(20)).kind, 'qualified')
  })
})

describe('depth limits: policy files', () => {
  it('a YAML alias bomb (billion laughs) is DRAGNET_BAD_POLICY, not a ReferenceError', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (const [prev, cur] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g'], ['g', 'h'], ['h', 'i']]) {
      lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`)
    }
    lines.push('name: bomb')
    expectCode(() => parsePolicyText(lines.join('\n') + '\n', 'bomb.yaml'), 'DRAGNET_BAD_POLICY', /^bomb\.yaml: YAML aliases expand too far/)
    // A few aliases are fine.
    assert.deepEqual(parsePolicyText('x: &t [green]\nname: ok\ny: *t\n', 'ok.yaml'), { x: ['green'], name: 'ok', y: ['green'] })
  })

  it('deep YAML flow collections and deep JSON are DRAGNET_BAD_POLICY before parsing recurses', () => {
    expectCode(() => parsePolicyText('name: deep\nrules: ' + '['.repeat(20_000) + ']'.repeat(20_000) + '\n', 'deep.yaml'), 'DRAGNET_BAD_POLICY', /^deep\.yaml: nests deeper than 64 levels/)
    expectCode(() => parsePolicyText('name: deep\nrules: ' + '{a: '.repeat(5000) + '1' + '}'.repeat(5000) + '\n', 'deep.yaml'), 'DRAGNET_BAD_POLICY', /nests deeper/)
    expectCode(() => parsePolicyText('{"name":"deep","rules":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}', 'deep.json'), 'DRAGNET_BAD_POLICY', /^deep\.json: nests deeper/)
    // Brackets inside quoted scalars are text, not nesting.
    assert.equal((parsePolicyText(`name: quoted\ndescription: "${'['.repeat(200)}"\n`, 'q.yaml') as { name: string }).name, 'quoted')
  })
})
