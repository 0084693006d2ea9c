import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { renderHtml, renderTerminal } from '../../../src/sim/report.js'
import type { SimResult } from '../../../src/sim/result.js'
import { largeResult, smallResult } from './report-fixtures.js'

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'area', 'base', 'col', 'embed', 'source', 'track', 'wbr'])
/** a tag as the renderer writes it: every attribute value double-quoted, nothing else inside */
const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"<>]*")?)*)\s*(\/?)>/y

interface Tag { name: string, attrs: Array<[string, string]> }

/**
 * A minimal HTML check, strict enough to catch escaping mistakes: after the contents of <style>
 * and <script> are set aside, every `<` must open a well-formed tag (so no untrusted text can have
 * produced one), and elements must nest and close properly. Returns every opening tag seen.
 */
function parseHtml (html: string): Tag[] {
  assert.ok(html.startsWith('<!doctype html>'), 'doctype first')
  const body = html.slice('<!doctype html>'.length)
    .replace(/(<style>)[\s\S]*?(<\/style>)/g, '$1$2')
    .replace(/(<script>)[\s\S]*?(<\/script>)/g, '$1$2')
  const stack: string[] = []
  const tags: Tag[] = []
  for (let i = body.indexOf('<'); i !== -1; i = body.indexOf('<', i + 1)) {
    TAG.lastIndex = i
    const m = TAG.exec(body)
    assert.ok(m != null, `stray '<' at ${i}: ${JSON.stringify(body.slice(i, i + 80))}`)
    const [, closing, rawName, attrText, selfClosing] = m
    const name = rawName.toLowerCase()
    if (closing === '/') {
      assert.equal(stack.pop(), name, `</${name}> closes the element last opened`)
      continue
    }
    const attrs = [...attrText.matchAll(/([^\s=]+)(?:="([^"]*)")?/g)].map((a): [string, string] => [a[1].toLowerCase(), a[2] ?? ''])
    tags.push({ name, attrs })
    if (!VOID.has(name) && selfClosing !== '/') stack.push(name)
  }
  assert.deepEqual(stack, [], 'every element closed')
  return tags
}

function stripAnsi (s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, '') // eslint-disable-line no-control-regex -- matching ANSI escapes is the point
}

function nodeRows (text: string): string[] {
  // data rows of the node table: after the header rule, before the bottom rule
  const lines = text.split('\n')
  const start = lines.findIndex(l => l.startsWith('├'))
  const end = lines.findIndex((l, i) => i > start && l.startsWith('└'))
  return lines.slice(start + 1, end)
}

/** the page minus its inline script, whose code may legitimately say NaN */
function withoutScript (html: string): string {
  return html.replace(/<script>[\s\S]*?<\/script>/, '')
}

