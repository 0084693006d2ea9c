import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createPublicKey, verify as edVerify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { HEADER_BYTES, SIGNING_DOMAIN } from '../../src/record/index.js'
import { Store } from '../../src/store/index.js'
import { startStageClock, stopStageClock } from '../../src/util/stages.js'
import { buildReplica } from './replica.js'
import { measureRecon } from './sync-recon.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '..', '..')

/*
 * npm run bench -- sync [--json] [--records N] [--catchup M] [--cpu-prof-dir DIR]    (N defaults to 1,000,000)
 *  (a) two identical N-record replicas, (b) 1,000 differences clustered and scattered — the
 *      reconciliation protocol beside the naive "send every id" baseline, in the same run;
 *  (c) a node back after N/10 records were published: catch-up over TCP from a node in another
 *      process, records/s beside the raw single-core Ed25519 verify rate on the same bytes;
 *  and the resident memory of a node process holding the full N-record replica.
 * --catchup M runs (c) alone with M records; --cpu-prof-dir writes the sending process's CPU
 * profile there (run the bench itself under `node --cpu-prof` for the receiver's).
 */

interface Started { child: ChildProcess, info: { peerId: string, addrs: string[], rss_mb: number, heap_mb: number, records: number } }

async function startNodeProcess (dir: string, config: Record<string, unknown>, gc = false, profileDir?: string): Promise<Started> {
  if (!existsSync(join(REPO, 'dist', 'src', 'node.js'))) throw new Error('the sync bench runs its second node on the built code: run `npm run build` first')
  const child = spawn(process.execPath, [...(gc ? ['--expose-gc'] : []), ...(profileDir != null ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), join(HERE, 'node-proc.mjs'), dir, JSON.stringify(config)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
  const info = await new Promise<Started['info']>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => {
      out += String(d)
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)))
    })
    child.on('exit', (code) => { reject(new Error(`node process exited with ${code}`)) })
  })
  return { child, info }
}

async function stopProcess (p: Started): Promise<void> {
  p.child.kill('SIGTERM')
  await new Promise(resolve => p.child.once('exit', resolve))
}

/**
 * Raw single-core verify rate over exactly the envelopes a catch-up moves (cached key, no
 * parsing), and their mean size in bytes (the Hypercore baseline's block size).
 */
async function rawVerifyRate (dir: string, sample: number): Promise<{ rate: number, bytes: number }> {
  const store = await Store.open(join(dir, 'store'))
  const envelopes: Uint8Array[] = []
  try {
    for await (const { id } of store.byArrival(0, { limit: sample })) envelopes.push((await store.getBytes(id))!)
  } finally {
    await store.close()
  }
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), envelopes[0].subarray(1, 33)]), format: 'der', type: 'spki' })
  const msgs = envelopes.map(e => ({ m: Buffer.concat([SIGNING_DOMAIN, e.subarray(HEADER_BYTES)]), s: e.subarray(33, HEADER_BYTES) }))
  for (let i = 0; i < 200; i++) edVerify(null, msgs[i % msgs.length].m, key, msgs[i % msgs.length].s)
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < 2000) {
    for (const x of msgs) if (!edVerify(null, x.m, key, x.s)) throw new Error('raw verify failed')
    n += msgs.length
  }
  const bytes = Math.round(envelopes.reduce((sum, e) => sum + e.length, 0) / envelopes.length)
  return { rate: Math.round(n / ((performance.now() - t0) / 1000)), bytes }
}

/** Reads a child's first stdout line as JSON. */
async function firstLine<T> (child: ChildProcess): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => {
      out += String(d)
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)))
    })
    child.on('exit', (code) => { reject(new Error(`${child.spawnargs.slice(1, 3).join(' ')} exited with ${code}`)) })
  })
}

/**
 * The Hypercore 11 baseline: a writer process appends `n` blocks of `bytes` bytes, a reader
 * process replicates them over TCP on 127.0.0.1 (each verified against the signed tree);
 * blocks/s from the reader's dial to its last block stored.
 */
