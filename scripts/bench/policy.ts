import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NodeIdentity } from '../../src/identity/index.js'
import { compilePolicy, loadWarninglists, MAX_REGEX_VALUE_LENGTH, policySubject, WarninglistSet, type Member, type Policy } from '../../src/policy/index.js'
import { createRecord, decodeRecord, unsignedBytes, type SignedRecord, type Tlp } from '../../src/record/index.js'
import type { Observable, StixObject } from '../../src/stix/types.js'
import { sharedDataDir } from '../../test/helpers/shared-data.js'

/*
 * npm run bench -- policy [--json] [--records N] [--peers N] [--seconds S] [--rounds R]
 *
 * What one "decision" costs here, as the forwarder pays it: for every record, one PolicySubject is
 * built (from the decoded record plus its precomputed observables), then the outbound policy is
 * asked for each of --peers receiving peers. Subject construction, the lazy per-subject work
 * (labels, confidence, valid_until, the rule pre-filter) and the warninglist lookups of all the
 * record's observables are inside the timed loop, amortised over the peers of that record.
 * Observable extraction from the STIX pattern is not (ingest does it once and stores it).
 * decisions/s = records × peers / time.
 *
 * Reference in the same run: decodeRecord (the real receive-side parse: UTF-8, JSON.parse,
 * field checks, canonical-form check, id hash) of the same signed records, and a bare
 * JSON.parse of their canonical bytes.
 *
 * Every workload runs in R alternating rounds within S seconds each (default 5 rounds, 10 s);
 * the figures are medians over the rounds, per CPU-second of this process (so other processes
 * on a shared machine do not dilute them), with wall-clock rates beside.
 */

const NOW = Date.UTC(2025, 5, 1)
const DAY = 86_400_000

function arg (args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(args[i + 1])
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`)
  return v
}

function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Ioc {
  sco: string
  path: string
  obs: Observable[]
  value: string
}

const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/
const IPV4_PORT = /^((?:\d{1,3}\.){3}\d{1,3}):\d+$/
const IPV4_CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/
const DOMAIN = /^[a-z0-9.-]+\.[a-z]{2,}$/

/** Just enough observable extraction for maltrail lines; the real one lives in src/stix. */
function iocOf (line: string): Ioc | null {
  const l = line.trim()
  if (l === '' || l.startsWith('#') || l.startsWith('/')) return null
  const port = IPV4_PORT.exec(l)
  const ip = port != null ? port[1] : IPV4.test(l) ? l : null
  if (ip != null) return { sco: 'ipv4-addr', path: 'ipv4-addr:value', value: ip, obs: [{ kind: 'ipv4', value: ip }] }
  if (IPV4_CIDR.test(l)) return { sco: 'ipv4-addr', path: 'ipv4-addr:value', value: l, obs: [{ kind: 'ipv4-cidr', value: l }] }
  if (/^(https?|ftp):\/\//i.test(l) || l.includes('/')) {
    const url = /^[a-z]+:\/\//i.test(l) ? l : `http://${l}`
    const host = url.replace(/^[a-z]+:\/\//i, '').split(/[/:?#]/)[0].toLowerCase()
    const hostObs: Observable = IPV4.test(host) ? { kind: 'ipv4', value: host } : { kind: 'domain', value: host }
    return { sco: 'url', path: 'url:value', value: url, obs: [{ kind: 'url', value: url }, hostObs] }
  }
  const d = l.toLowerCase()
  if (DOMAIN.test(d)) return { sco: 'domain-name', path: 'domain-name:value', value: d, obs: [{ kind: 'domain', value: d }] }
  return null
}

const BENIGN: Ioc[] = [
  iocOf('8.8.8.8')!, iocOf('1.1.1.1')!, iocOf('google.com')!, iocOf('www.microsoft.com')!, iocOf('10.20.30.40')!
]

function hex (rand: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16)
  return s
}

