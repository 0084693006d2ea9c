import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDragnetError } from '../../../src/errors.js'
import { compilePolicy, loadPolicy, parseDuration, parsePolicyText, WarninglistSet } from '../../../src/policy/index.js'
import { tempDir } from '../../helpers/tmp.js'
import { IDS, LISTS, M, NOW, subject } from './helpers.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

function expectBadPolicy (fn: () => unknown, message: RegExp, details: Record<string, unknown> = {}): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDragnetError(err, 'DRAGNET_BAD_POLICY'), `expected DRAGNET_BAD_POLICY, got ${String(err)}`)
    assert.match(err.message, message)
    for (const [k, v] of Object.entries(details)) assert.deepEqual(err.details[k], v, `details.${k}`)
    return true
  })
}

const rule = (over: Record<string, unknown>) => ({ id: 'r', direction: 'outbound', action: 'send', ...over })

describe('policy files: validation errors point at rule and field', () => {
  const cases: Array<{ name: string, doc: unknown, message: RegExp, details?: Record<string, unknown> }> = [
    {
      name: 'confidence bound of the wrong type',
      doc: { name: 'x', rules: [rule({ id: 'a' }), rule({ id: 'b' }), rule({ id: 'c' }), rule({ id: 'eu-personal-data', match: { confidence: { min: 'high' } }, action: 'withhold' })] },
      message: /^rules\[3\] \(id "eu-personal-data"\)\.match\.confidence\.min: expected a number 0-100$/,
      details: { rule: 3, ruleId: 'eu-personal-data', field: 'match.confidence.min' }
    },
    { name: 'confidence out of range', doc: { name: 'x', rules: [rule({ match: { confidence: { max: 101 } } })] }, message: /rules\[0\] \(id "r"\)\.match\.confidence\.max: expected a number 0-100/ },
    { name: 'confidence min above max', doc: { name: 'x', rules: [rule({ match: { confidence: { min: 80, max: 20 } } })] }, message: /match\.confidence\.min: min is greater than max/ },
    { name: 'action that does not fit the direction', doc: { name: 'x', rules: [rule({ id: 'in', direction: 'inbound', action: 'send' })] }, message: /rules\[0\] \(id "in"\)\.action: send is not an inbound action; expected accept or reject/, details: { field: 'action' } },
    { name: 'outbound rule with accept', doc: { name: 'x', rules: [rule({ action: 'accept' })] }, message: /\.action: accept is not an outbound action/ },
    { name: 'unknown action', doc: { name: 'x', rules: [rule({ action: 'drop' })] }, message: /\.action: expected an action/ },
    { name: 'misspelt matcher', doc: { name: 'x', rules: [rule({ match: { tpl: ['red'] } })] }, message: /rules\[0\] \(id "r"\)\.match\.tpl: unknown field; expected one of peer, from, author/ },
    { name: 'unknown rule field', doc: { name: 'x', rules: [rule({ when: 'always' })] }, message: /rules\[0\] \(id "r"\)\.when: unknown field; expected one of id, direction/ },
    { name: 'unknown top-level field', doc: { name: 'x', rule: [] }, message: /^rule: unknown field; expected one of name/ },
    { name: 'peer on an inbound rule', doc: { name: 'x', rules: [rule({ direction: 'inbound', action: 'reject', match: { peer: { role: ['observer'] } } })] }, message: /\.match\.peer: peer applies to outbound rules only/ },
    { name: 'from on an outbound rule', doc: { name: 'x', rules: [rule({ match: { from: { role: ['observer'] } } })] }, message: /\.match\.from: from applies to inbound rules only/ },
    { name: 'unknown group', doc: { name: 'x', rules: [rule({ match: { peer: { not_group: ['eu'] } } })] }, message: /rules\[0\] \(id "r"\)\.match\.peer\.not_group\[0\]: unknown group "eu"/, details: { field: 'match.peer.not_group[0]' } },
    { name: 'bad TLP', doc: { name: 'x', rules: [rule({ match: { tlp: ['green', 'white'] } })] }, message: /\.match\.tlp\[1\]: expected a TLP level/ },
    { name: 'empty list', doc: { name: 'x', rules: [rule({ match: { type: [] } })] }, message: /\.match\.type: expected at least one STIX type/ },
    { name: 'bad duration', doc: { name: 'x', rules: [rule({ match: { age: { max: '30 days' } } })] }, message: /\.match\.age\.max: expected a duration such as 90d/ },
    { name: 'bad role', doc: { name: 'x', rules: [rule({ match: { peer: { role: ['vendor'] } } })] }, message: /\.match\.peer\.role\[0\]: expected a role: bureau, contributor, observer/ },
    { name: 'bad PeerId', doc: { name: 'x', rules: [rule({ match: { author: { id: ['not a peer'] } } })] }, message: /\.match\.author\.id\[0\]: expected a libp2p PeerId/ },
    { name: 'empty member matcher', doc: { name: 'x', rules: [rule({ match: { author: {} } })] }, message: /\.match\.author: expected at least one of id, country/ },
    { name: 'bad SCO type', doc: { name: 'x', rules: [rule({ match: { observables: { kinds: ['email'] } } })] }, message: /\.match\.observables\.kinds\[0\]: expected a STIX cyber-observable type/ },
    { name: 'warninglist without lists loaded', doc: { name: 'x', rules: [rule({ match: { warninglist: { hit: true } } })] }, message: /rules\[0\] \(id "r"\)\.match\.warninglist: this policy loads no warninglists/ },
    { name: 'duplicate rule ids', doc: { name: 'x', rules: [rule({}), rule({ action: 'withhold' })] }, message: /rules\[1\] \(id "r"\)\.id: duplicate rule id; rules\[0\] has it already/ },
    { name: 'missing rule id', doc: { name: 'x', rules: [{ direction: 'outbound', action: 'send' }] }, message: /^rules\[0\]\.id: required: a rule id/ },
    { name: 'missing direction', doc: { name: 'x', rules: [{ id: 'r', action: 'send' }] }, message: /rules\[0\] \(id "r"\)\.direction: required: inbound or outbound/ },
    { name: 'rule id with a colon (reserved for fixed rules)', doc: { name: 'x', rules: [rule({ id: 'tlp-floor:red' })] }, message: /\.id: expected a rule id/ },
    { name: 'bad country in a group', doc: { name: 'x', groups: { eu: { countries: ['DEU'] } } }, message: /^groups\.eu\.countries\[0\]: expected an ISO 3166 alpha-2/ },
    { name: 'group without selectors', doc: { name: 'x', groups: { eu: { exclude: [IDS.fr] } } }, message: /^groups\.eu: expected at least one of countries, roles, peers/ },
    { name: 'missing name', doc: { rules: [] }, message: /^name: required: a policy name/ },
    { name: 'not an object', doc: 'hello', message: /expected a policy object/ },
    { name: 'several problems are all listed, one a line', doc: { name: 'x', rules: [rule({ action: 'drop', match: { tlp: ['x'] } })] }, message: /^2 problems:\n {2}rules\[0\] \(id "r"\)\.action: expected an action.*\n {2}rules\[0\] \(id "r"\)\.match\.tlp\[0\]: expected a TLP level/ }
  ]
  for (const c of cases) {
    it(c.name, () => expectBadPolicy(() => compilePolicy(c.doc, '.'), c.message, c.details))
  }

  it('names the file when there is one', () => {
    expectBadPolicy(() => compilePolicy({ name: 'x', rules: [rule({ action: 'drop' })] }, '.', { source: 'policies/x.yaml' }), /^policies\/x\.yaml: rules\[0\] \(id "r"\)\.action/, { file: 'policies/x.yaml' })
  })

  it('lists every problem in details.issues', () => {
    try {
      compilePolicy({ name: 'x', rules: [rule({ action: 'drop', match: { tlp: ['x'] } })] }, '.')
      assert.fail('expected an error')
    } catch (err) {
      assert.ok(isDragnetError(err))
      const issues = err.details.issues as Array<{ path: string }>
      assert.deepEqual(issues.map(i => i.path).sort(), ['rules[0] (id "r").action', 'rules[0] (id "r").match.tlp[0]'])
    }
  })

  it('rejects an unknown warninglist name, pointing at it', () => {
    const lists = new WarninglistSet([{ id: 'resolvers', doc: LISTS.resolvers }])
    expectBadPolicy(() => compilePolicy({ name: 'x', rules: [rule({ match: { warninglist: { hit: true, lists: ['resolvers', 'alexa'] } } })] }, '.', { warninglists: lists }),
      /rules\[0\] \(id "r"\)\.match\.warninglist\.lists\[1\]: unknown warninglist "alexa"; loaded: resolvers/)
  })

  it('accepts unknown list names when an optional path was missing (they match nothing)', () => {
    const lists = new WarninglistSet([{ id: 'resolvers', doc: LISTS.resolvers }], ['/nowhere'])
    const p = compilePolicy({ name: 'x', rules: [rule({ action: 'withhold', match: { warninglist: { hit: true, lists: ['public-dns-v4'] } } })] }, '.', { warninglists: lists })
    const s = subject({}, { observables: [{ kind: 'ipv4', value: '8.8.8.8' }] })
    assert.equal(p.outbound(s, { self: M.de, peer: M.fr, author: M.fr, now: NOW, peerOnRoster: true }).rule, 'default:outbound')
  })
})

