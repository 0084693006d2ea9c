import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { isDragnetError } from '../../../src/errors.js'
import { ipNetContains, parseIpNet, formatIpNet } from '../../../src/stix/ip.js'
import type { Observable } from '../../../src/stix/types.js'
import { AhoCorasick } from '../../../src/policy/aho-corasick.js'
import { CidrTrie } from '../../../src/policy/cidr-trie.js'
import { Ipv4Ranges } from '../../../src/policy/ipv4-ranges.js'
import { compileMispRegex, hostOfUrl, loadWarninglists, loadWarninglistsSync, WarninglistSet, type WarninglistSet as WS } from '../../../src/policy/index.js'
import { requireSharedData } from '../../helpers/shared-data.js'
import { tempDir } from '../../helpers/tmp.js'
import { LISTS, testLists } from './helpers.js'

const hits = (set: WS, kind: Observable['kind'], value: string): string[] => set.match({ kind, value }).map(h => `${h.list}:${h.entry}`)

describe('warninglists: matching (inline lists)', () => {
  const set = testLists()

  const cases: Array<[Observable['kind'], string, string[]]> = [
    // cidr: hosts without prefix, networks, v6 in any case
    ['ipv4', '8.8.8.8', ['resolvers:8.8.8.8']],
    ['ipv4', '8.8.4.4', []],
    ['ipv4', '192.0.2.200', ['resolvers:192.0.2.0/24']],
    ['ipv6', '2001:4860:4860::8888', ['resolvers:2001:4860:4860::8888']],
    ['ipv4-cidr', '192.0.2.128/25', ['resolvers:192.0.2.0/24']],
    ['ipv4-cidr', '192.0.0.0/16', []],
    // hostname: leading/trailing dots trimmed, parents walked, case folded
    ['domain', 'example.com', ['top:.example.com']],
    ['domain', 'a.b.example.com', ['top:.example.com']],
    ['domain', 'www.example.org', ['top:example.org.']],
    ['domain', 'shop.example.net', ['top:Shop.Example.NET']],
    ['domain', 'example.net', []],
    ['domain', 'notexample.com', []],
    ['url', 'https://user@cdn.example.com:8443/x?y#z', ['top:.example.com', 'cdn:cdn.']],
    ['url', 'http://evil.test/example.com', []],
    // string: exact, case-insensitive; the tlds list only hits the bare label
    ['md5', 'd41d8cd98f00b204e9800998ecf8427e', ['hashes:D41D8CD98F00B204E9800998ECF8427E']],
    ['sha1', 'd41d8cd98f00b204e9800998ecf8427e', []],
    ['domain', 'com', ['tlds:COM']],
    // substring and regex
    ['domain', 'my-static-assets.evil.test', ['cdn:static-assets']],
    ['domain', 'Sinkhole42.example.org', ['top:example.org.', 'sinkhole:/^sinkhole\\d*\\./i']],
    ['domain', 'the.honeypot', ['sinkhole:honeypot$']],
    ['domain', 'honeypot.evil.test', []]
  ]
  for (const [kind, value, expected] of cases) {
    it(`${kind} ${value} → ${expected.length > 0 ? expected.join(', ') : 'no hit'}`, () => {
      assert.deepEqual(hits(set, kind, value).sort(), [...expected].sort())
    })
  }

  it('applies a list only to the kinds its matching_attributes name', () => {
    // resolvers match ip attributes only: an IP-literal URL is not an ip-dst attribute
    assert.deepEqual(hits(set, 'url', 'http://8.8.8.8/dns'), [])
    const all = new WarninglistSet([{ id: 'any', doc: { ...LISTS.resolvers, matching_attributes: undefined } }, { id: 'ALL', doc: { ...LISTS.resolvers, matching_attributes: ['ALL'] } }])
    assert.deepEqual(hits(all, 'url', 'http://8.8.8.8/dns').sort(), ['ALL:8.8.8.8', 'any:8.8.8.8'])
    assert.deepEqual(hits(all, 'url', 'http://[2001:4860:4860::8888]:53/'), ['any:2001:4860:4860::8888', 'ALL:2001:4860:4860::8888'])
  })

  it('reports the most specific CIDR entry per list, one hit per list', () => {
    const nested = new WarninglistSet([{ id: 'n', doc: { name: 'n', type: 'cidr', list: ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3'] } }])
    assert.deepEqual(hits(nested, 'ipv4', '10.1.2.3'), ['n:10.1.2.3'])
    assert.deepEqual(hits(nested, 'ipv4', '10.1.9.9'), ['n:10.1.0.0/16'])
    assert.deepEqual(hits(nested, 'ipv4', '10.9.9.9'), ['n:10.0.0.0/8'])
  })

  it('names the list, entry, kind and value in each hit', () => {
    assert.deepEqual(set.match({ kind: 'ipv4', value: '8.8.8.8' }), [{ list: 'resolvers', name: 'Test resolvers', type: 'cidr', entry: '8.8.8.8', kind: 'ipv4', value: '8.8.8.8' }])
    assert.equal(set.matchAll([{ kind: 'ipv4', value: '8.8.8.8' }, { kind: 'ipv4', value: '1.2.3.4' }, { kind: 'domain', value: 'example.com' }]).length, 2)
  })

  it('describes the loaded lists', () => {
    const info = set.lists.find(l => l.id === 'resolvers')!
    assert.deepEqual({ ...info }, { id: 'resolvers', name: 'Test resolvers', type: 'cidr', version: 1, description: '', entries: 3, kinds: ['ipv4', 'ipv6', 'ipv4-cidr', 'ipv6-cidr', 'domain'], source: null })
    assert.equal(set.size, 3 + 3 + 1 + 2 + 3 + 2)
    assert.deepEqual(set.resolve('Test TLDs').map(i => set.lists[i].id), ['tlds'])
    assert.deepEqual(set.resolve('nothing'), [])
  })

  it('accepts { value, comment } entries and skips blank ones', () => {
    const s = new WarninglistSet([{ id: 'o', doc: { name: 'o', type: 'string', list: [{ value: 'abc', comment: 'x' }, '  ', ' def '] } }])
    assert.equal(s.lists[0].entries, 2)
    assert.deepEqual(hits(s, 'domain', 'def'), ['o:def'])
  })
})

describe('warninglists: building blocks', () => {
  it('hostOfUrl', () => {
    assert.equal(hostOfUrl('https://User:pw@WWW.Example.com.:8080/a/b?c#d'), 'www.example.com')
    assert.equal(hostOfUrl('example.com/path'), 'example.com')
    assert.equal(hostOfUrl('http://[2001:db8::1]:443/'), '2001:db8::1')
    assert.equal(hostOfUrl('ftp://ftp.fasttradeco.com'), 'ftp.fasttradeco.com')
  })

  it('compileMispRegex reads PCRE delimiters and flags', () => {
    assert.equal(compileMispRegex('/^abc$/i').test('ABC'), true)
    assert.equal(compileMispRegex('#a/b#').test('xa/by'), true)
    assert.equal(compileMispRegex('^plain$').test('plain'), true)
    assert.throws(() => compileMispRegex('/a b/x'), /flag "x"/)
  })

  it('rejects a bad regex entry, naming list and index', () => {
    assert.throws(() => new WarninglistSet([{ id: 'r', doc: { name: 'r', type: 'regex', list: ['ok', '/(unclosed/'] }, source: 'r.json' }]), (err: unknown) => {
      assert.ok(isDragnetError(err, 'DRAGNET_BAD_POLICY'))
      assert.match(err.message, /^warninglist r\.json: list\[1\]: list "r": regular expression "\/\(unclosed\/" refused: .*missing closing \)/)
      return true
    })
  })

  it('rejects malformed lists, naming the field', () => {
    const bad = (doc: unknown, re: RegExp) => assert.throws(() => new WarninglistSet([{ id: 'b', doc, source: 'b.json' }]), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_POLICY') && re.test(err.message))
    bad({ name: 'b', type: 'cidr', list: ['10.0.0.0/8', 'not-an-ip'] }, /^warninglist b\.json: list\[1\]: "not-an-ip" is not an IP address or CIDR/)
    bad({ name: 'b', type: 'glob', list: [] }, /^warninglist b\.json: type: expected a list type/)
    bad({ name: 'b', type: 'string' }, /^warninglist b\.json: list: expected a list of entries/)
    bad([], /expected a MISP warninglist object/)
  })

  it('CIDR trie and IPv4 range table agree with a linear scan (fast-check)', () => {
    const net = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
      .map(([a, p]) => parseIpNet(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${p}`)!)
    // Few distinct high bits so that prefixes actually nest.
    const addr = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffffff }))
      .map(([hi, lo]) => parseIpNet(`${10 + hi}.${lo >>> 16}.${(lo >>> 8) & 255}.${lo & 255}`)!)
    const nearNet = fc.tuple(addr, fc.integer({ min: 0, max: 32 })).map(([a, p]) => parseIpNet(`${formatIpNet(a)}/${p}`)!)
    fc.assert(fc.property(fc.array(fc.oneof(net, nearNet), { maxLength: 60 }), fc.array(fc.oneof(addr, nearNet), { maxLength: 30 }), (nets, probes) => {
      const trie = new CidrTrie<number>(32, 4)
      const ranges = new Ipv4Ranges<number>()
      nets.forEach((n, i) => { trie.insert(n.bytes, n.prefix, i); ranges.insert(n.bytes, n.prefix, i) })
      for (const probe of probes) {
        const expected = nets.flatMap((n, i) => ipNetContains(n, probe) ? [i] : [])
        const prefixOf = (i: number): number => nets[i].prefix
        for (const index of [trie, ranges]) {
          const found: number[] = []
          index.lookup(probe.bytes, probe.prefix, found)
          // every containing network, shortest prefix first
          assert.deepEqual([...found].sort((a, b) => a - b), expected)
          for (let k = 1; k < found.length; k++) assert.ok(prefixOf(found[k - 1]) <= prefixOf(found[k]))
        }
      }
    }), { numRuns: 300 })
  })

  it('IPv4 range table edges: the whole space, the last address, adjacent and repeated blocks', () => {
    const r = new Ipv4Ranges<string>()
    for (const [net, tag] of [['0.0.0.0/0', 'all'], ['255.255.255.255', 'last'], ['10.0.0.0/9', 'low'], ['10.128.0.0/9', 'high'], ['10.128.0.0/9', 'high-again']] as const) {
      const n = parseIpNet(net)!
      r.insert(n.bytes, n.prefix, tag)
    }
    const at = (ip: string, bits = 32): string[] => {
      const out: string[] = []
      r.lookup(parseIpNet(ip)!.bytes, bits, out)
      return out
    }
    assert.deepEqual(at('255.255.255.255'), ['all', 'last'])
    assert.deepEqual(at('255.255.255.254'), ['all'])
    assert.deepEqual(at('0.0.0.0'), ['all'])
    assert.deepEqual(at('10.127.255.255'), ['all', 'low'])
    assert.deepEqual(at('10.128.0.0'), ['all', 'high', 'high-again'])
    assert.deepEqual(at('10.0.0.0', 8), ['all'])
    assert.deepEqual(at('11.0.0.0'), ['all'])
  })

  it('Aho-Corasick finds what includes() finds (fast-check)', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '.'), minLength: 1, maxLength: 5 })
    fc.assert(fc.property(fc.array(word, { minLength: 1, maxLength: 30 }), fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c', '.', 'x'), maxLength: 30 }), { maxLength: 10 }), (patterns, texts) => {
      const ac = new AhoCorasick()
      for (const p of patterns) ac.add(p)
      ac.build()
      for (const t of texts) {
        const ids: number[] = []
        ac.searchInto(t, ids)
        const found = new Set(ids)
        const expected = patterns.flatMap((p, i) => t.includes(p) ? [i] : [])
        assert.deepEqual([...found].sort((a, b) => a - b), expected)
      }
    }), { numRuns: 300 })
  })
})

describe('warninglists: loading files and directories', () => {
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => {
    ({ dir, cleanup } = await tempDir('dragnet-wl-'))
    await mkdir(join(dir, 'upstream', 'lists', 'resolvers'), { recursive: true })
    await mkdir(join(dir, 'upstream', 'lists', '.git'), { recursive: true })
    await writeFile(join(dir, 'upstream', 'lists', 'resolvers', 'list.json'), JSON.stringify(LISTS.resolvers))
    await writeFile(join(dir, 'upstream', 'lists', '.git', 'x.json'), '{ not json')
    await writeFile(join(dir, 'upstream', 'README.md'), 'not a list')
    await writeFile(join(dir, 'top.json'), JSON.stringify(LISTS.top))
    await writeFile(join(dir, 'broken.json'), '{ "name": ')
    await mkdir(join(dir, 'dup'), { recursive: true })
    await writeFile(join(dir, 'dup', 'top.json'), JSON.stringify(LISTS.top))
  })
  after(async () => cleanup())

  it('walks directories (upstream <id>/list.json layout), skipping hidden entries and non-JSON files', async () => {
    const set = await loadWarninglists(['upstream', 'top.json'], dir)
    assert.deepEqual(set.lists.map(l => [l.id, l.source]), [['resolvers', join(dir, 'upstream', 'lists', 'resolvers', 'list.json')], ['top', join(dir, 'top.json')]])
    const sync = loadWarninglistsSync([join(dir, 'upstream'), 'top.json'], dir)
    assert.deepEqual(sync.lists.map(l => l.id), ['resolvers', 'top'])
  })

  it('skips missing optional paths and remembers them', async () => {
    const set = await loadWarninglists([{ path: 'absent', optional: true }, 'top.json'], dir)
    assert.deepEqual(set.missingOptional, [join(dir, 'absent')])
    assert.equal(loadWarninglistsSync([{ path: 'absent', optional: true }], dir).lists.length, 0)
  })

  it('fails on a missing required path', async () => {
    await assert.rejects(loadWarninglists(['top.json', 'absent'], dir), /warninglists\[1\]: absent: no such file or directory/)
    assert.throws(() => loadWarninglistsSync(['absent'], dir), /warninglists\[0\]: absent/)
  })

  it('fails on a file that is not JSON, naming it', async () => {
    await assert.rejects(loadWarninglists(['broken.json'], dir), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_POLICY') && err.message.includes('broken.json: not JSON'))
  })

  it('fails when two files give the same list id', async () => {
    await assert.rejects(loadWarninglists(['top.json', 'dup'], dir), /list id "top" is already taken by .*top\.json/)
  })
})

describe('warninglists: the real MISP lists (shared data)', function () {
  let set: WS
  let shared: string
  before(async function () {
    shared = requireSharedData(this)
    set = await loadWarninglists([join(shared, 'misp', 'warninglists')])
  })

  const listsOf = (kind: Observable['kind'], value: string): string[] => set.match({ kind, value }).map(h => h.list)

  it('loads every list, public-dns-v4 with all its 62,745 entries', () => {
    assert.equal(set.lists.length, 24)
    assert.equal(set.lists.find(l => l.id === 'public-dns-v4')!.entries, 62_745)
  })

  it('public resolvers hit public-dns-v4', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '9.9.9.9']) assert.ok(listsOf('ipv4', ip).includes('public-dns-v4'), ip)
  })

  it('an IPv6 resolver hits public-dns-v6', () => {
    assert.ok(listsOf('ipv6', '2001:4860:4860::8888').includes('public-dns-v6'))
    assert.ok(listsOf('ipv6', '2606:4700:4700::1111').includes('public-dns-v6'))
  })

  it('private and documentation addresses hit the RFC lists (upper-case v6 entries included)', () => {
    assert.ok(listsOf('ipv4', '10.1.2.3').includes('rfc1918'))
    assert.ok(listsOf('ipv4', '192.168.100.1').includes('rfc1918'))
    assert.ok(listsOf('ipv4-cidr', '172.16.5.0/24').includes('rfc1918'))
    assert.ok(listsOf('ipv6', '2001:db8::1').includes('rfc3849'))
    assert.ok(listsOf('ipv6', 'fe80::1').includes('ipv6-linklocal'))
  })

  it('top domains hit, subdomains through the hostname lists', () => {
    const google = listsOf('domain', 'google.com')
    assert.ok(google.includes('tranco10k') && google.includes('cisco_top1000'), google.join())
    const www = set.match({ kind: 'domain', value: 'www.google.com' })
    assert.ok(www.some(h => h.list === 'tranco10k' && h.entry === 'google.com'))
    assert.ok(listsOf('url', 'https://www.google.com/search?q=dragnet').includes('tranco10k'))
  })

  it('leading-dot hostname entries (dynamic-dns) match subdomains', () => {
    const h = set.match({ kind: 'domain', value: '1c26.dyndns.org' }).find(x => x.list === 'dynamic-dns')
    assert.equal(h?.entry, '.dyndns.org')
  })

  it('upper-case string entries (tlds) and hashes hit', () => {
    assert.ok(listsOf('domain', 'com').includes('tlds'))
    assert.ok(listsOf('md5', 'd41d8cd98f00b204e9800998ecf8427e').includes('empty-hashes'))
  })

  it('a maltrail AgentTesla C2 domain and a malware IP do not hit', async () => {
    const trail = await readFile(join(shared, 'iocs', 'maltrail', 'malware__agenttesla.txt'), 'utf8')
    const lines = new Set(trail.split('\n').map(l => l.trim()))
    assert.ok(lines.has('herosoup.org'), 'fixture value still in the trail file')
    assert.ok(lines.has('http://37.59.117.243'))
    assert.deepEqual(listsOf('domain', 'herosoup.org'), [])
    assert.deepEqual(listsOf('url', 'http://37.59.117.243'), [])
    assert.deepEqual(listsOf('ipv4', '37.59.117.243'), [])
  })
})
