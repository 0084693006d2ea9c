/**
 * Hand-built SimResults for the report renderers: a small one whose every figure the tests can
 * name, and a large one (200 nodes by default) of random-looking but seeded data.
 */
import { Rng } from '../../../src/sim/random.js'
import { topology } from '../../../src/sim/topology.js'
import type { SimEvent, SimMemberResult, SimResult } from '../../../src/sim/result.js'

function member (index: number, over: Partial<SimMemberResult>): SimMemberResult {
  return {
    index,
    name: `node-${index}`,
    peerId: `12D3KooWfixture${String(index).padStart(4, '0')}`,
    country: 'FR',
    role: 'contributor',
    policy: 'default',
    up: true,
    records: 40,
    by_tlp: { clear: 30, green: 10 },
    entitled: 40,
    missing: 0,
    unexpected: 0,
    rejected: 0,
    withheld: 0,
    penalties: 0,
    ...over
  }
}

export function smallResult (): SimResult {
  return {
    scenario: 'partition-heal',
    description: 'Two halves split for 5 s, then heal',
    seed: 'fixture-7',
    nodes: 5,
    transport: 'memory',
    topology: 'ring',
    edges: [[0, 1], [1, 2], [2, 3], [3, 4], [0, 4]],
    members: [
      member(0, { name: 'anssi-fr', role: 'bureau', policy: 'fr-strict' }),
      member(1, { name: 'bsi-de', country: 'DE', policy: 'de-default', withheld: 3 }),
      member(2, { name: 'ncsc-nl', country: 'NL', records: 37, missing: 3, rejected: 2 }),
      member(3, { name: 'cert-ee', country: 'EE', role: 'observer', records: 41, unexpected: 1, penalties: 2 }),
      member(4, { name: 'cert-pl', country: 'PL', up: false, records: 12, entitled: 40, missing: 28 })
    ],
    records_published: 40,
    deliveries: 158,
    latency_ms: { p50: 42, p95: 310, p99: 1234, max: 2890, samples: 158 },
    latency_cdf: [[5, 0.05], [20, 0.2], [42, 0.5], [100, 0.8], [310, 0.95], [1234, 0.99], [2890, 1]],
    converged: false,
    convergence_ms: null,
    convergence_series: [[0, 0], [1000, 0.3], [2000, 0.6], [5000, 0.55], [8000, 0.8], [12000, 0.82]],
    bytes: { payload_per_delivery: 1.27, protocol_per_delivery: 2.84, payload_total: 262_144, protocol_total: 589_000, record_avg: 1400 },
    rejections: { 'bad-signature': 2, 'tlp-floor': 7 },
    withholdings: { 'policy:no-red-abroad': 3 },
    invariants: {
      'no-tlp-leak': { pass: true, details: { leaks: 0 } },
      'all-converged': { pass: false, details: { missing: { 'ncsc-nl': 3, 'cert-pl': 28 } } },
      'no-policy-leak': { pass: false, details: 'cert-ee holds 1 record its policy forbids' }
    },
    events: [
      { t_ms: 0, kind: 'publish-start', detail: '40 records from 2 publishers' },
      { t_ms: 2000, kind: 'partition', detail: '{0,1} | {2,3,4}' },
      { t_ms: 4000, kind: 'publish-end', detail: 'done' },
      { t_ms: 7000, kind: 'heal', detail: 'all links restored' },
      { t_ms: 9000, kind: 'down', detail: 'cert-pl' }
    ],
    duration_ms: 12_000,
    memory: { rss_mb: 180.4, per_node_mb: 36.1 }
  }
}

const ROLES: Array<SimMemberResult['role']> = ['bureau', 'contributor', 'contributor', 'contributor', 'observer']
const COUNTRIES = ['FR', 'DE', 'NL', 'EE', 'PL', 'IT', 'ES', 'SE', 'US', 'JP']
const POLICIES = ['default', 'eu-strict', 'no-red-abroad', 'observer-only']
const REASONS = ['bad-signature', 'tlp-floor', 'unknown-author', 'rate-limited', 'stale-version', 'schema-invalid', 'equivocation']

/**
 * A federation-sized result. `troubledCount` nodes get missing/unexpected/penalties (more than
 * the terminal shows, so the omission line has to mention them); `topologyName` picks the edges.
 */