describe('policy files: parsing and loading', () => {
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => ({ dir, cleanup } = await tempDir('dragnet-policy-')))
  after(async () => cleanup())

  it('parses durations', () => {
    assert.equal(parseDuration('30d'), 30 * 86_400_000)
    assert.equal(parseDuration('1d12h'), 36 * 3_600_000)
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration(1500), 1500)
    for (const bad of ['30', '30 d', '-1h', 'd', '', 1.5, -1, null]) assert.equal(parseDuration(bad), null, String(bad))
  })

  it('reads YAML, with scalars for lists and country codes such as NO kept as text', () => {
    const raw = parsePolicyText('name: y\ngroups:\n  nordic: { countries: [NO, se] }\nrules:\n  - { id: a, direction: outbound, match: { tlp: green, peer: { group: nordic } }, action: withhold }\n', 'p.yaml')
    const p = compilePolicy(raw, '.')
    assert.equal(p.inGroup({ ...M.de, country: 'NO' }, 'nordic'), true)
    assert.equal(p.inGroup({ ...M.de, country: 'SE' }, 'nordic'), true)
    assert.equal(p.outbound(subject({ tlp: 'green' }), { self: M.de, peer: { ...M.fr, country: 'no' }, author: M.fr, now: NOW, peerOnRoster: true }).rule, 'a')
  })

  it('reports YAML syntax errors with line and column', () => {
    expectBadPolicy(() => parsePolicyText('name: y\nrules:\n  - id: a\n    direction: [outbound\n', 'bad.yaml'), /^bad\.yaml: not valid YAML at line \d+, column \d+/)
    expectBadPolicy(() => parsePolicyText('name: a\nname: b\n', 'dup.yaml'), /dup\.yaml: not valid YAML .*unique/i)
  })

  it('reads JSON by extension or by content', () => {
    assert.deepEqual(parsePolicyText('{"name":"j"}', 'p.json'), { name: 'j' })
    assert.deepEqual(parsePolicyText('  {"name":"j"}', 'policy'), { name: 'j' })
    expectBadPolicy(() => parsePolicyText('{"name":', 'p.json'), /^p\.json: not valid JSON/)
  })

  it('loads a policy with warninglists relative to the file, optional paths skipped', async () => {
    await mkdir(join(dir, 'lists', 'resolvers'), { recursive: true })
    await writeFile(join(dir, 'lists', 'resolvers', 'list.json'), JSON.stringify(LISTS.resolvers))
    await writeFile(join(dir, 'lists', 'top.json'), JSON.stringify(LISTS.top))
    const file = join(dir, 'p.yaml')
    await writeFile(file, [
      'name: loaded',
      'warninglists:',
      '  - lists/',
      '  - { path: not-there/, optional: true }',
      'rules:',
      '  - id: benign',
      '    direction: inbound',
      '    match: { warninglist: { hit: true, lists: [resolvers] } }',
      '    action: reject'
    ].join('\n'))
    const p = await loadPolicy(file)
    assert.equal(p.name, 'loaded')
    assert.equal(p.source, file)
    assert.deepEqual(p.warninglists.lists.map(l => l.id), ['resolvers', 'top'])
    assert.deepEqual(p.warninglists.missingOptional, [join(dir, 'not-there')])
    const s = subject({}, { observables: [{ kind: 'ipv4', value: '8.8.8.8' }] })
    assert.equal(p.inbound(s, { self: M.de, from: M.fr, author: M.fr, now: NOW }).rule, 'benign')
    // The synchronous path (compilePolicy without preloaded lists) sees the same lists.
    const sync = compilePolicy(parsePolicyText(await (await import('node:fs/promises')).readFile(file, 'utf8'), file), dir)
    assert.deepEqual(sync.warninglists.lists.map(l => l.id), ['resolvers', 'top'])
  })

  it('fails on a missing required warninglist path, naming the file and entry', async () => {
    const file = join(dir, 'missing.yaml')
    await writeFile(file, 'name: m\nwarninglists: [gone.json]\n')
    await assert.rejects(loadPolicy(file), (err: unknown) => {
      assert.ok(isDragnetError(err, 'DRAGNET_BAD_POLICY'))
      assert.match(err.message, /missing\.yaml: warninglists\[0\]: gone\.json: no such file or directory/)
      return true
    })
    assert.throws(() => compilePolicy({ name: 'm', warninglists: ['gone.json'] }, dir, { source: 'missing.yaml' }), /missing\.yaml: warninglists\[0\]: gone\.json/)
  })

  it('fails on an unreadable policy file', async () => {
    await assert.rejects(loadPolicy(join(dir, 'nope.yaml')), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_POLICY') && /cannot read policy file/.test(err.message))
  })
})