async function hypercoreRate (tmp: string, n: number, bytes: number): Promise<number> {
  const proc = join(HERE, 'hypercore-proc.mjs')
  const writer = spawn(process.execPath, [proc, 'writer', join(tmp, 'hc-writer'), String(n), String(bytes)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const w = await firstLine<{ key: string, port: number }>(writer)
    const reader = spawn(process.execPath, [proc, 'reader', join(tmp, 'hc-reader'), w.key, String(w.port), String(n)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
    const r = await firstLine<{ blocks: number, ms: number }>(reader)
    await new Promise(resolve => { if (reader.exitCode != null) resolve(null); else reader.once('exit', resolve) })
    return Math.round(r.blocks / (r.ms / 1000))
  } finally {
    writer.kill('SIGTERM')
    await new Promise(resolve => { if (writer.exitCode != null) resolve(null); else writer.once('exit', resolve) })
  }
}

interface Catchup { rate: number, ms: number, raw: number, bytes: number, hypercore?: number, stats: Record<string, unknown>, stages: Record<string, number> }

/**
 * (c) catch-up over TCP: A (another process, built code) holds `n` records, B (this process)
 * starts empty and pulls them. `profileDir`: A runs with --cpu-prof into it.
 */
async function measureCatchup (tmp: string, n: number, say: (s: string) => void, profileDir?: string): Promise<Catchup> {
  const c = await measureDragnetCatchup(tmp, n, say, profileDir)
  say(`(c) Hypercore 11 baseline: ${n.toLocaleString('en')} blocks of ${c.bytes} bytes over TCP…`)
  return { ...c, hypercore: await hypercoreRate(tmp, n, c.bytes) }
}

async function measureDragnetCatchup (tmp: string, n: number, say: (s: string) => void, profileDir?: string): Promise<Catchup> {
  say(`(c) building a ${n.toLocaleString('en')}-record replica for the catch-up…`)
  const dirA = join(tmp, 'A')
  await buildReplica(dirA, n)
  const { rate: raw, bytes } = await rawVerifyRate(dirA, 2000)
  const dirB = join(tmp, 'B')
  await initDataDir(dirB, { name: 'B' })
  const probe = await DragnetNode.open({ dataDir: dirB, config: await loadConfig({}), log: silentLogger(), network: false })
  const peerB = probe.peerId
  await probe.stop()
  const a = await startNodeProcess(dirA, { listen: ['/ip4/127.0.0.1/tcp/0'], api: false, roster: [{ peerId: peerB, name: 'B', country: 'DE', role: 'bureau', addrs: [] }], sync: { intervalMs: 3_600_000 } }, false, profileDir)
  try {
    const cfgB = await loadConfig({ overrides: { listen: ['/ip4/127.0.0.1/tcp/0'], api: false, roster: [{ peerId: a.info.peerId, name: 'A', country: 'DE', role: 'bureau', addrs: a.info.addrs }], sync: { intervalMs: 3_600_000 }, ingest: { verifyWorkers: 2 } } })
    const b = await DragnetNode.open({ dataDir: dirB, config: cfgB, log: silentLogger() })
    say(`(c) catching up ${n.toLocaleString('en')} records over TCP…`)
    let t0 = 0
    b.ingest.onStored(() => { if (t0 === 0) t0 = performance.now() })
    // B's start (its verify workers boot: seconds from source under tsx, where this bench runs
    // B) is timed apart; the catch-up runs from there (B dials A and syncs right after).
    const booting = performance.now()
    await b.start()
    const startMs = performance.now() - booting
    // B's main thread, stage by stage (wall spans: its verify workers run beside it), and every thread's CPU.
    const clock = startStageClock('wall')
    const cpu0 = process.cpuUsage()
    const senderCpu0 = processCpuUs(a.child.pid)
    const started = performance.now()
    const deadline = Date.now() + 600_000
    while (b.store.counts().records < n && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    const end = performance.now()
    const cpu = process.cpuUsage(cpu0)
    const senderCpu1 = processCpuUs(a.child.pid)
    stopStageClock()
    const perRecord = (us: number): number => Math.round(us * 10 / n) / 10
    const stages: Record<string, number> = { ...clock.perRecordUs(), wall: perRecord((end - started) * 1000), process_cpu: perRecord(cpu.user + cpu.system) }
    // The sending process's CPU per record (it shares the machine's cores with the receiver).
    if (senderCpu0 != null && senderCpu1 != null) stages.sender_cpu = perRecord(senderCpu1 - senderCpu0)
    if (b.store.counts().records < n) throw new Error(`catch-up incomplete: ${b.store.counts().records} of ${n}`)
    // From the end of B's start (it connects to A) to the last record stored: the whole session, reconciliation included.
    const ms = end - started
    // The session's own summary lands once the initiator has closed it.
    await waitForSync(b, a.info.peerId)
    const s = b.peers!.state(a.info.peerId)?.lastSync
    const stats = { start_ms: Math.round(startMs), first_record_after_ms: Math.round(t0 - started), round_trips: s?.roundTrips, bytes: (s?.bytesReceived ?? 0) + (s?.bytesSent ?? 0) }
    await b.stop()
    return { rate: Math.round(n / (ms / 1000)), ms, raw, bytes, stats, stages }
  } finally {
    await stopProcess(a)
  }
}

/** CPU µs a process has used so far, every thread (Linux /proc; undefined elsewhere). */
function processCpuUs (pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    // utime and stime, fields 14 and 15 of stat (11 and 12 after the command name)
    return (Number(fields[11]) + Number(fields[12])) * 1_000_000 / 100
  } catch {
    return undefined
  }
}

async function waitForSync (b: DragnetNode, peer: string): Promise<void> {
  const until = Date.now() + 10_000
  while (b.peers!.state(peer)?.lastSync == null && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
}

const ratio = (x: number, y: number): number => Math.round((x / y) * 100) / 100

function printCatchup (n: number, c: Catchup): void {
  console.log(`(c) catch-up of ${n.toLocaleString('en')} records over TCP: ${c.rate.toLocaleString('en')} records/s (${(c.ms / 1000).toFixed(1)} s), raw single-core Ed25519 verify ${c.raw.toLocaleString('en')}/s → ratio ${ratio(c.rate, c.raw).toFixed(2)} (target ≥ 1.0) ${JSON.stringify(c.stats)}`)
  if (c.hypercore != null) console.log(`(c) Hypercore 11 replicating ${n.toLocaleString('en')} blocks of ${c.bytes} bytes over TCP (two processes, on-disk storage): ${c.hypercore.toLocaleString('en')} blocks/s → dragnet/Hypercore ${ratio(c.rate, c.hypercore).toFixed(2)} (target ≥ 1.5)`)
  console.log(`(c) receiver's main-thread µs per record by stage (process_cpu: every thread of the receiving process; sender_cpu: of the sending process): ${Object.entries(c.stages).map(([k, v]) => `${k} ${v}`).join(', ')}`)
}

function catchupSummary (n: number, c: Catchup): Record<string, unknown> {
  return { catchup_records: n, catchup_ms: Math.round(c.ms), catchup_records_per_s: c.rate, raw_verify_per_s: c.raw, catchup_ratio: ratio(c.rate, c.raw), record_bytes: c.bytes, ...(c.hypercore != null ? { hypercore_blocks_per_s: c.hypercore, hypercore_ratio: ratio(c.rate, c.hypercore) } : {}), stages_us: c.stages, ...c.stats }
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined }
  const records = Number(opt('--records') ?? 1_000_000)
  // --catchup M: the catch-up alone, of M records (to profile it without building large replicas)
  const only = opt('--catchup')
  const catchup = only != null ? Number(only) : Math.max(1000, Math.round(records / 10))
  const profileDir = opt('--cpu-prof-dir')
  const say = (s: string): void => { process.stderr.write(s + '\n') }

  const tmp = await mkdtemp(join(tmpdir(), 'dragnet-syncbench-'))
  try {
    if (only != null) {
      const c = await measureCatchup(tmp, catchup, say, profileDir)
      printCatchup(catchup, c)
      return catchupSummary(catchup, c)
    }
    say(`(a)(b) reconciliation of ${records.toLocaleString('en')}-record replicas…`)
    const recon = await measureRecon({ records })
    const c = await measureCatchup(tmp, catchup, say, profileDir)

    // Memory of a node holding the full replica, in its own process after a GC.
    say(`building a ${records.toLocaleString('en')}-record replica for the memory figure…`)
    const dirR = join(tmp, 'R')
    let last = 0
    await buildReplica(dirR, records, { onProgress: (d) => { if (d - last >= 100_000) { last = d; say(`  ${d.toLocaleString('en')}`) } } })
    // First start on the replica (its reconciliation index is rebuilt by reading every sync key),
    // then a restart after a clean stop (index snapshots saved on stop are loaded instead).
    const r = await startNodeProcess(dirR, { listen: ['/ip4/127.0.0.1/tcp/0'], api: false, roster: [] }, true)
    const rss = r.info.rss_mb
    const heap = r.info.heap_mb
    await stopProcess(r)
    const r2 = await startNodeProcess(dirR, { listen: ['/ip4/127.0.0.1/tcp/0'], api: false, roster: [] }, true)
    const rssRestart = r2.info.rss_mb
    await stopProcess(r2)

    const row = (name: string, ours: string, naive: string, target: string): void => { console.log(`${name.padEnd(34)} ${ours.padStart(28)}   naive ${naive.padStart(24)}   target ${target}`) }
    console.log(`sync: replicas of ${records.toLocaleString('en')} records (reconciliation over (ts, id); naive = send every id)`)
    row('(a) identical replicas', `${recon.insync_round_trips} RT, ${recon.insync_bytes} B, ${recon.insync_cpu_ms} ms CPU`, `${recon.naive_round_trips} RT, ${(recon.naive_insync_bytes / 1048576).toFixed(1)} MiB`, '≤ 2 RT, ≤ 1 KB, ≤ 50 ms')
    row('(b) 1,000 differences, clustered', `${recon.clustered_round_trips} RT, ${(recon.clustered_bytes / 1024).toFixed(1)} KiB`, `${(recon.naive_clustered_bytes / 1048576).toFixed(1)} MiB`, '≤ 4 RT, ≤ 64 KB')
    row('(b) 1,000 differences, scattered', `${recon.scattered_round_trips} RT, ${(recon.scattered_bytes / 1024).toFixed(1)} KiB`, `${(recon.naive_scattered_bytes / 1048576).toFixed(1)} MiB`, '≤ 4 RT, ≤ 800 KB')
    printCatchup(catchup, c)
    console.log(`memory of a node process holding ${records.toLocaleString('en')} records: ${rss} MB RSS on its first start, ${rssRestart} MB after a clean restart (heap ${heap} MB; target ≤ 300 MB at 1,000,000)`)
    return {
      records,
      ...recon,
      ...catchupSummary(catchup, c),
      rss_mb: rss,
      rss_restart_mb: rssRestart,
      heap_mb: heap
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}
