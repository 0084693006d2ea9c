import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, StrictNoSign, TopicValidatorResult } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { Level } from 'level'
import { createLibp2p } from 'libp2p'
import { HEADER_BYTES, createRecord, signatureValid } from '../../src/record/index.js'
import { SimFederation, seedFor } from '../../src/sim/federation.js'
import { Rng } from '../../src/sim/random.js'
import { topology, type Edge } from '../../src/sim/topology.js'
import { NodeIdentity } from '../../src/identity/index.js'
import { percentile } from '../../src/util/percentile.js'
import { startHopTrace, stopHopTrace } from '../../src/util/hops.js'
import { benchIndicators } from './data.js'
import { hopReport, printHopReport, type HopReport } from './hops.js'

interface Options { nodes: number, records: number, transport: 'memory' | 'tcp', intervalMs: number, seed: string, degree: number, hops: boolean, profile?: string }

function parse (args: string[]): Options {
  const get = (name: string, dflt: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt }
  return {
    nodes: Number(get('nodes', '30')),
    records: Number(get('records', '200')),
    transport: get('transport', 'memory') as 'memory' | 'tcp',
    intervalMs: Number(get('interval', '20')),
    seed: get('seed', '1'),
    degree: Number(get('degree', '4')),
    hops: args.includes('--hops'),
    ...(args.includes('--profile') ? { profile: get('profile', 'propagation.cpuprofile') } : {})
  }
}

function summary (lat: number[]): { p50: number, p95: number, p99: number, max: number } {
  const s = [...lat].sort((a, b) => a - b)
  const r = (x: number): number => Math.round(x * 10) / 10
  return { p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)), max: r(s[s.length - 1]) }
}

/** CPU µs of this process (every thread) per delivery: on a loaded machine it holds where wall-clock latencies do not. */
function cpuPerDelivery (since: NodeJS.CpuUsage, deliveries: number): number {
  const u = process.cpuUsage(since)
  return Math.round((u.user + u.system) / deliveries)
}

/** A CPU profile of the timed window only (`--profile FILE`): what every in-process node spent per delivery. */
async function profiled (file: string | undefined): Promise<() => Promise<void>> {
  if (file == null) return async () => {}
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    await writeFile(file, JSON.stringify(profile))
    session.disconnect()
    console.log(`CPU profile of the timed window: ${file}`)
  }
}

/**
 * Starts `fn(i)` every `intervalMs` on a fixed schedule, whatever each call takes, and waits for
 * them all: every system gets the same offered rate. (Awaiting each publication before sleeping
 * made the rate depend on how long a publication took: a slower publish offered less load.)
 */