function uuid (rand: () => number): string {
  const h = hex(rand, 32)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

interface Prepared {
  signed: SignedRecord
  observables: Observable[]
  scoTypes: string[]
}

const COUNTRIES = ['DE', 'FR', 'NL', 'BE', 'IT', 'ES', 'PL', 'SE', 'US', 'GB', 'CA', 'JP', 'CH', 'NO']

function member (id: NodeIdentity, i: number, role: Member['role']): Member {
  return { peerId: id.peerId, name: `member-${i}`, country: COUNTRIES[i % COUNTRIES.length], role }
}

/** 50 rules of the kinds a bureau writes; most miss on most records so evaluation runs deep. */
function benchPolicyDoc (ids: { blocked: string[], partners: string[] }): Record<string, unknown> {
  const rules: Array<Record<string, unknown>> = []
  const out = (id: string, match: Record<string, unknown>, action = 'withhold') => rules.push({ id, direction: 'outbound', match, action, reason: id })
  const inb = (id: string, match: Record<string, unknown>, action = 'reject') => rules.push({ id, direction: 'inbound', match, action, reason: id })
  // Outbound: 40 rules. All but the last few rarely match.
  out('blocked-peers', { peer: { id: ids.blocked } })
  out('no-test-data', { labels: { any: ['test', 'exercise'] } })
  out('no-malware-to-vendors', { type: ['malware', 'tool'], peer: { role: ['contributor'] } })
  out('no-reports-outside-eu', { type: ['report'], peer: { not_group: ['eu'] } })
  for (const [i, c] of ['KP', 'IR', 'RU', 'BY', 'CN', 'SY'].entries()) out(`embargo-${i}`, { peer: { country: [c] } })
  for (const [i, c] of ['KP', 'IR', 'RU', 'BY'].entries()) out(`authored-in-${c.toLowerCase()}-${i}`, { author: { country: [c] } })
  out('low-confidence-to-partners', { confidence: { max: 10 }, peer: { group: ['partners'] } })
  out('ancient', { age: { min: '3650d' } })
  out('sinkholed', { warninglist: { hit: true, lists: ['sinkholes'] } })
  out('cloud-ranges-to-vendors', { warninglist: { hit: true, lists: ['amazon-aws', 'google-gcp', 'microsoft-azure'] }, peer: { role: ['contributor'] } })
  out('observer-no-amber', { peer: { role: ['observer'] }, tlp: ['amber', 'amber+strict'] })
  for (let i = 0; i < 8; i++) out(`campaign-${i}`, { labels: { all: [`campaign-${i}`, 'restricted'] } })
  out('revoked-to-vendors', { revoked: true, peer: { role: ['contributor'] } })
  out('vuln-embargo', { type: ['vulnerability'], age: { max: '7d' } })
  out('identity-objects', { type: ['identity'] })
  out('user-accounts-to-partners-only', { observables: { kinds: ['user-account'] }, peer: { not_group: ['partners'] } })
  out('threat-actor-names', { type: ['threat-actor', 'intrusion-set'], peer: { role: ['contributor', 'observer'] } })
  out('no-files-to-observers', { observables: { kinds: ['file', 'artifact'] }, peer: { role: ['observer'] } })
  out('hash-only-low-confidence', { observables: { kinds: ['file'] }, confidence: { max: 20 } })
  out('from-blocked-authors', { author: { id: ids.blocked } })
  out('contributor-records-to-contributors', { author: { role: ['contributor'] }, peer: { role: ['contributor'] }, tlp: ['green'] })
  // The ones that do decide: these reach every record.
  out('personal-data-outside-eu', { observables: { kinds: ['email-addr', 'user-account'] }, peer: { not_group: ['eu'] } })
  out('benign-values', { warninglist: { hit: true } })
  out('expired', { expired: true })
  out('vendors-clear-green-only', { peer: { role: ['contributor'] }, tlp: ['amber', 'amber+strict'] })
  // Inbound: 10 rules.
  inb('contributor-confidence', { author: { role: ['contributor'] }, confidence: { max: 49, missing: 'match' } })
  inb('contributor-benign', { author: { role: ['contributor'] }, warninglist: { hit: true } })
  inb('stale', { age: { min: '365d' } })
  inb('expired-in', { expired: true })
  inb('test-data-in', { labels: { any: ['test'] } })
  inb('blocked-authors-in', { author: { id: ids.blocked } })
  inb('observers-relay', { from: { role: ['observer'] } })
  inb('private-ranges', { warninglist: { hit: true, lists: ['rfc1918', 'rfc5735'] } })
  inb('identity-in', { type: ['identity'] })
  inb('partners-accept', { author: { group: ['partners'] } }, 'accept')
  return {
    name: 'bench-50',
    groups: {
      eu: { countries: ['DE', 'FR', 'NL', 'BE', 'IT', 'ES', 'PL', 'SE'] },
      partners: { peers: ids.partners },
      'eu-vendors': { countries: ['DE', 'FR', 'NL'], roles: ['contributor'] }
    },
    defaults: { inbound: 'accept', outbound: 'send' },
    rules
  }
}

interface Rate {
  /** operations per second of this process's CPU time (user + system, all its threads) */
  cpu: number
  /** operations per second of wall-clock time */
  wall: number
}

/** Runs `pass` (which returns the operations it did) repeatedly for `ms` of wall-clock time. */
function rate (ms: number, pass: () => number): Rate {
  let ops = 0
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    ops += pass()
    elapsed = performance.now() - start
  }
  const cpu = process.cpuUsage(cpu0)
  return { cpu: ops / ((cpu.user + cpu.system) / 1e6), wall: ops / (elapsed / 1000) }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/**
 * Measures several workloads in alternating short rounds and reports each one's median: on a
 * shared machine a burst of load then hits all of them alike instead of skewing one ratio.
 * Rates are per CPU-second of this process, which time-slicing by other processes does not
 * dilute; wall-clock medians are reported beside them.
 */
function interleaved (seconds: number, rounds: number, passes: Record<string, () => number>): Record<string, Rate> {
  const names = Object.keys(passes)
  for (const n of names) passes[n]()
  const rates: Record<string, Rate[]> = Object.fromEntries(names.map(n => [n, []]))
  const slice = (seconds * 1000) / rounds
  for (let r = 0; r < rounds; r++) for (const n of names) rates[n].push(rate(slice, passes[n]))
  return Object.fromEntries(names.map(n => [n, { cpu: median(rates[n].map(x => x.cpu)), wall: median(rates[n].map(x => x.wall)) }]))
}

// The hostile list regex of issue 10: a backtracking engine takes ~2 s on a 28-character label.
const HOSTILE_REGEX = '/^(([a-z0-9]+)-?)+\\.dyn\\.example$/i'

interface RedosFigures {
  /** slowest of the runs, ms: a value far past the length cap */
  value10k: number
  /** slowest of the runs, ms: a value just under the cap, through the RE2 engine */
  valueAtCap: number
  /** the same regex as a JavaScript RegExp (backtracking) on a 20-character label, ms */
  backtracking20: number
}

/** How long a warninglist with the hostile regex takes to decide hostile values (worst of `runs`). */
function redosFigures (runs = 20): RedosFigures {
  const set = new WarninglistSet([{ id: 'dyn', doc: { name: 'dynamic hosts', type: 'regex', list: [HOSTILE_REGEX], matching_attributes: ['hostname', 'domain'] } }])
  const worst = (value: string): number => {
    let max = 0
    for (let i = 0; i < runs; i++) {
      const t = performance.now()
      set.match({ kind: 'domain', value })
      max = Math.max(max, performance.now() - t)
    }
    return max
  }
  const label = (n: number): string => 'a1'.repeat(n / 2) + '!.dyn.example'
  const value10k = worst(label(10_000))
  const valueAtCap = worst(label(MAX_REGEX_VALUE_LENGTH - 14))
  const backtracking = /^(([a-z0-9]+)-?)+\.dyn\.example$/i
  const t = performance.now()
  backtracking.test('a'.repeat(20) + '!.dyn.example')
  return { value10k, valueAtCap, backtracking20: performance.now() - t }
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const shared = sharedDataDir()
  if (shared == null) {
    const reason = 'shared data not found (set DRAGNET_SHARED_DATA or keep ../shared/data beside the checkout): the policy bench needs the MISP warninglists and maltrail indicators'
    console.log(`policy bench skipped: ${reason}`)
    return { skipped: true, reason }
  }
  const nRecords = arg(args, 'records', 4000)
  const nPeers = arg(args, 'peers', 8)
  const seconds = arg(args, 'seconds', 10)
  const rounds = Math.round(arg(args, 'rounds', 5))
  const rand = mulberry32(0xd4a6)

  const t0 = performance.now()
  const lists = await loadWarninglists([join(shared, 'misp', 'warninglists')])
  const loadMs = performance.now() - t0

  // Members: this node (DE bureau), 9 other authors, 20 receiving peers.
  const idents = await Promise.all(Array.from({ length: 30 }, (_, i) => NodeIdentity.fromSeed(new Uint8Array(32).fill(i + 1))))
  const roleAt = (i: number): Member['role'] => i % 5 === 3 ? 'contributor' : i % 7 === 6 ? 'observer' : 'bureau'
  const members = idents.map((id, i) => member(id, i, i === 0 ? 'bureau' : roleAt(i)))
  const self = members[0]
  const authors = members.slice(0, 10).filter(m => m.role !== 'observer')
  const peers = members.slice(10)
  const byId = new Map(members.map(m => [m.peerId, m]))
  const doc = benchPolicyDoc({ blocked: [members[28].peerId, members[29].peerId], partners: [members[11].peerId, members[12].peerId, members[13].peerId] })
  const policy: Policy = compilePolicy(doc, '.', { warninglists: lists })

  // IoCs from the maltrail trails.
  const trailDir = join(shared, 'iocs', 'maltrail')
  const iocs: Ioc[] = []
  for (const f of (await readdir(trailDir)).filter(f => f.endsWith('.txt')).sort()) {
    for (const line of (await readFile(join(trailDir, f), 'utf8')).split('\n')) {
      const ioc = iocOf(line)
      if (ioc != null) iocs.push(ioc)
    }
  }

  const identById = new Map(idents.map(id => [id.peerId, id]))
  const seqs = new Map<string, number>()
  const prepared: Prepared[] = []
  const LABELS = ['malicious-activity', 'c2', 'botnet', 'phishing', 'anomalous-activity', 'campaign-3']
  for (let i = 0; i < nRecords; i++) {
    const author = authors[Math.floor(rand() * authors.length)]
    const picked: Ioc[] = []
    const n = 1 + Math.floor(rand() * 3)
    for (let k = 0; k < n; k++) picked.push(rand() < 0.04 ? BENIGN[Math.floor(rand() * BENIGN.length)] : iocs[Math.floor(rand() * iocs.length)])
    const parts = picked.map(p => `[${p.path} = '${p.value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`)
    const observables = picked.flatMap(p => p.obs)
    const scoTypes = new Set(picked.map(p => p.sco))
    if (rand() < 0.2) {
      const sha = rand() < 0.05 ? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' : hex(rand, 64)
      parts.push(`[file:hashes.'SHA-256' = '${sha}']`)
      observables.push({ kind: 'sha256', value: sha })
      scoTypes.add('file')
    }
    if (rand() < 0.03) {
      const email = `ops${i}@mail-${i}.example`
      parts.push(`[email-addr:value = '${email}']`)
      observables.push({ kind: 'email', value: email })
      scoTypes.add('email-addr')
    }
    const created = new Date(NOW - Math.floor(rand() * 120 * DAY)).toISOString()
    const body: StixObject = {
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--${uuid(rand)}`,
      created,
      modified: created,
      pattern: parts.join(' OR '),
      pattern_type: 'stix',
      valid_from: created,
      labels: LABELS.filter(() => rand() < 0.25)
    }
    if (rand() < 0.8) body.confidence = 30 + Math.floor(rand() * 71)
    if (rand() < 0.15) body.valid_until = new Date(NOW - Math.floor(rand() * 10 * DAY)).toISOString()
    const r = rand()
    const tlp: Tlp = r < 0.35 ? 'clear' : r < 0.85 ? 'green' : r < 0.95 ? 'amber' : 'red'
    const seq = (seqs.get(author.peerId) ?? 0) + 1
    seqs.set(author.peerId, seq)
    const signed = createRecord(identById.get(author.peerId)!, { seq, ts: Date.parse(created), tlp, body })
    prepared.push({ signed, observables, scoTypes: [...scoTypes] })
  }
  const bytes = prepared.map(p => p.signed.bytes)
  const avgBytes = bytes.reduce((a, b) => a + b.length, 0) / bytes.length
  const ctxs = peers.slice(0, Math.min(nPeers, peers.length)).map(peer => ({ self, peer, now: NOW, peerOnRoster: true, author: undefined as Member | undefined }))
  while (ctxs.length < nPeers) ctxs.push({ ...ctxs[ctxs.length % peers.length] })
  const authorOf = prepared.map(p => byId.get(p.signed.record.author))

  // One pass over the records so the verdict mix can be shown.
  const verdicts = new Map<string, number>()
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]
    const s = policySubject({ ...p.signed.record, id: p.signed.id }, { observables: p.observables, scoTypes: p.scoTypes })
    for (const ctx of ctxs) {
      ctx.author = authorOf[i]
      const d = policy.outbound(s, ctx)
      verdicts.set(`${d.verdict} ${d.rule}`, (verdicts.get(`${d.verdict} ${d.rule}`) ?? 0) + 1)
    }
  }

  const utf8 = new TextDecoder()
  const allObs = prepared.flatMap(p => p.observables)
  const rates = interleaved(seconds, rounds, {
    // Reference: the receive-side decode of the same signed records.
    decode: () => {
      for (const b of bytes) decodeRecord(b)
      return bytes.length
    },
    jsonParse: () => {
      for (const b of bytes) JSON.parse(utf8.decode(unsignedBytes(b)))
      return bytes.length
    },
    // Outbound: one fresh subject per record, one decision per peer.
    outbound: () => {
      for (let i = 0; i < prepared.length; i++) {
        const p = prepared[i]
        const s = policySubject({ ...p.signed.record, id: p.signed.id }, { observables: p.observables, scoTypes: p.scoTypes })
        const author = authorOf[i]
        for (let k = 0; k < ctxs.length; k++) {
          const ctx = ctxs[k]
          ctx.author = author
          policy.outbound(s, ctx)
        }
      }
      return prepared.length * ctxs.length
    },
    // Inbound: one fresh subject and one decision per record (nothing amortised).
    inbound: () => {
      for (let i = 0; i < prepared.length; i++) {
        const p = prepared[i]
        const s = policySubject({ ...p.signed.record, id: p.signed.id }, { observables: p.observables, scoTypes: p.scoTypes })
        const author = authorOf[i]
        policy.inbound(s, { self, from: author ?? 'self', author, now: NOW })
      }
      return prepared.length
    },
    lookups: () => {
      for (const o of allObs) lists.match(o)
      return allObs.length
    }
  })
  const ratio = rates.outbound.cpu / rates.decode.cpu
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
  const line = (label: string, r: Rate, note: string): void => {
    console.log(`  ${label.padEnd(22)} ${fmt(r.cpu).padStart(11)} /s   (wall ${fmt(r.wall).padStart(9)} /s)   ${note}`)
  }
  console.log(`policy bench: ${prepared.length} signed indicator records (avg ${Math.round(avgBytes)} B, ${allObs.length} observables from maltrail), ${policy.rules.length} rules, ${lists.lists.length} warninglists / ${fmt(lists.size)} entries (loaded in ${Math.round(loadMs)} ms)`)
  console.log(`  medians of ${rounds} interleaved rounds; rates per CPU-second of this process, wall-clock beside`)
  line('outbound decisions', rates.outbound, `fresh subject per record + ${ctxs.length} peers each; subject build + warninglist lookups included`)
  line('decodeRecord', rates.decode, 'reference: the same records, receive-side decode (no signature check)')
  console.log(`  ${'ratio'.padEnd(22)} ${ratio.toFixed(1).padStart(11)} ×    outbound decisions per decodeRecord (targets: ≥ 5×, ≥ 200,000 decisions/s)`)
  line('JSON.parse only', rates.jsonParse, 'UTF-8 decode + JSON.parse of the canonical bytes')
  line('inbound decisions', rates.inbound, 'fresh subject and lookups per decision, nothing amortised')
  line('warninglist lookups', rates.lookups, 'one observable against all lists')
  const top = [...verdicts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)
  const total = prepared.length * ctxs.length
  console.log(`  outbound verdicts: ${top.map(([k, v]) => `${k} ${(100 * v / total).toFixed(1)}%`).join(', ')}`)
  const redos = redosFigures()
  console.log(`  hostile list regex ${HOSTILE_REGEX}, worst of 20: ${redos.value10k.toFixed(2)} ms on a 10,000-character value (past the ${MAX_REGEX_VALUE_LENGTH}-character cap), ${redos.valueAtCap.toFixed(2)} ms on ${MAX_REGEX_VALUE_LENGTH - 1} characters (RE2, linear time); a backtracking RegExp takes ${redos.backtracking20.toFixed(1)} ms on 20 (target: < 10 ms)`)
  return {
    decisions_per_s: Math.round(rates.outbound.cpu),
    decode_per_s: Math.round(rates.decode.cpu),
    decode_ratio: Number(ratio.toFixed(2)),
    rules: policy.rules.length,
    warninglist_entries: lists.size,
    warninglists: lists.lists.length,
    records: prepared.length,
    peers_per_record: ctxs.length,
    record_bytes_avg: Math.round(avgBytes),
    decisions_per_wall_s: Math.round(rates.outbound.wall),
    decode_per_wall_s: Math.round(rates.decode.wall),
    json_parse_per_s: Math.round(rates.jsonParse.cpu),
    inbound_decisions_per_s: Math.round(rates.inbound.cpu),
    warninglist_lookups_per_s: Math.round(rates.lookups.cpu),
    warninglist_load_ms: Math.round(loadMs),
    hostile_regex_10k_ms: Number(redos.value10k.toFixed(3)),
    hostile_regex_at_cap_ms: Number(redos.valueAtCap.toFixed(3)),
    backtracking_regex_20_ms: Number(redos.backtracking20.toFixed(3)),
    rounds
  }
}
