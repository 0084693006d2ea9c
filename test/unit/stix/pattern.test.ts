import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parsePattern, type Comparison, type PatternAst } from '../../../src/stix/index.js'
import { parse as peggyParse } from '../../../src/stix/pattern-parser.js'
import { outcome } from './fixtures.js'

// Patterns in the style of the STIX 2.1 specification's examples (section 9.9 and the property
// descriptions), with documentation addresses and names.
const VALID = [
  "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
  "[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4']",
  "[file:hashes.md5 = '79054025255fb1a26e4bc422aef54eb4']",
  "[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128']",
  "[domain-name:value = 'www.example.com' OR url:value = 'http://www.example.com/download']",
  "[email-message:from_ref.value = 'mary@example.com'] AND [email-message:to_refs[*].value = 'bob@example.com']",
  "[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']",
  "[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
  "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']",
  "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS",
  "[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar'] WITHIN 300 SECONDS",
  "[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul']",
  "[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\\\xd4\\\\xc3\\\\xb2\\\\xa1\\\\x02\\\\x00\\\\x04\\\\x00']",
  "[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\\\Windows\\\\System32']",
  "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
  "[file:mime_type = 'application/x-pdf' AND file:extensions.'pdf-ext'.version <= '1.4']",
  "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\System\\\\Foo' AND windows-registry-key:values[*].name = 'Bar']",
  "[windows-registry-key:values[*].data = 'qwerty']",
  "[x509-certificate:issuer = 'CN=Example CA' AND x509-certificate:serial_number = '36:f7:d4:32']",
  "[process:image_ref.name = 'cmd.exe'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
  "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
  "[ipv4-addr:value NOT ISSUPERSET '198.51.100.0/24']",
  "[file:size IN (1024, 2048, 4096)]",
  "[file:name NOT IN ('a.exe', 'b.exe')]",
  "[file:created < t'2014-01-13T07:03:17Z']",
  "[file:created >= t'2014-01-13T07:03:17.123456Z']",
  "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']",
  "[artifact:payload_bin = b'YWI=' OR artifact:payload_bin = b'YWJj']",
  "[file:magic_number_hex = h'ffd8']",
  "[EXISTS windows-registry-key:values]",
  "[process:pid NOT = 4]",
  "[process:pid != 4 AND process:pid <> 5 AND process:pid == 6]",
  "[x-acme-sensor:armed = true AND x-acme-sensor:broken = false]",
  "[x-foo:bar = 'baz']",
  "[file:name LIKE '%.exe']",
  "[file:name = 'it\\'s']",
  "[a:b[0] = 1]",
  "[a:b[-1] = -1]",
  "[a:b = +1.5 AND a:c = -.5 AND a:d = 0]",
  "[a:'quoted name' = 1]",
  "[(file:name = 'a' OR file:name = 'b') AND file:size > 0]",
  "([a:b = 1] OR [c:d = 2]) FOLLOWEDBY [e:f = 3]",
  "[a:b = 1] REPEATS 2 TIMES WITHIN 2.5 SECONDS",
  "  [ ipv4-addr:value = '198.51.100.1' ]  ",
  "[ipv4-addr:value = '198.51.100.1'] /* a comment */ OR // another\n [ipv4-addr:value = '198.51.100.2']",
  "[a:b IN ()]",
  "[a:b IN (t'2016-01-01T00:00:00Z', h'00', b'AAAA', true, 'x')]"
]

const INVALID: Array<[string, string]> = [
  ['empty', ''],
  ['blank', '   '],
  ['unclosed bracket', "[file:name = 'x'"],
  ['unopened bracket', "file:name = 'x']"],
  ['extra bracket', "[file:name = 'x']]"],
  ['nested brackets', "[[file:name = 'x']]"],
  ['unclosed parenthesis', "([file:name = 'x']"],
  ['unbalanced parentheses in comparison', "[(file:name = 'x']"],
  ['bad operator', "[file:name ~= 'x']"],
  ['triple equals', "[file:name === 'x']"],
  ['unquoted string', '[file:name = x]'],
  ['double-quoted string', '[file:name = "x"]'],
  ['unterminated string', "[file:name = 'x]"],
  ['missing object path', "[= 'x']"],
  ['missing property', "[file = 'x']"],
  ['empty property', "[file: = 'x']"],
  ['missing object type', "[:name = 'x']"],
  ['hyphen in property name', "[file:some-prop = 'x']"],
  ['LIKE with a number', '[file:name LIKE 5]'],
  ['IN without parentheses', "[file:name IN 'x']"],
  ['IN with trailing comma', "[file:name IN ('a',)]"],
  ['dangling AND', "[file:name = 'x'] AND"],
  ['dangling comparison AND', "[file:name = 'x' AND]"],
  ['doubled OR', "[a:b = 1] OR OR [a:b = 2]"],
  ['empty observation', '[]'],
  ['EXISTS without path', '[EXISTS]'],
  ['NOT NOT', "[file:name NOT NOT = 'x']"],
  ['WITHIN without SECONDS', "[file:name = 'x'] WITHIN 5"],
  ['WITHIN zero', "[file:name = 'x'] WITHIN 0 SECONDS"],
  ['REPEATS a fraction', "[file:name = 'x'] REPEATS 1.5 TIMES"],
  ['START/STOP with plain strings', "[file:name = 'x'] START '2016-01-01T00:00:00Z' STOP '2016-01-02T00:00:00Z'"],
  ['STOP before START', "[file:name = 'x'] START t'2016-01-02T00:00:00Z' STOP t'2016-01-01T00:00:00Z'"],
  ['no such date', "[file:created = t'2016-02-30T00:00:00Z']"],
  ['timestamp without T and Z', "[file:created = t'2016-01-01 00:00:00']"],
  ['unknown escape', "[file:name = 'a\\b']"],
  ['odd hex digits', "[file:magic_number_hex = h'abc']"],
  ['unpadded base64', "[artifact:payload_bin = b'abc']"],
  ['empty binary literal', "[artifact:payload_bin = b'']"],
  ['lower-case keyword', "[file:name = 'x' and file:size = 1]"],
  ['lower-case FOLLOWEDBY', "[a:b = 1] followedby [a:b = 2]"],
  ['upper-case boolean', '[a:b = TRUE]'],
  ['leading zero', '[a:b = 01]'],
  ['ordering a boolean', '[a:b > true]'],
  ['unclosed comment', "[a:b = 1] /* never closed"],
  ['NOT before the path', "[NOT file:name = 'x']"]
]