async function paced (count: number, intervalMs: number, fn: (i: number) => Promise<void>): Promise<void> {
  const start = performance.now()
  const calls: Array<Promise<void>> = []
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now()
    if (wait > 0) await sleep(wait)
    calls.push(fn(i))
  }
  await Promise.all(calls)
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** dragnet: real nodes with LevelDB, gossip with per-edge policy, on the topology. */
async function runDragnet (o: Options, edges: Edge[], bodies: any[], publishers: number[], dir: string): Promise<{ lat: number[], payloadRatio: number, protocolRatio: number, avgBytes: number, duplicates: number, cpuUs: number, hops?: HopReport }> {
  const members = Array.from({ length: o.nodes }, (_, i) => ({ name: `n${i}`, country: 'DE', role: 'bureau' as const }))
  const fed = new SimFederation({ dir, members, edges, transport: o.transport, seed: o.seed, config: { sync: { enabled: false } } })
  await fed.start({ concurrency: 6 })
  try {
    await fed.waitConnected(120_000)
    await sleep(1000)
    const arrivals = new Map<string, number[]>()
    const lastAt = new Map<string, string>()
    fed.running().forEach((n) => {
      n.ingest.onStored((v) => {
        const list = arrivals.get(v.id)
        if (list != null) list.push(performance.now())
        else arrivals.set(v.id, [performance.now()])
        lastAt.set(v.id, n.peerId)
      })
    })
    // Warm-up: one record per publisher trains each author's tree, as gossipsub gets its mesh.
    const warm = new Set(publishers)
    for (const p of warm) await fed.node(p).publish([{ ...bodies[0], id: bodies[0].id.replace(/.{12}$/, String(p).padStart(12, '0')) }], { tlp: 'green' })
    await sleep(1500)
    const before = fed.running().reduce((a, n) => a + n.gossip!.stats().payloadBytesIn, 0)
    const beforeProto = fed.running().reduce((a, n) => a + n.gossip!.stats().protocolBytesIn, 0)
    const beforeDup = fed.running().reduce((a, n) => a + n.gossip!.stats().duplicatesIn, 0)
    const started: Array<{ id: string, t0: number, bytes: number }> = []
    const trace = o.hops ? startHopTrace() : undefined
    const stopProfile = await profiled(o.profile)
    const cpu0 = process.cpuUsage()
    await paced(bodies.length, o.intervalMs, async (i) => {
      const t0 = performance.now()
      const [v] = await fed.node(publishers[i]).publish([bodies[i]], { tlp: 'green' })
      if (v.status !== 'stored') throw new Error(`publish failed: ${JSON.stringify(v)}`)
      started[i] = { id: v.id, t0, bytes: v.record.bytes.length }
    })
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline && started.some(s => (arrivals.get(s.id)?.length ?? 0) < o.nodes)) await sleep(50)
    const cpuUs = cpuPerDelivery(cpu0, bodies.length * (o.nodes - 1))
    await stopProfile()
    stopHopTrace()
    const lat: number[] = []
    for (const s of started) {
      const a = arrivals.get(s.id) ?? []
      if (a.length < o.nodes) throw new Error(`record ${s.id} reached ${a.length} of ${o.nodes} nodes`)
      lat.push(Math.max(...a) - s.t0)
    }
    const hops = trace != null ? hopReport(trace.events, started.map((s, i) => ({ id: s.id, t0: s.t0, last: lastAt.get(s.id)!, author: fed.node(publishers[i]).peerId, latency: lat[i] }))) : undefined
    if (process.env.BENCH_DEBUG != null) {
      const sum = (k: string): number => fed.running().reduce((a, n) => a + (n.gossip!.stats() as any)[k], 0)
      console.log('debug', { grafts: sum('requestedOut'), ihave: sum('announcedOut'), prunes: sum('prunesOut'), recordsOut: sum('recordsOut') })
      const first = started.map(s => { const a = (arrivals.get(s.id) ?? []).sort((x, y) => x - y); return [a[0] - s.t0, a[1] - s.t0, a[Math.floor(a.length / 2)] - s.t0] })
      console.log('debug publish→stored at author, →first peer, →median node (ms, p50):', [0, 1, 2].map(j => percentile(first.map(f => f[j]).sort((x, y) => x - y), 50).toFixed(1)))
    }
    const payload = fed.running().reduce((a, n) => a + n.gossip!.stats().payloadBytesIn, 0) - before
    const proto = fed.running().reduce((a, n) => a + n.gossip!.stats().protocolBytesIn, 0) - beforeProto
    const dups = fed.running().reduce((a, n) => a + n.gossip!.stats().duplicatesIn, 0) - beforeDup
    const avgBytes = started.reduce((a, s) => a + s.bytes, 0) / started.length
    const deliveries = started.length * (o.nodes - 1)
    return { lat, payloadRatio: payload / deliveries / avgBytes, protocolRatio: proto / deliveries / avgBytes, avgBytes, duplicates: dups, cpuUs, ...(hops != null ? { hops } : {}) }
  } finally {
    await fed.stop()
  }
}

const utf8 = new TextDecoder()

/**
 * The minimum job of a sharing node on every hop, done before the record goes on: verify the
 * Ed25519 signature, parse the JSON record, write it with three index keys (STIX id, author+seq,
 * ts) in one LevelDB batch. No roster, no STIX validation, no policy, no audit.
 */
async function storeMinimal (db: Level<string, Uint8Array>, bytes: Uint8Array, verify: boolean): Promise<boolean> {
  if (verify && (bytes.length <= HEADER_BYTES || !signatureValid(bytes))) return false
  const r = JSON.parse(utf8.decode(bytes.subarray(HEADER_BYTES))) as { author: string, seq: number, ts: number, body: { id: string } }
  const id = createHash('sha256').update(bytes.subarray(HEADER_BYTES)).digest('hex')
  await db.batch([
    { type: 'put', key: `r!${id}`, value: bytes },
    { type: 'put', key: `s!${r.body.id}!${id}`, value: new Uint8Array(0) },
    { type: 'put', key: `a!${r.author}!${String(r.seq).padStart(16, '0')}`, value: new Uint8Array(0) },
    { type: 'put', key: `t!${String(r.ts).padStart(16, '0')}!${id}`, value: new Uint8Array(0) }
  ])
  return true
}