export function largeResult (n = 200, opts: { topologyName?: string, troubledCount?: number } = {}): SimResult {
  const rng = new Rng(`report-fixture:${n}`)
  const topo = opts.topologyName ?? 'random:4'
  const troubled = new Set(rng.shuffle([...Array(n).keys()]).slice(0, opts.troubledCount ?? 20))
  const published = 500
  const members: SimMemberResult[] = Array.from({ length: n }, (_v, i) => {
    const role = ROLES[rng.int(ROLES.length)]
    const entitled = published - rng.int(120)
    const bad = troubled.has(i)
    const missing = bad && rng.next() < 0.7 ? 1 + rng.int(30) : 0
    const unexpected = bad && missing === 0 ? 1 + rng.int(3) : 0
    const records = entitled - missing + unexpected
    const green = rng.int(records)
    return member(i, {
      name: `${COUNTRIES[i % COUNTRIES.length].toLowerCase()}-cert-${String(i).padStart(3, '0')}`,
      peerId: `12D3KooW${rng.int(1e9).toString(36)}${i}`,
      country: COUNTRIES[i % COUNTRIES.length],
      role,
      policy: POLICIES[rng.int(POLICIES.length)],
      up: !(bad && missing > 20),
      records,
      by_tlp: { clear: records - green, green },
      entitled,
      missing,
      unexpected,
      rejected: rng.next() < 0.3 ? rng.int(12) : 0,
      withheld: rng.int(40),
      penalties: bad && rng.next() < 0.4 ? 1 + rng.int(4) : 0
    })
  })
  // Latency: a log-normal-ish spread, sampled to 200 CDF points as the simulator does.
  const samples = Array.from({ length: 5000 }, () => Math.round(Math.exp(3.5 + 1.1 * (rng.next() + rng.next() + rng.next() - 1.5) * 1.4) * 10) / 10).sort((a, b) => a - b)
  const cdf: Array<[number, number]> = []
  for (let k = 1; k <= 200; k++) {
    const idx = Math.min(samples.length - 1, Math.ceil(k / 200 * samples.length) - 1)
    cdf.push([samples[idx], (idx + 1) / samples.length])
  }
  const q = (p: number): number => samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)]
  const events: SimEvent[] = [
    { t_ms: 500, kind: 'publish-start', detail: `${published} records from 12 publishers` },
    { t_ms: 20_500, kind: 'publish-end', detail: 'storm over' },
    { t_ms: 6000, kind: 'partition', detail: 'split into 3 islands of 67, 67 and 66 nodes' },
    { t_ms: 14_000, kind: 'heal', detail: 'all links restored' },
    { t_ms: 16_000, kind: 'attack', detail: 'forger signs as fr-cert-000' },
    { t_ms: 16_100, kind: 'spy', detail: 'spy joined and records everything it receives' },
    { t_ms: 31_000, kind: 'converged', detail: 'every running node holds its entitlement' }
  ]
  for (let k = 0; k < 30; k++) {
    const who = members[rng.int(n)].name
    const t = 2000 + rng.int(26_000)
    events.push({ t_ms: t, kind: 'down', detail: who }, { t_ms: t + 1500 + rng.int(3000), kind: 'up', detail: who })
  }
  for (let k = 0; k < 10; k++) events.push({ t_ms: rng.int(35_000), kind: 'note', detail: `checkpoint ${k}` })
  events.sort((a, b) => a.t_ms - b.t_ms)
  const series: Array<[number, number]> = []
  for (let t = 0; t <= 36_000; t += 250) {
    let f = Math.min(1, t / 22_000)
    if (t > 6000 && t < 14_000) f *= 0.55 + 0.1 * Math.sin(t / 900)
    else if (t >= 14_000 && t < 31_000) f = Math.min(0.995, f + (t - 14_000) / 60_000)
    else if (t >= 31_000) f = 1
    series.push([t, Math.round(f * 10_000) / 10_000])
  }
  const rejections: Record<string, number> = {}
  for (const r of REASONS) rejections[r] = 1 + rng.int(400)
  return {
    scenario: 'storm-partition-churn',
    description: `${n} nodes: a publish storm over a 3-way partition that heals, with churn, a forger and a spy`,
    seed: 'big-42',
    nodes: n,
    transport: 'memory',
    topology: topo,
    edges: topology(topo, n, 'big-42'),
    members,
    records_published: published,
    deliveries: 5000,
    latency_ms: { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: samples[samples.length - 1], samples: samples.length },
    latency_cdf: cdf,
    converged: true,
    convergence_ms: 17_000,
    convergence_series: series,
    bytes: { payload_per_delivery: 1.08, protocol_per_delivery: 1.91, payload_total: 7_560_000, protocol_total: 13_370_000, record_avg: 1512 },
    rejections,
    withholdings: { 'tlp-floor': 812, 'policy:no-red-abroad': 240, 'policy:eu-only': 96 },
    invariants: {
      'no-tlp-leak': { pass: true, details: { checked: 100_000, leaks: 0 } },
      'no-policy-leak': { pass: true, details: 'no node received a record its path forbids' },
      'every-eligible-converges': { pass: false, details: { nodes: [...troubled].slice(0, 5).map(i => members[i].name), missing_total: members.reduce((s, m) => s + m.missing, 0) } },
      'forger-rejected': { pass: true, details: null }
    },
    events,
    duration_ms: 36_000,
    memory: { rss_mb: 1480.2, per_node_mb: 7.4 }
  }
}