function comparisons (ast: PatternAst): Comparison[] {
  const out: Comparison[] = []
  const walkC = (e: any): void => { if (e.kind === 'comparison') out.push(e); else for (const o of e.operands) walkC(o) }
  const walk = (e: any): void => {
    if (e.kind === 'observation') walkC(e.expression)
    else if (e.kind === 'qualified') walk(e.expression)
    else for (const o of e.operands) walk(o)
  }
  walk(ast)
  return out
}

describe('STIX pattern grammar', () => {
  describe('parses', () => {
    for (const p of VALID) it(p.replace(/\n/g, '\\n'), () => { parsePattern(p) })
  })

  describe('rejects with DRAGNET_BAD_PATTERN and a location', () => {
    for (const [label, p] of INVALID) {
      it(`${label}: ${p}`, () => {
        const got = outcome(() => parsePattern(p, 'indicator--test'))
        assert.equal(got.code, 'DRAGNET_BAD_PATTERN')
        assert.equal(got.object, 'indicator--test')
        assert.equal(got.property, 'pattern')
        assert.match(got.message!, /line \d+, column \d+/)
      })
    }
  })

  it('builds a typed tree with STIX precedence: FOLLOWEDBY < OR < AND', () => {
    const ast = parsePattern("[a:b = 1] FOLLOWEDBY [c:d = 2] OR [e:f = 3] AND [g:h = 4]")
    assert.equal(ast.kind, 'followedby')
    if (ast.kind !== 'followedby') return
    assert.equal(ast.operands[0].kind, 'observation')
    const or = ast.operands[1]
    assert.equal(or.kind, 'or')
    if (or.kind !== 'or') return
    assert.equal(or.operands[1].kind, 'and')
  })

  it('binds qualifiers to the observation on their left, and stacks them', () => {
    const ast = parsePattern("[a:b = 1] AND [c:d = 2] REPEATS 3 TIMES WITHIN 10 SECONDS")
    assert.deepEqual(ast, {
      kind: 'and',
      operands: [
        { kind: 'observation', expression: { kind: 'comparison', path: { objectType: 'a', steps: [{ kind: 'key', key: 'b' }] }, operator: '=', negated: false, value: { kind: 'int', value: 1 } } },
        {
          kind: 'qualified',
          qualifier: { kind: 'within', seconds: 10 },
          expression: {
            kind: 'qualified',
            qualifier: { kind: 'repeats', times: 3 },
            expression: { kind: 'observation', expression: { kind: 'comparison', path: { objectType: 'c', steps: [{ kind: 'key', key: 'd' }] }, operator: '=', negated: false, value: { kind: 'int', value: 2 } } }
          }
        }
      ]
    })
  })

  it('gives AND precedence over OR inside brackets, and keeps parentheses as structure', () => {
    const ast = parsePattern("[a:x = 1 OR a:y = 2 AND a:z = 3]")
    assert.equal(ast.kind, 'observation')
    if (ast.kind !== 'observation') return
    assert.equal(ast.expression.kind, 'or')
    const grouped = parsePattern("[(a:x = 1 OR a:y = 2) AND a:z = 3]")
    if (grouped.kind !== 'observation') return assert.fail()
    assert.equal(grouped.expression.kind, 'and')
  })

  it('reads object paths with quoted keys, indexes and references', () => {
    const [c] = comparisons(parsePattern("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.5]"))
    assert.deepEqual(c.path, {
      objectType: 'file',
      steps: [{ kind: 'key', key: 'extensions' }, { kind: 'key', key: 'windows-pebinary-ext' }, { kind: 'key', key: 'sections' }, { kind: 'index', index: '*' }, { kind: 'key', key: 'entropy' }]
    })
    assert.deepEqual(c.value, { kind: 'float', value: 7.5 })
    const [r] = comparisons(parsePattern("[email-message:to_refs[2].value = 'a@example.com']"))
    assert.deepEqual(r.path.steps, [{ kind: 'key', key: 'to_refs' }, { kind: 'index', index: 2 }, { kind: 'key', key: 'value' }])
  })

  it('decodes literals and normalises operator spellings', () => {
    const cs = comparisons(parsePattern(
      "[a:s = 'it\\'s a \\\\ path' AND a:n <> -3 AND a:e == true AND a:t = t'2016-01-01T00:00:00Z' AND a:h = h'00ff' AND a:bin = b'AAAA' AND a:l NOT IN ('x', 2) AND EXISTS a:z]"
    ))
    assert.deepEqual(cs.map(c => [c.operator, c.negated, c.value]), [
      ['=', false, { kind: 'string', value: "it's a \\ path" }],
      ['!=', false, { kind: 'int', value: -3 }],
      ['=', false, { kind: 'bool', value: true }],
      ['=', false, { kind: 'timestamp', value: '2016-01-01T00:00:00Z' }],
      ['=', false, { kind: 'hex', value: '00ff' }],
      ['=', false, { kind: 'binary', value: 'AAAA' }],
      ['IN', true, [{ kind: 'string', value: 'x' }, { kind: 'int', value: 2 }]],
      ['EXISTS', false, null]
    ])
  })

  it('reads START/STOP as timestamps', () => {
    const ast = parsePattern("[a:b = 1] START t'2016-01-01T00:00:00Z' STOP t'2016-01-01T00:00:00.5Z'")
    assert.deepEqual(ast.kind === 'qualified' && ast.qualifier, { kind: 'start-stop', start: '2016-01-01T00:00:00Z', stop: '2016-01-01T00:00:00.5Z' })
  })

  it('puts line and column in details', () => {
    try {
      parsePattern("[a:b = 1]\nAND [c:d = ]")
      assert.fail('parsed')
    } catch (err: any) {
      assert.deepEqual([err.details.line, err.details.column, err.details.offset], [2, 12, 21])
    }
  })

  it('round-trips any string through a quoted literal (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), s => {
      const quoted = s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")
      const [c] = comparisons(parsePattern(`[file:name = '${quoted}']`))
      return c.operator === '=' && c.value.kind === 'string' && c.value.value === s
    }))
  })

  describe('the direct reading of [type:path = \'value\'] (skips the grammar)', () => {
    // Whatever the direct reading accepts must be exactly what the grammar builds; whatever it
    // does not accept must still meet the grammar (and its errors).
    const peggy = (text: string): unknown => { try { return peggyParse(text) } catch (err: any) { return `error: ${String(err?.message)}` } }
    const ours = (text: string): unknown => { try { return parsePattern(text) } catch (err: any) { return `error: ${String(err?.details?.offset ?? err?.message)}` } }

    it('builds the grammar\'s tree for the common forms', () => {
      for (const text of [
        "[ipv4-addr:value = '198.51.100.1']",
        "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        "[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4']",
        "[url:value = 'http://x.example/a\\'b\\\\c']",
        "[x_custom-type:a_b.c.'' = '']",
        "[domain-name:value = 'line\nbreak']"
      ]) assert.deepEqual(parsePattern(text), peggyParse(text), text)
    })

    it('agrees with the grammar on near-simple text, valid or not (property)', () => {
      const ident = fc.stringMatching(/^[a-zA-Z_-][a-zA-Z0-9_'-]{0,6}$/)
      const quoted = fc.string({ unit: fc.constantFrom('a', "'", '\\', ' ', '.', ']', '\n') , maxLength: 8 })
      const step = fc.oneof(ident.map(k => `.${k}`), quoted.map(k => `.'${k}'`), fc.constantFrom('[0]', '[*]', '.'))
      // Mostly the simple form, with one thing off now and then.
      const mostly = <T>(usual: T, ...others: T[]): fc.Arbitrary<T> => fc.oneof({ weight: 5, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: fc.constantFrom(...others) })
      const sep = mostly(' ', '', '  ', '\t', ' /* c */ ')
      const op = mostly('=', '!=', '==', 'LIKE')
      const text = fc.tuple(ident, ident, fc.array(step, { maxLength: 3 }), sep, op, sep, quoted, mostly('', 't', 'h'), mostly(']', '] ', ']]', ''))
        .map(([t, p, steps, s1, o, s2, v, prefix, end]) => `[${t}:${p}${steps.join('')}${s1}${o}${s2}${prefix}'${v}'${end}`)
      fc.assert(fc.property(text, (pattern) => {
        const expected = peggy(pattern)
        const got = ours(pattern)
        if (typeof expected === 'string') return typeof got === 'string'
        assert.deepEqual(got, expected, pattern)
        return true
      }), { numRuns: 3000 })
    })
  })
})
