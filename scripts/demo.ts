import '../src/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Role } from '../src/identity/index.js'
import type { DragnetNode } from '../src/node.js'
import type { Tlp } from '../src/record/index.js'
import { loadContent, type ContentSource } from '../src/sim/data-source.js'
import { SimFederation } from '../src/sim/federation.js'
import { indicator, type IndicatorInit } from '../src/sim/stix-factory.js'
import { topology } from '../src/sim/topology.js'
import type { AuditEntry } from '../src/store/index.js'

/*
 * npm run demo — a five-member federation in this process (memory transport, every member
 * peering with every other, a temporary LevelDB per node), each member running its own example
 * policy. It publishes a handful of real indicators and prints what reached whom and, for what
 * did not, the rule that stopped it, read from the audit log of the node that withheld or
 * rejected it.
 */

const POLICIES = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'config', 'policies')
const DEADLINE_MS = 25_000

interface Member {
  name: string
  country: string
  role: Role
  policy: string | null
  about: string
}

// NCA stands outside the EU on purpose: vendor-intake.yaml has no personal-data rule, so an EU
// member running it would pass BKA's e-mail indicator on to the US (policy is per edge).
const MEMBERS: Member[] = [
  { name: 'BKA', country: 'DE', role: 'bureau', policy: 'eu-bureau', about: 'EU bureau: no personal data to peers outside the EU' },
  { name: 'FBI', country: 'US', role: 'bureau', policy: 'strict-bureau', about: 'default-deny: sends to partner bureaus (DE FR NL BE LU AT) only' },
  { name: 'NCA', country: 'GB', role: 'bureau', policy: 'vendor-intake', about: 'vendor records need confidence >= 50 and no warninglist hit' },
  { name: 'VENDOR', country: 'US', role: 'contributor', policy: null, about: 'security vendor: no policy file, the TLP floor only' },
  { name: 'OBSERVER', country: 'NL', role: 'observer', policy: 'observer', about: 'regulator: receives, never publishes or relays' }
]

interface Planned {
  author: string
  tlp: Tlp
  to?: string[]
  kind: IndicatorInit['kind']
  value: string
  note: string
  confidence?: number
}

/** Picks distinct real values from the maltrail trails: a family's first unused value of a kind, else any of that kind. */
function picker (content: ContentSource): (kind: IndicatorInit['kind'], family: string) => { value: string, family: string } {
  const used = new Set<string>()
  return (kind, family) => {
    const ok = (v: ContentSource['values'][number]): boolean => v.kind === kind && !used.has(v.value) && v.family !== 'mass_scanner_cidr'
    const v = content.values.find(x => ok(x) && x.family === family) ?? content.values.find(ok)
    if (v == null) throw new Error(`no ${kind} value in the content source`)
    used.add(v.value)
    return { value: v.value, family: v.family }
  }
}