describe('example policies in config/policies', () => {
  const policiesDir = join(repoRoot, 'config', 'policies')

  it('ships the four documented examples', async () => {
    const files = (await readdir(policiesDir)).filter(f => f.endsWith('.yaml')).sort()
    assert.deepEqual(files, ['eu-bureau.yaml', 'observer.yaml', 'strict-bureau.yaml', 'vendor-intake.yaml'])
  })

  for (const name of ['eu-bureau', 'vendor-intake', 'observer', 'strict-bureau']) {
    it(`${name}.yaml loads, validates and starts with a comment block`, async () => {
      const file = join(policiesDir, `${name}.yaml`)
      const p = await loadPolicy(file)
      assert.equal(p.name, name)
      assert.ok(p.rules.length > 0)
      const text = await (await import('node:fs/promises')).readFile(file, 'utf8')
      assert.match(text, /^# .+\n(#.*\n){5,}/)
      assert.match(text, /How to adapt it/)
    })
  }

  it('eu-bureau withholds personal data from non-EU peers only', async () => {
    const p = await loadPolicy(join(policiesDir, 'eu-bureau.yaml'))
    const s = subject({ tlp: 'green' }, { scoTypes: ['email-addr'] })
    const ctx = { self: M.de, author: M.fr, now: NOW, peerOnRoster: true }
    assert.equal(p.outbound(s, { ...ctx, peer: M.us }).rule, 'no-personal-data-outside-eu')
    assert.equal(p.outbound(s, { ...ctx, peer: M.nlVendor }).verdict, 'send')
  })

  it('eu-bureau gives contributors no amber', async () => {
    const p = await loadPolicy(join(policiesDir, 'eu-bureau.yaml'))
    const s = subject({ tlp: 'amber', author: IDS.de })
    const ctx = { self: M.de, author: M.de, now: NOW, peerOnRoster: true }
    assert.equal(p.outbound(s, { ...ctx, peer: M.nlVendor }).rule, 'contributors-clear-green-only')
    assert.equal(p.outbound(s, { ...ctx, peer: M.fr }).verdict, 'send')
  })

  it('vendor-intake holds contributors to confidence 50 and the shipped warninglists', async () => {
    const p = await loadPolicy(join(policiesDir, 'vendor-intake.yaml'))
    const ctx = { self: M.de, from: M.nlVendor, author: M.nlVendor, now: NOW }
    const of = (body: Record<string, unknown>, observables = [{ kind: 'ipv4' as const, value: '198.51.100.200' }]) => subject({ author: IDS.nlVendor, body }, { observables })
    assert.equal(p.inbound(of({ confidence: 49 }), ctx).rule, 'contributor-confidence')
    assert.equal(p.inbound(of({}), ctx).rule, 'contributor-confidence')
    assert.equal(p.inbound(of({ confidence: 50 }, [{ kind: 'ipv4', value: '9.9.9.9' }]), ctx).rule, 'contributor-benign-values')
    assert.equal(p.inbound(of({ confidence: 50 }, [{ kind: 'ipv4', value: '185.100.87.202' }]), ctx).verdict, 'accept')
    // A bureau's record is not held to the contributor bar.
    assert.equal(p.inbound(subject({ body: { confidence: 10 } }), { ...ctx, from: M.fr, author: M.fr }).verdict, 'accept')
  })

  it('observer relays nothing', async () => {
    const p = await loadPolicy(join(policiesDir, 'observer.yaml'))
    const d = p.outbound(subject({ tlp: 'clear' }), { self: M.beObserver, peer: M.fr, author: M.fr, now: NOW, peerOnRoster: true })
    assert.deepEqual([d.verdict, d.rule], ['withhold', 'default:outbound'])
    assert.equal(p.inbound(subject(), { self: M.beObserver, from: M.fr, author: M.fr, now: NOW }).verdict, 'accept')
  })

  it('strict-bureau denies by default and opens for partners', async () => {
    const p = await loadPolicy(join(policiesDir, 'strict-bureau.yaml'))
    const ctx = { self: M.de, author: M.fr, now: NOW, peerOnRoster: true }
    assert.equal(p.outbound(subject({ tlp: 'green' }), { ...ctx, peer: M.fr }).rule, 'send-to-partners')
    assert.equal(p.outbound(subject({ tlp: 'green' }), { ...ctx, peer: M.us }).rule, 'default:outbound')
    assert.equal(p.outbound(subject({ tlp: 'clear' }), { ...ctx, peer: M.us }).rule, 'clear-indicators-to-roster')
    const inb = { self: M.de, from: M.usVendor, author: M.usVendor, now: NOW }
    assert.equal(p.inbound(subject({ author: IDS.usVendor, body: { confidence: 90 } }), inb).rule, 'accept-confident-contributor-intel')
    assert.equal(p.inbound(subject({ author: IDS.usVendor, body: { type: 'report', name: 'r', confidence: 90 } }), inb).rule, 'default:inbound')
    assert.equal(p.inbound(subject({ author: IDS.usVendor, body: { revoked: true } }, { observables: [{ kind: 'ipv4', value: '8.8.8.8' }] }), inb).rule, 'accept-revocations')
  })
})
