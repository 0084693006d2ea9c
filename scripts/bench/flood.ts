import { request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { NodeIdentity } from '../../src/identity/index.js'
import { FramedStream } from '../../src/net/framing.js'
import { encodeRecords } from '../../src/net/gossip-wire.js'
import { GOSSIP_PROTOCOL } from '../../src/net/protocols.js'
import { createRecord } from '../../src/record/index.js'
import { RawPeer, junkRecords } from '../../src/sim/actors.js'
import { seedFor } from '../../src/sim/federation.js'
import { ProcessCluster } from '../../src/sim/process-cluster.js'
import { topology } from '../../src/sim/topology.js'
import { percentile } from '../../src/util/percentile.js'
import { benchIndicators } from './data.js'

/*
 * npm run bench -- flood [--nodes 5] [--records 60] [--interval 100] [--junk 200] [--author-rate N] [--author-burst N] [--json]
 *
 * A federation, one OS process per member over TCP (so the victim's API and memory are its own),
 * publishes honest records twice: once quietly, once while a member (a roster key, its own libp2p
 * node) pushes the victim its own valid records as fast as the victim reads them, then junk.
 * Reported: honest records' p99 (publish → stored on every member) under the flood against the
 * quiet run (target ≤ 2), /health p99 on the victim during the flood (target < 100 ms), the
 * victim's RSS, and whether the flooder was penalised. Also, figures a loaded machine does not
 * distort: the members' CPU time per second of each run (all processes summed) and how many of
 * the flooder's records each member stored. `--author-rate` / `--author-burst` override
 * limits.authorRecordsPerSec / authorBurstRecords (a huge value: the federation without the
 * per-author budget, for a before/after comparison).
 */

interface Options { nodes: number, records: number, intervalMs: number, junk: number, seed: string, authorRate: number | undefined, authorBurst: number | undefined }

function parse (args: string[]): Options {
  const get = (name: string, dflt: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt }
  const num = (name: string): number | undefined => { const v = get(name, ''); return v === '' ? undefined : Number(v) }
  return { nodes: Number(get('nodes', '5')), records: Number(get('records', '60')), intervalMs: Number(get('interval', '100')), junk: Number(get('junk', '200')), seed: get('seed', '1'), authorRate: num('author-rate'), authorBurst: num('author-burst') }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const VICTIM = 1

/** GET /health once; resolves with the round trip in ms. */
async function health (address: string): Promise<number> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const req = request({ host, port, path: '/health', method: 'GET', timeout: 10_000 }, (res) => { res.resume(); res.on('end', () => { resolve() }) })
    req.on('error', reject)
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.end()
  })
  return performance.now() - t0
}

/** Probes /health every 20 ms until stopped; returns the latencies. */
function probe (address: string): { stop: () => Promise<number[]> } {
  const out: number[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      out.push(await health(address).catch(() => 10_000))
      await sleep(20)
    }
  })()
  return { stop: async () => { running = false; await loop; return out } }
}

/** Publishes honest records one every interval from rotating members; p99 of publish → stored everywhere. */
const who = new Map<string, number[]>()
async function honestRun (cluster: ProcessCluster, arrivals: Map<string, number[]>, bodies: any[], o: Options): Promise<number[]> {
  const started: Array<{ id: string, t0: number }> = []
  for (let i = 0; i < bodies.length; i++) {
    const publisher = [0, 2, 3, 4].filter(x => x < o.nodes)[i % Math.min(4, o.nodes - 1)]
    const t0 = performance.timeOrigin + performance.now()
    const [v] = await cluster.publish(publisher, [bodies[i]], { tlp: 'green' })
    if (v.status !== 'stored') throw new Error(`publish failed: ${v.reason}`)
    started.push({ id: v.id!, t0 })
    await sleep(o.intervalMs)
  }
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline && started.some(s => (arrivals.get(s.id)?.length ?? 0) < o.nodes)) await sleep(50)
  return started.map(s => {
    const a = arrivals.get(s.id) ?? []
    if (a.length < o.nodes) throw new Error(`honest record ${s.id} reached ${a.length} of ${o.nodes} members (${(who.get(s.id) ?? []).join(',')})`)
    return Math.max(...a) - s.t0
  })
}