function svgs (html: string): string[] {
  return [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map(m => m[0])
}

describe('sim/report renderTerminal', () => {
  it('shows the run parameters and key figures', () => {
    const out = renderTerminal(smallResult())
    for (const s of ['partition-heal', 'Two halves split', 'seed fixture-7', '5 nodes (4 up at the end)', 'memory transport', 'topology ring (5 edges)', 'ran 12.0 s',
      '40 published', '158 deliveries', 'p50 42 ms', 'p95 310 ms', 'p99 1.23 s', 'max 2.89 s', '(158 samples)',
      'payload 1.27×', 'protocol 2.84×', 'avg record 1.37 KiB', '256.0 KiB payload']) {
      assert.ok(out.includes(s), `missing ${JSON.stringify(s)} in\n${out}`)
    }
    assert.match(out, /Converged\s+NO, never held exactly every entitlement · finally 82\.0% of entitlements held/)
    assert.ok(!out.includes('\x1b'), 'no ANSI without color')
  })

  it('lists every node of a small federation with its counters', () => {
    const rows = nodeRows(renderTerminal(smallResult()))
    assert.equal(rows.length, 5)
    assert.match(rows[2], /│ ncsc-nl\s+│ contributor │ NL\s+│ default\s+│ up\s+│\s+37 │\s+40 │\s+3 │\s+0 │\s+2 │\s+0 │\s+0 │/)
    assert.match(rows[4], /│ cert-pl .*│ DOWN │\s+12 │\s+40 │\s+28 │/)
    // every row the same width, so the box lines up
    const widths = new Set([...rows, ...renderTerminal(smallResult()).split('\n').filter(l => /^[┌├└]/.test(l))].map(l => [...l].length))
    assert.equal(widths.size, 1)
  })

  it('prints PASS and FAIL lines with details on one line', () => {
    const out = renderTerminal(smallResult())
    assert.match(out, /Invariants {2}1 pass, 2 fail/)
    assert.match(out, /^ {2}PASS {2}no-tlp-leak {5}\{"leaks":0\}$/m)
    assert.match(out, /^ {2}FAIL {2}all-converged {3}\{"missing":\{"ncsc-nl":3,"cert-pl":28\}\}$/m)
    assert.match(out, /^ {2}FAIL {2}no-policy-leak {2}cert-ee holds 1 record its policy forbids$/m)
    const none = renderTerminal({ ...smallResult(), invariants: { 'no-tlp-leak': { pass: true, details: null }, 'a-longer-name': { pass: true, details: 'x' } } })
    assert.match(none, /^ {2}PASS {2}no-tlp-leak$/m, 'no trailing padding without details')
  })

  it('sorts rejections and withholdings by count', () => {
    const out = renderTerminal(smallResult())
    assert.match(out, /Rejections \(ingest\) {2}9 in all\n {2}tlp-floor {6}7\n {2}bad-signature {2}2\n/)
    assert.match(out, /Withholdings \(outbound\) {2}3 in all\n {2}policy:no-red-abroad {2}3\n/)
    const empty = renderTerminal({ ...smallResult(), rejections: {}, withholdings: {} })
    assert.match(empty, /Rejections \(ingest\) {2}none/)
    assert.match(empty, /Withholdings \(outbound\) {2}none/)
  })

  it('shows the whole timeline when short', () => {
    const out = renderTerminal(smallResult())
    assert.match(out, /Timeline \(5 events\)/)
    assert.match(out, /\+ {3}2\.000 s {2}partition {6}\{0,1\} \| \{2,3,4\}/)
    assert.match(out, /\+ {3}9\.000 s {2}down {11}cert-pl/)
    assert.ok(!out.includes('more not shown'))
  })

  it('colors only when asked, and the colored text is the same once stripped', () => {
    const plain = renderTerminal(smallResult())
    const colored = renderTerminal(smallResult(), { color: true })
    assert.ok(colored.includes('\x1b[31m'), 'red for FAIL')
    assert.ok(colored.includes('\x1b[32m'), 'green for PASS')
    assert.equal(stripAnsi(colored), plain)
    assert.equal(renderTerminal(smallResult(), { color: false }), plain)
  })

  it('shows 15 rows for 200 nodes, troubled ones first, and says how many are omitted', () => {
    const r = largeResult(200)
    const out = renderTerminal(r)
    const rows = nodeRows(out)
    assert.equal(rows.length, 15)
    const byName = new Map(r.members.map(m => [m.name, m]))
    const shown = rows.map(l => byName.get(l.split('│')[1].trim())!)
    assert.ok(shown.every(m => m.missing > 0 || m.unexpected > 0 || m.penalties > 0), 'troubled nodes first')
    const names = shown.map(m => m.name)
    assert.deepEqual(names, names.slice().sort(new Intl.Collator('en', { numeric: true }).compare), 'then by name')
    assert.match(out, /… 185 more nodes omitted \(5 of them with missing, unexpected or penalties\)/)
    assert.match(out, /Nodes \(200, 15 shown/)
  })

  it('fills the 15 rows by name when few nodes are troubled', () => {
    const out = renderTerminal(largeResult(200, { troubledCount: 2 }))
    const rows = nodeRows(out)
    assert.equal(rows.length, 15)
    assert.match(out, /… 185 more nodes omitted \(none with missing, unexpected or penalties\)/)
  })

  it('lists all 40 nodes but not 41', () => {
    assert.equal(nodeRows(renderTerminal(largeResult(40))).length, 40)
    assert.ok(!renderTerminal(largeResult(40)).includes('omitted'))
    assert.equal(nodeRows(renderTerminal(largeResult(41))).length, 15)
    assert.match(renderTerminal(largeResult(41)), /… 26 more nodes omitted/)
  })

  it('keeps the timeline to 20 lines, the shape of the scenario first, then churn, and summarises the rest', () => {
    const r = largeResult(200)
    const out = renderTerminal(r)
    const lines = out.split('\n')
    const start = lines.findIndex(l => l.startsWith('Timeline'))
    assert.match(lines[start], /Timeline \(77 events, 20 shown\)/)
    const shown = lines.slice(start + 1).filter(l => /^ {2}\+/.test(l))
    assert.equal(shown.length, 20)
    for (const k of ['publish-start', 'publish-end', 'partition', 'heal', 'attack', 'spy', 'converged']) {
      assert.ok(shown.some(l => l.includes(` ${k} `)), `${k} kept`)
    }
    assert.equal(shown.filter(l => / (down|up) /.test(l)).length, 13, 'churn fills the rest')
    assert.ok(!shown.some(l => l.includes(' note ')), 'notes give way')
    const times = shown.map(l => Number(/\+\s*([\d.]+) s/.exec(l)![1]))
    assert.deepEqual(times, times.slice().sort((a, b) => a - b), 'in time order')
    assert.match(out, /… 57 more not shown: (up|down) ×\d+, (up|down) ×\d+, note ×10\n/)
  })

  it('neutralises control characters and bidi overrides in untrusted strings', () => {
    const r = smallResult()
    r.members[0].name = 'e\x1b]2;\x07\u202ex'
    r.invariants['x\x1b[2J'] = { pass: false, details: 'line one\nline two\r\x1b[1A' }
    r.events.push({ t_ms: 1, kind: 'note', detail: 'beep\x07' })
    const out = renderTerminal(r)
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\u202e]/.test(out), 'no raw control characters') // eslint-disable-line no-control-regex -- that is the test
    assert.ok(out.includes('│ e\\x1b]2;\\x07\\u202ex │'))
    assert.ok(out.includes('FAIL  x\\x1b[2J'))
    assert.ok(out.includes('line one line two \\x1b[1A'), 'details on one line')
  })

  it('handles no deliveries, no nodes, no events and non-finite numbers', () => {
    const r: SimResult = {
      ...smallResult(),
      members: [],
      edges: [],
      events: [],
      deliveries: 0,
      latency_ms: { p50: NaN, p95: NaN, p99: NaN, max: NaN, samples: 0 },
      latency_cdf: [],
      convergence_series: [],
      converged: true,
      convergence_ms: null,
      invariants: {}
    }
    const out = renderTerminal(r)
    assert.match(out, /Latency\s+no deliveries measured/)
    assert.match(out, /Converged\s+yes\n/)
    assert.match(out, /Nodes {2}none/)
    assert.match(out, /Timeline \(0 events\)/)
    assert.match(out, /Invariants {2}0 pass, 0 fail/)
    assert.ok(!out.includes('NaN'))
  })
})