/**
 * The reference: @libp2p/gossipsub on the same topology and transport, carrying the same bytes.
 * With `workDir`, every node's topic validator does storeMinimal before forwarding (and the
 * publisher stores before publishing), the fairer second baseline.
 */
async function runGossipsub (o: Options, edges: Edge[], payloads: Uint8Array[], publishers: number[], workDir?: string): Promise<{ lat: number[], cpuUs: number }> {
  const topic = 'dragnet-bench'
  const nodes: any[] = []
  const dbs: Array<Level<string, Uint8Array>> = []
  for (let i = 0; i < o.nodes; i++) {
    const id = await NodeIdentity.fromSeed(seedFor(`gs-${o.seed}`, `g${i}`))
    const node = await createLibp2p({
      privateKey: id.privateKey,
      addresses: { listen: [o.transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/gs-${process.pid}-${i}`] },
      transports: [o.transport === 'tcp' ? tcp() : memory()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { allow: ['/ip4/127.0.0.1/ipcidr/32'] },
      services: {
        identify: identify(),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictNoSign,
          msgIdFn: (msg) => createHash('sha256').update(msg.data).digest(),
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          scoreParams: { IPColocationFactorWeight: 0 }
        })
      }
    })
    nodes.push(node)
    if (workDir != null) {
      const db = new Level<string, Uint8Array>(join(workDir, `g${i}`), { valueEncoding: 'view' })
      await db.open()
      dbs.push(db)
      node.services.pubsub.topicValidators.set(topic, async (_peer: unknown, msg: { data: Uint8Array }) =>
        await storeMinimal(db, msg.data, true) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject)
    }
  }
  try {
    for (const n of nodes) n.services.pubsub.subscribe(topic)
    for (let b = 0; b < edges.length; b += 16) {
      await Promise.all(edges.slice(b, b + 16).map(async ([x, y]) => { await nodes[x].dial(multiaddr(nodes[y].getMultiaddrs()[0].toString())) }))
    }
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline && nodes.some(n => (n.services.pubsub as any).getMeshPeers(topic).length === 0)) await sleep(100)
    await sleep(1500)
    const arrivals = new Map<string, number[]>()
    nodes.forEach((n) => {
      n.services.pubsub.addEventListener('message', (evt: any) => {
        const k = createHash('sha256').update(evt.detail.data).digest('hex')
        const list = arrivals.get(k)
        if (list != null) list.push(performance.now())
        else arrivals.set(k, [performance.now()])
      })
    })
    const started: Array<{ k: string, t0: number }> = []
    const cpu0 = process.cpuUsage()
    await paced(payloads.length, o.intervalMs, async (i) => {
      const t0 = performance.now()
      if (workDir != null) await storeMinimal(dbs[publishers[i]], payloads[i], false)
      await nodes[publishers[i]].services.pubsub.publish(topic, payloads[i])
      started[i] = { k: createHash('sha256').update(payloads[i]).digest('hex'), t0 }
    })
    const end = Date.now() + 30_000
    while (Date.now() < end && started.some(s => (arrivals.get(s.k)?.length ?? 0) < o.nodes - 1)) await sleep(50)
    const cpuUs = cpuPerDelivery(cpu0, payloads.length * (o.nodes - 1))
    const lat: number[] = []
    for (const s of started) {
      const a = arrivals.get(s.k) ?? []
      if (a.length < o.nodes - 1) throw new Error(`gossipsub message reached ${a.length} of ${o.nodes - 1} nodes`)
      lat.push(Math.max(...a) - s.t0)
    }
    return { lat, cpuUs }
  } finally {
    await Promise.all(nodes.map(async n => await n.stop()))
    await Promise.all(dbs.map(async db => await db.close()))
  }
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const o = parse(args)
  const edges = topology(`random:${o.degree}`, o.nodes, o.seed)
  const rng = new Rng(`publishers:${o.seed}`)
  const bodies = await benchIndicators(o.records + 1)
  const publishers = bodies.map(() => rng.int(o.nodes))
  console.log(`propagation: ${o.nodes} nodes, random:${o.degree} topology (${edges.length} edges), ${o.records} records from ${new Set(publishers).size} publishers, ${o.transport} transport, one every ${o.intervalMs} ms; content: ${process.env.BENCH_DATA_SOURCE}`)
  const dir = await mkdtemp(join(tmpdir(), 'dragnet-prop-'))
  try {
    const ours = await runDragnet(o, edges, bodies.slice(1), publishers.slice(1), dir)
    if (ours.hops != null) printHopReport(ours.hops)
    if (args.includes('--dragnet-only')) {
      const a = summary(ours.lat)
      console.log(`dragnet only: p50 ${a.p50} ms, p99 ${a.p99} ms, ${ours.cpuUs} µs CPU per delivery`)
      return { p50_ms: a.p50, p99_ms: a.p99, cpu_us_per_delivery: ours.cpuUs, ...(ours.hops != null ? { hops: ours.hops } : {}) }
    }
    // Gossipsub carries exactly the bytes of the signed records dragnet carried.
    const author = await NodeIdentity.generate()
    const payloads = bodies.slice(1).map((b, i) => createRecord(author, { seq: i + 1, ts: Date.now(), tlp: 'green', body: b }).bytes)
    const ref = await runGossipsub(o, edges, payloads, publishers.slice(1))
    const work = await runGossipsub(o, edges, payloads, publishers.slice(1), dir)
    const a = summary(ours.lat)
    const g = summary(ref.lat)
    const w = summary(work.lat)
    const ratio = (x: number, y: number): number => Math.round((x / y) * 100) / 100
    console.log(`                 p50      p95      p99      max   (ms, publish → last node)`)
    console.log(`dragnet     ${[a.p50, a.p95, a.p99, a.max].map(x => x.toFixed(1).padStart(8)).join(' ')}`)
    console.log(`gossipsub   ${[g.p50, g.p95, g.p99, g.max].map(x => x.toFixed(1).padStart(8)).join(' ')}`)
    console.log(`gossipsub+w ${[w.p50, w.p95, w.p99, w.max].map(x => x.toFixed(1).padStart(8)).join(' ')}   (validator: verify, parse, 3-key LevelDB batch before forwarding)`)
    console.log(`ratio       ${[ratio(a.p50, g.p50), ratio(a.p95, g.p95), ratio(a.p99, g.p99), ratio(a.max, g.max)].map(x => x.toFixed(2).padStart(8)).join(' ')}   (target p99 ≤ 1.5)`)
    console.log(`ratio (+w)  ${[ratio(a.p50, w.p50), ratio(a.p95, w.p95), ratio(a.p99, w.p99), ratio(a.max, w.max)].map(x => x.toFixed(2).padStart(8)).join(' ')}   (target p99 ≤ 0.5)`)
    console.log(`CPU per delivery (every thread of this process, µs): dragnet ${ours.cpuUs}, gossipsub ${ref.cpuUs}, gossipsub+w ${work.cpuUs}`)
    console.log(`payload bytes received per delivered record: ${ours.payloadRatio.toFixed(3)} × the record size (${Math.round(ours.avgBytes)} B; target ≤ 1.2); all protocol frames: ${ours.protocolRatio.toFixed(3)}×; duplicate pushes ${ours.duplicates}`)
    return {
      nodes: o.nodes,
      records: o.records,
      transport: o.transport,
      p50_ms: a.p50,
      p95_ms: a.p95,
      p99_ms: a.p99,
      max_ms: a.max,
      gossipsub_p50_ms: g.p50,
      gossipsub_p95_ms: g.p95,
      gossipsub_p99_ms: g.p99,
      p99_ratio: ratio(a.p99, g.p99),
      gossipsub_work_p50_ms: w.p50,
      gossipsub_work_p99_ms: w.p99,
      work_ratio: ratio(a.p99, w.p99),
      payload_ratio: Math.round(ours.payloadRatio * 1000) / 1000,
      protocol_ratio: Math.round(ours.protocolRatio * 1000) / 1000,
      record_bytes: Math.round(ours.avgBytes),
      cpu_us_per_delivery: ours.cpuUs,
      gossipsub_cpu_us_per_delivery: ref.cpuUs,
      gossipsub_work_cpu_us_per_delivery: work.cpuUs,
      ...(ours.hops != null ? { hops: ours.hops } : {})
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