/** Pushes the flooder's own valid records on one stream as fast as the victim reads them, until `until` resolves; then junk. */
async function flood (flooder: RawPeer, victimId: string, until: Promise<unknown>, junk: number, bodies: any[]): Promise<{ sent: number }> {
  const stream = await flooder.libp2p.dialProtocol(peerIdFromString(victimId), GOSSIP_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const out = new FramedStream(stream, { maxFrameBytes: 1 << 20, ioTimeoutMs: 60_000 })
  let done = false
  void until.then(() => { done = true })
  let seq = 1
  let sent = 0
  try {
    while (!done) {
      const batch = []
      for (let i = 0; i < 256; i++, seq++) {
        // The flooder shares this process with the /health probe and the arrival clock: signing
        // 256 records in one go held both up (tens of ms), which counted against the victim.
        // The flood's rate is set by how fast the victim reads, so yielding costs it nothing.
        if (i % 16 === 0) await new Promise(resolve => setImmediate(resolve))
        batch.push(createRecord(flooder.identity, { seq, ts: Date.now(), tlp: 'green', body: bodies[seq % bodies.length] }).bytes)
      }
      await out.write(encodeRecords(batch))
      sent += batch.length
    }
    await out.write(encodeRecords(junkRecords(junk)))
  } catch { /* cut off: the penalty */ }
  return { sent }
}

function limits (o: Options): { limits?: Record<string, number> } {
  const l: Record<string, number> = {}
  if (o.authorRate != null) l.authorRecordsPerSec = o.authorRate
  if (o.authorBurst != null) l.authorBurstRecords = o.authorBurst
  return Object.keys(l).length > 0 ? { limits: l } : {}
}

/** Every member's CPU ms so far and records held. */
async function snapshot (cluster: ProcessCluster, n: number): Promise<{ at: number, cpuMs: number[], records: number[] }> {
  const all = await Promise.all(Array.from({ length: n }, async (_, i) => await cluster.stats(i)))
  return { at: performance.now(), cpuMs: all.map(s => s.cpuMs), records: all.map(s => s.records) }
}

/** Members' CPU ms per wall second between two snapshots, all processes summed. */
function cpuPerSec (a: { at: number, cpuMs: number[] }, b: { at: number, cpuMs: number[] }): number {
  let ms = 0
  for (let i = 0; i < a.cpuMs.length; i++) ms += b.cpuMs[i] - a.cpuMs[i]
  return ms / ((b.at - a.at) / 1000)
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const o = parse(args)
  const dir = await mkdtemp(join(tmpdir(), 'dragnet-flood-'))
  const flooderId = await NodeIdentity.fromSeed(seedFor(`flood-${o.seed}`, 'flooder'))
  const members = Array.from({ length: o.nodes }, (_, i) => ({ name: `n${i}`, country: 'DE', role: 'bureau' as const, policy: null }))
  const arrivals = new Map<string, number[]>()
  const cluster = new ProcessCluster({
    dir,
    members,
    edges: topology('ring', o.nodes, o.seed),
    seed: `flood-${o.seed}`,
    // Production defaults but for the sync interval (quiet runs should not overlap a round).
    config: { sync: { intervalMs: 30_000 }, ingest: { verifyWorkers: 2 }, log: { level: 'silent' }, ...limits(o) },
    extraRoster: [{ peerId: flooderId.peerId, name: 'flooder', country: 'ZZ', role: 'bureau' }],
    onStored: (i, id, _from, at) => { const a = arrivals.get(id); if (a != null) a.push(at); else arrivals.set(id, [at]); who.set(id, [...(who.get(id) ?? []), i]) }
  })
  const bodies = await benchIndicators(2 * o.records + 512)
  console.log(`flood: ${o.nodes} members in a ring (one process each, TCP), victim n${VICTIM}; ${o.records} honest records per run, one every ${o.intervalMs} ms; content: ${process.env.BENCH_DATA_SOURCE}`)
  let flooder: RawPeer | undefined
  try {
    await cluster.start()
    await cluster.waitConnected(60_000)
    const api = await cluster.startApi(VICTIM)
    await sleep(1000)

    const s0 = await snapshot(cluster, o.nodes)
    const quietProbe = probe(api)
    const quiet = await honestRun(cluster, arrivals, bodies.slice(0, o.records), o)
    await quietProbe.stop()
    const s1 = await snapshot(cluster, o.nodes)

    flooder = await RawPeer.start(flooderId)
    await flooder.dial(cluster.addrs(VICTIM))
    const floodProbe = probe(api)
    let honestDone!: () => void
    const honestOver = new Promise<void>(resolve => { honestDone = resolve })
    const flooding = flood(flooder, cluster.peerId(VICTIM), honestOver, o.junk, bodies.slice(2 * o.records))
    const loud = await honestRun(cluster, arrivals, bodies.slice(o.records, 2 * o.records), o).finally(() => { honestDone() })
    const s2 = await snapshot(cluster, o.nodes)
    const { sent } = await flooding
    const apiLat = await floodProbe.stop()
    let penalised = false
    // The junk sits behind what the victim still has to read of the flood (its stream window).
    const deadline = Date.now() + 60_000
    while (!penalised && Date.now() < deadline) {
      penalised = ((await cluster.peerState(VICTIM, flooderId.peerId))?.penalties ?? 0) > 0
      if (!penalised) await sleep(100)
    }
    const victim = await cluster.stats(VICTIM)
    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)
    const p99q = percentile(sorted(quiet), 99)
    const p99l = percentile(sorted(loud), 99)
    const apiP99 = percentile(sorted(apiLat), 99)
    const r = (x: number): number => Math.round(x * 10) / 10
    console.log(`honest p99 (publish → every member): quiet ${r(p99q)} ms, under the flood ${r(p99l)} ms, ratio ${(p99l / p99q).toFixed(2)} (target ≤ 2)`)
    console.log(`/health on the victim during the flood: p50 ${r(percentile(sorted(apiLat), 50))} ms, p99 ${r(apiP99)} ms (${apiLat.length} probes; target p99 < 100 ms)`)
    console.log(`flooder: ${sent} valid records pushed, then ${o.junk} junk; penalised: ${penalised}; victim RSS ${victim.rssMb} MB`)
    // What each member stored during the flood run beyond the honest records: the flooder's.
    const floodStored = s2.records.map((r, i) => r - s1.records[i] - o.records)
    const cpuQuiet = cpuPerSec(s0, s1)
    const cpuFlood = cpuPerSec(s1, s2)
    console.log(`members' CPU (all ${o.nodes} processes): quiet ${cpuQuiet.toFixed(0)} ms/s, under the flood ${cpuFlood.toFixed(0)} ms/s; flooder records stored per member during the flood run: ${floodStored.join(', ')}`)
    return {
      nodes: o.nodes,
      records: o.records,
      flood_records: sent,
      honest_p99_quiet_ms: r(p99q),
      honest_p99_flood_ms: r(p99l),
      honest_p99_ratio: Math.round((p99l / p99q) * 100) / 100,
      api_p99_ms: r(apiP99),
      rss_mb: victim.rssMb,
      flooder_penalised: penalised,
      members_cpu_ms_per_s_quiet: Math.round(cpuQuiet),
      members_cpu_ms_per_s_flood: Math.round(cpuFlood),
      flood_stored_per_member: floodStored
    }
  } finally {
    await flooder?.stop().catch(() => {})
    await cluster.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}