function plan (content: ContentSource): Planned[] {
  const pick = picker(content)
  const fam = (kind: IndicatorInit['kind'], family: string): { kind: IndicatorInit['kind'], value: string, note: string } => {
    const v = pick(kind, family)
    return { kind, value: v.value, note: `${v.family} ${kind === 'ipv4' ? 'IP' : kind}` }
  }
  const phishDomain = pick('domain', 'dridex').value
  const live = <T extends { note: string }>(p: T): T => ({ ...p, note: `${p.note}, live operation` })
  return [
    { author: 'BKA', tlp: 'green', ...fam('domain', 'emotet') },
    { author: 'BKA', tlp: 'green', kind: 'email', value: `billing@${phishDomain}`, note: 'phishing sender (personal data)' },
    { author: 'BKA', tlp: 'red', ...live(fam('ipv4', 'sliver')) },
    { author: 'FBI', tlp: 'green', ...fam('domain', 'apt_lazarus') },
    { author: 'FBI', tlp: 'clear', ...fam('url', 'agenttesla') },
    { author: 'FBI', tlp: 'amber', to: ['BKA'], ...fam('ipv4', 'emotet') },
    { author: 'NCA', tlp: 'green', ...fam('domain', 'agenttesla') },
    { author: 'VENDOR', tlp: 'green', ...fam('domain', 'trickbot'), confidence: 85 },
    { author: 'VENDOR', tlp: 'green', ...fam('ipv4', 'trickbot'), confidence: 60 },
    { author: 'VENDOR', tlp: 'green', ...fam('domain', 'dridex'), confidence: 30 },
    // A sandbox that saw malware resolve names through Google's resolver: a classic false positive.
    { author: 'VENDOR', tlp: 'green', kind: 'ipv4', value: '8.8.8.8', note: 'public resolver (warninglist)', confidence: 90 }
  ]
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function pad (s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

function short (s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…'
}

async function main (): Promise<void> {
  const t0 = Date.now()
  const content = await loadContent()
  const planned = plan(content)
  const dir = await mkdtemp(join(tmpdir(), 'dragnet-demo-'))
  const edges = topology('full', MEMBERS.length, 'demo')
  const fed = new SimFederation({
    dir,
    members: MEMBERS.map(m => ({ name: m.name, country: m.country, role: m.role, ...(m.policy != null ? { policy: join(POLICIES, `${m.policy}.yaml`) } : {}) })),
    edges,
    transport: 'memory',
    seed: 'demo'
  })
  const cleanup = async (): Promise<void> => {
    await fed.stop()
    await rm(dir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })
  try {
    await fed.start()
    await fed.waitConnected(10_000)
    const nodes = MEMBERS.map((_, i) => fed.node(i))
    const byName = new Map(MEMBERS.map((m, i) => [m.name, nodes[i]]))
    const nameOf = new Map(nodes.map((n, i) => [n.peerId, MEMBERS[i].name]))
    // Red and amber withholdings are decided (and audited) by gossip when a record is stored, so
    // every gossip session should be up before anything is published.
    const until = Date.now() + 10_000
    while (!nodes.every(n => n.gossip!.peerSummary().length === MEMBERS.length - 1) && Date.now() < until) await sleep(20)

    const ids: string[] = []
    const publishedAt = Date.now()
    for (const [i, p] of planned.entries()) {
      const body = indicator({
        kind: p.kind,
        value: p.value,
        seed: `demo:${i}:${p.value}`,
        created: new Date(publishedAt - 3600_000).toISOString(),
        name: p.note,
        labels: ['demo'],
        ...(p.confidence != null ? { confidence: p.confidence } : {})
      })
      const to = p.to?.map(n => byName.get(n)!.peerId)
      const [v] = await byName.get(p.author)!.publish([body], { tlp: p.tlp, ...(to != null ? { to } : {}) })
      if (v.status !== 'stored') throw new Error(`${p.author} could not publish ${p.value}: ${JSON.stringify(v)}`)
      ids.push(v.id!)
    }

    // Converged = nothing changes any more: gossip has gone quiet and one anti-entropy round on
    // every edge moved nothing new.
    const snapshot = async (): Promise<string> => (await Promise.all(nodes.map(async n => (await n.store.hasMany(ids)).map(b => (b ? '1' : '0')).join('')))).join('|')
    const settle = async (quietMs: number): Promise<boolean> => {
      let last = await snapshot()
      let since = Date.now()
      while (Date.now() < t0 + DEADLINE_MS) {
        await sleep(100)
        const now = await snapshot()
        if (now !== last) { last = now; since = Date.now() } else if (Date.now() - since >= quietMs) return true
      }
      return false
    }
    let settled = await settle(700)
    for (const [a, b] of edges) {
      const [x, y] = nodes[a].peerId < nodes[b].peerId ? [nodes[a], nodes[b]] : [nodes[b], nodes[a]]
      // A session the node started itself may be running; then that one does the work.
      await x.sync!.syncNow(y.peerId).catch(() => {})
    }
    settled = (await settle(400)) && settled
    const convergedMs = Date.now() - publishedAt

    // What each node holds, who handed it over, and every withhold/reject decision about our records.
    const holds = await Promise.all(nodes.map(async n => await n.store.hasMany(ids)))
    const fromOf = await Promise.all(nodes.map(async n => await Promise.all(ids.map(async id => (await n.store.getInfo(id))?.from))))
    const audit = new Map<string, Array<AuditEntry & { by: string }>>()
    for (const [i, n] of nodes.entries()) {
      for (const id of ids) {
        for (const e of await n.store.auditEntries({ record: id })) {
          if (e.verdict !== 'withhold' && e.verdict !== 'reject') continue
          const list = audit.get(id) ?? []
          list.push({ ...e, by: MEMBERS[i].name })
          audit.set(id, list)
        }
      }
    }
    print({ planned, ids, holds, fromOf, audit, nameOf, content, convergedMs, settled, nodes })
  } finally {
    await cleanup()
  }
  console.log(`\n(${((Date.now() - t0) / 1000).toFixed(1)} s; the temporary data directories are removed)`)
}

interface Outcome {
  planned: Planned[]
  ids: string[]
  holds: boolean[][]
  fromOf: Array<Array<string | undefined>>
  audit: Map<string, Array<AuditEntry & { by: string }>>
  nameOf: Map<string, string>
  content: ContentSource
  convergedMs: number
  settled: boolean
  nodes: DragnetNode[]
}

function print (o: Outcome): void {
  const out: string[] = []
  const say = (s = ''): void => { out.push(s) }
  say('dragnet demo: a five-member federation on one machine')
  say('(one process, memory transport, every member peering with every other, a LevelDB per node)')
  say()
  say('Members')
  for (const m of MEMBERS) say(`  ${pad(m.name, 9)} ${m.country}  ${pad(m.role, 12)} ${pad(m.policy != null ? `${m.policy}.yaml` : '(no policy)', 19)} ${m.about}`)
  say()
  say(o.content.origin === 'shared-data'
    ? `Indicator values: real ones from the maltrail trails in the shared data (${o.content.values.length} values loaded).`
    : 'Indicator values: SYNTHETIC — the shared data set (../shared/data or $DRAGNET_SHARED_DATA) was not found.')
  say(`The e-mail address is made up${o.content.origin === 'shared-data' ? ' on a real phishing domain' : ''}; 8.8.8.8 is the planted false positive.`)
  say(`${o.ids.length} records published; ${o.settled ? 'settled' : 'NOT settled'} ${(o.convergedMs / 1000).toFixed(1)} s later.`)
  say()

  // The matrix: one row per record, one column per member.
  const what = (p: Planned): string => short(`${p.kind === 'ipv4' ? 'ip' : p.kind} ${p.value}`, 38)
  const tags = (p: Planned): string => [p.note, p.confidence != null ? `conf ${p.confidence}` : '', p.to != null ? `to ${p.to.join(',')}` : ''].filter(s => s !== '').join(', ')
  const W = MEMBERS.map(m => Math.max(m.name.length, 3) + 2)
  say('What reached whom')
  say(`  ${pad('#', 3)}${pad('author', 8)}${pad('TLP', 7)}${pad('record', 40)}${MEMBERS.map((m, j) => pad(m.name, W[j])).join('')}about`)
  for (const [r, p] of o.planned.entries()) {
    const cells = MEMBERS.map((m, j) => pad(m.name === p.author ? '●' : o.holds[j][r] ? '✓' : '✗', W[j]))
    say(`  ${pad(String(r + 1), 3)}${pad(p.author, 8)}${pad(p.tlp, 7)}${pad(what(p), 40)}${cells.join('')}${tags(p)}`)
  }
  say()

  // Why: for each member that lacks a record, the decision that kept it away — its own
  // rejection (it would refuse the record from anyone), else its author's withholding, else
  // whatever every other holder decided. For a member that got a record its author withheld
  // from it, who passed it on. `dragnet audit` has every decision, relays' included.
  say('Why')
  const rulesSeen = new Map<string, { reason: string, at: Set<string> }>()
  const describe = (es: Array<AuditEntry & { by: string }>): string => {
    const seen = new Set<string>()
    const parts: string[] = []
    for (const e of es) {
      const k = `${e.by} ${e.verdict} ${e.rule}`
      if (seen.has(k)) continue
      seen.add(k)
      parts.push(`${e.verdict === 'reject' ? 'rejected by' : 'withheld by'} ${e.by}: ${e.rule}`)
      const r = rulesSeen.get(e.rule) ?? { reason: e.reason, at: new Set<string>() }
      r.at.add(e.by)
      rulesSeen.set(e.rule, r)
    }
    return parts.join('; ')
  }
  for (const [r, p] of o.planned.entries()) {
    const entries = o.audit.get(o.ids[r]) ?? []
    const lines: string[] = []
    for (const [j, m] of MEMBERS.entries()) {
      if (m.name === p.author) continue
      const rejected = entries.filter(e => e.verdict === 'reject' && e.by === m.name)
      const withheld = entries.filter(e => e.verdict === 'withhold' && o.nameOf.get(e.peer ?? '') === m.name)
      const byAuthor = withheld.filter(e => e.by === p.author)
      if (!o.holds[j][r]) {
        const decisive = rejected.length > 0 ? rejected : byAuthor.length > 0 ? byAuthor : withheld
        lines.push(`      ✗ ${pad(m.name, 9)} ${decisive.length > 0 ? describe(decisive) : '(no decision recorded)'}`)
      } else if (byAuthor.length > 0) {
        const from = o.nameOf.get(o.fromOf[j][r] ?? '') ?? '?'
        lines.push(`      ✓ ${pad(m.name, 9)} relayed by ${from}, though ${describe(byAuthor)}`)
      }
    }
    if (lines.length === 0) continue
    say(`  ${pad(String(r + 1), 3)}${p.author} ${p.tlp} ${p.kind === 'ipv4' ? 'ip' : p.kind} ${p.value} — ${tags(p)}`)
    for (const l of lines) say(l)
  }
  say()

  say('Legend')
  say('  ● author (published it)   ✓ stored   ✗ not stored   relayed by X: received from X, not from its author')
  say('  tlp-floor:* rules are the fixed TLP 2.0 floor that no policy can widen; default:* is a policy\'s default')
  say('  Rules that decided above (node whose audit log names it; the reason as logged):')
  const ruleW = Math.max(...[...rulesSeen.keys()].map(k => k.length)) + 2
  for (const [rule, s] of [...rulesSeen.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    say(`    ${pad(rule, ruleW)}${pad(`(${[...s.at].join(', ')})`, 16)}${s.reason}`)
  }
  say('  Ask a node yourself: dragnet audit --data DIR --record ID [--peer PEERID]')
  console.log(out.join('\n'))
}

main().then(() => process.exit(0), (err) => {
  console.error(err)
  process.exit(1)
})