describe('sim/report renderHtml', () => {
  it('is well-formed, with three SVG plots and nothing fetched', () => {
    for (const r of [smallResult(), largeResult(200)]) {
      const html = renderHtml(r)
      const tags = parseHtml(html)
      assert.equal(tags.filter(t => t.name === 'svg').length, 3)
      assert.equal(svgs(html).length, 3)
      assert.ok(!/<script[^>]*\ssrc\s*=/i.test(html), 'no external script')
      assert.ok(!/https?:\/\//i.test(html), 'no URL at all')
      assert.ok(!/url\(/i.test(html) && !/@import/i.test(html), 'no CSS fetches')
      assert.ok(tags.every(t => t.attrs.every(([k]) => k !== 'src' && k !== 'href' && k !== 'xlink:href')), 'no resource attributes')
      assert.equal(tags.filter(t => t.name === 'script').length, 1, 'one inline script')
    }
  })

  it('pins its inline script with a CSP hash and forbids everything else', () => {
    const html = renderHtml(smallResult())
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]
    const hash = createHash('sha256').update(script).digest('base64')
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)![1]
    assert.ok(csp.includes("default-src 'none'"))
    assert.ok(csp.includes(`script-src 'sha256-${hash}'`))
  })

  it('shows parameters, invariant badges with details, key figures and tables', () => {
    const html = renderHtml(smallResult())
    for (const s of ['dragnet simulate: partition-heal', '<dd>fixture-7</dd>', '<dd>memory</dd>', '<dd>ring (5 edges)</dd>', '<dd>12.0 s</dd>',
      '2 invariants failed', '42 ms', '310 ms', '1.23 s', '1.27×', '2.84×', '82.0%', '4 / 5',
      '<code>bad-signature</code>', '<code>policy:no-red-abroad</code>', 'all links restored']) {
      assert.ok(html.includes(s), `missing ${JSON.stringify(s)}`)
    }
    const details = [...html.matchAll(/<details class="(pass|fail)"( open)?><summary><span class="badge \w+">(PASS|FAIL)<\/span><code>([^<]*)<\/code>/g)]
      .map(m => [m[4], m[3], m[2] === ' open'])
    assert.deepEqual(details, [['no-tlp-leak', 'PASS', false], ['all-converged', 'FAIL', true], ['no-policy-leak', 'FAIL', true]])
    assert.ok(html.includes('&quot;cert-pl&quot;: 28'), 'pretty JSON details, escaped')
    for (const m of smallResult().members) assert.ok(html.includes(`${m.name}</td>`), m.name)
  })

  it('draws the latency CDF with ticks and p50/p95/p99 marked', () => {
    const plot = svgs(renderHtml(smallResult()))[0]
    assert.match(plot, /<path class="cdf" d="M[\d. HV]+"/)
    for (const p of ['p50 42 ms', 'p95 310 ms', 'p99 1.23 s']) assert.ok(plot.includes(`>${p}</text>`), p)
    assert.ok(plot.includes('latency (ms)'))
    assert.ok(plot.includes('>100%</text>') && plot.includes('>0%</text>'))
    assert.ok(plot.includes('>3,000</text>'), 'x axis reaches past the max on a round tick')
  })

  it('draws convergence over time with event markers and the publishing window', () => {
    const plot = svgs(renderHtml(smallResult()))[1]
    assert.match(plot, /<path class="conv" d="M[\d. L]+"/)
    assert.ok(plot.includes('seconds since start'))
    for (const k of ['partition', 'heal', 'down']) assert.match(plot, new RegExp(`<g class="ev( minor)?"><title>[^<]*${k}[^<]*</title><line[^>]*/><text[^>]*>${k}</text>`))
    assert.match(plot, /<rect class="band"[^>]*><title>publishing 0\.0 ms – 4\.00 s<\/title>/)
  })

  it('labels the shape of the scenario before churn when markers crowd the plot', () => {
    const r = largeResult(200)
    const plot = svgs(renderHtml(r))[1]
    const markers = [...plot.matchAll(/<g class="ev( minor)?"><title>[^<]*<\/title><line[^>]*\/>(?:<text[^>]*>([^<]*)<\/text>)?<\/g>/g)]
    assert.equal(markers.length, r.events.filter(e => !e.kind.startsWith('publish-')).length, 'a marker per event')
    const labelled = markers.filter(m => m[2] != null).map(m => m[2])
    for (const k of ['partition', 'heal', 'attack', 'spy', 'converged']) assert.ok(labelled.includes(k), `${k} labelled`)
    assert.ok(labelled.length < markers.length, 'some churn left to its tooltip')
    assert.ok(markers.filter(m => m[1] == null).every(m => m[2] != null), 'every major marker labelled')
  })

  it('draws the topology with role colors, red outlines and tooltips', () => {
    const html = renderHtml(smallResult())
    const plot = svgs(html)[2]
    const nodes = [...plot.matchAll(/<circle class="(node[^"]*)"[^>]*fill="([^"]+)"><title>([^<]*)<\/title>/g)]
    assert.equal(nodes.length, 5)
    assert.equal(nodes[0][2], '#2563eb', 'bureau blue')
    assert.equal(nodes[3][2], '#9ca3af', 'observer grey')
    assert.deepEqual(nodes.map(n => n[1]), ['node', 'node', 'node bad', 'node bad', 'node bad down'])
    assert.match(nodes[2][3], /^ncsc-nl — contributor, NL, policy default\nrecords 37 \/ entitled 40; missing 3/)
    assert.equal((/<path class="edges"[^>]*d="([^"]*)"/.exec(plot)![1].match(/M/g) ?? []).length, 5)
    assert.ok(plot.includes('>anssi-fr</text>'), 'small federations get labels')
  })

  it('escapes untrusted strings everywhere', () => {
    const r = smallResult()
    const evil = '<img src=x onerror=alert(1)>'
    r.scenario = '</title><script>alert(1)</script>'
    r.description = 'see https://evil.example/x.js'
    r.seed = '"><svg onload=alert(1)>'
    r.topology = "ring' onmouseover='alert(1)"
    r.members[0].name = evil
    r.members[1].country = '"><b>'
    r.members[2].policy = '<style>*{background:url(https://evil.example/p.png)}</style>'
    r.members[3].role = '<x>' as 'observer'
    r.members[3].by_tlp = { '<amber>': 3 }
    r.rejections = { '<script src=https://evil.example/a.js></script>': 4 }
    r.withholdings = { '&amp;': 1 }
    r.invariants['<b>x</b>'] = { pass: false, details: { '<k>': '</pre><script>alert(2)</script>' } }
    r.events.push({ t_ms: 3000, kind: '<attack>' as 'attack', detail: '<iframe src="https://evil.example">' })
    const html = renderHtml(r)
    const tags = parseHtml(html)
    assert.ok(!tags.some(t => ['img', 'iframe', 'b', 'x', 'k', 'amber', 'attack'].includes(t.name)), 'no injected element')
    assert.equal(tags.filter(t => t.name === 'script').length, 1)
    assert.equal(tags.filter(t => t.name === 'style').length, 1)
    assert.equal(tags.filter(t => t.name === 'svg').length, 3)
    assert.ok(tags.every(t => t.attrs.every(([k]) => !k.startsWith('on'))), 'no event handler attributes')
    assert.ok(tags.every(t => t.attrs.every(([, v]) => !/https?:/i.test(v))), 'URLs only as text')
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'))
    assert.ok(html.includes('&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;'))
    assert.ok(html.includes('ring&#39; onmouseover=&#39;alert(1)'))
    assert.ok(html.includes('&amp;amp;'))
    // each URL present only as escaped text inside an element, never inside a tag
    for (const m of html.matchAll(/https?:\/\//g)) {
      const before = html.slice(0, m.index)
      assert.ok(before.lastIndexOf('>') > before.lastIndexOf('<'), 'URL outside any tag')
    }
  })

  it('stays well under 1 MB at 200 nodes, even as a full mesh, and renders deterministically', () => {
    const r = largeResult(200)
    const html = renderHtml(r)
    assert.ok(html.length < 300_000, `random:4 is ${html.length} bytes`)
    assert.equal(renderHtml(largeResult(200)), html, 'same input, same bytes')
    const nodes = html.match(/<circle class="node[^"]*"[^>]*><title>/g) ?? []
    assert.equal(nodes.length, 200)
    for (const m of r.members) assert.ok(html.includes(`${m.name}</td>`), m.name)
    assert.ok(html.includes('force-directed layout (seeded)'))
    const mesh = renderHtml(largeResult(200, { topologyName: 'full' }))
    assert.ok(Buffer.byteLength(mesh) < 1_000_000, `full mesh is ${Buffer.byteLength(mesh)} bytes`)
    parseHtml(mesh)
  })

  it('places every node inside the drawing', () => {
    for (const r of [largeResult(200), largeResult(200, { topologyName: 'scale-free' }), largeResult(61, { topologyName: 'ring' })]) {
      const plot = svgs(renderHtml(r))[2]
      const vb = /viewBox="0 0 (\d+) (\d+)"/.exec(plot)!
      for (const m of plot.matchAll(/<circle class="node[^"]*" cx="([-\d.]+)" cy="([-\d.]+)"/g)) {
        const [x, y] = [Number(m[1]), Number(m[2])]
        assert.ok(x >= 0 && x <= Number(vb[1]) && y >= 0 && y <= Number(vb[2]), `${x},${y}`)
      }
    }
  })

  it('draws "no data" for an empty CDF and series, and copes with null convergence and zero edges', () => {
    const r: SimResult = {
      ...smallResult(),
      edges: [],
      deliveries: 0,
      latency_ms: { p50: 0, p95: 0, p99: 0, max: 0, samples: 0 },
      latency_cdf: [],
      convergence_series: [],
      converged: false,
      convergence_ms: null,
      events: []
    }
    const html = renderHtml(r)
    parseHtml(html)
    const [lat, conv, topo] = svgs(html)
    assert.ok(lat.includes('no data (no deliveries)'))
    assert.ok(!lat.includes('class="cdf"'))
    assert.ok(conv.includes('no data (no convergence samples)'))
    assert.ok(topo.includes('>no edges</text>'))
    assert.equal((topo.match(/<circle class="node[^"]*"[^>]*><title>/g) ?? []).length, 5)
    assert.ok(html.includes('never held exactly every entitlement'))
    assert.ok(html.includes('no events'))
    assert.ok(!/NaN|Infinity/.test(withoutScript(html)))
  })

  it('copes with no members, unknown roles, dangling edges and non-finite numbers', () => {
    const empty = renderHtml({ ...smallResult(), members: [], edges: [[0, 1]], invariants: {} })
    parseHtml(empty)
    assert.equal(svgs(empty).length, 3)
    assert.ok(svgs(empty)[2].includes('no nodes'))
    assert.ok(empty.includes('none checked'))
    const r = smallResult()
    r.edges.push([0, 99], [2, 2])
    r.members[1].role = 'auditor' as 'observer'
    r.latency_cdf.push([NaN, 1], [Infinity, 0.5])
    r.convergence_series.push([NaN, NaN])
    r.bytes.payload_per_delivery = NaN
    const html = renderHtml(r)
    parseHtml(html)
    assert.ok(!/NaN|Infinity/.test(withoutScript(html)))
    assert.equal((/<path class="edges"[^>]*d="([^"]*)"/.exec(svgs(html)[2])![1].match(/M/g) ?? []).length, 5, 'dangling and self edges dropped')
    assert.ok(html.includes('auditor (1)'), 'unknown role in the legend')
  })
})
