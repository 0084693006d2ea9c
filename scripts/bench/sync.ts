import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
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
 * npm run bench -- sync [--json] [--records N]    (N defaults to 1,000,000)
 *  (a) two identical N-record replicas, (b) 1,000 differences clustered and scattered — the
 *      reconciliation protocol beside the naive "send every id" baseline, in the same run;
 *  (c) a node back after N/10 records were published: catch-up over TCP from a node in another
 *      process, records/s beside the raw single-core Ed25519 verify rate on the same bytes;
 *  and the resident memory of a node process holding the full N-record replica.
 */

interface Started { child: ChildProcess, info: { peerId: string, addrs: string[], rss_mb: number, heap_mb: number, records: number } }

async function startNodeProcess (dir: string, config: Record<string, unknown>, gc = false): Promise<Started> {
  if (!existsSync(join(REPO, 'dist', 'src', 'node.js'))) throw new Error('the sync bench runs its second node on the built code: run `npm run build` first')
  const child = spawn(process.execPath, [...(gc ? ['--expose-gc'] : []), join(HERE, 'node-proc.mjs'), dir, JSON.stringify(config)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
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

/** Raw single-core verify rate over exactly the envelopes a catch-up moves (cached key, no parsing). */
async function rawVerifyRate (dir: string, sample: number): Promise<number> {
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
  return Math.round(n / ((performance.now() - t0) / 1000))
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const i = args.indexOf('--records')
  const records = i >= 0 ? Number(args[i + 1]) : 1_000_000
  const catchup = Math.max(1000, Math.round(records / 10))
  const say = (s: string): void => { process.stderr.write(s + '\n') }

  say(`(a)(b) reconciliation of ${records.toLocaleString('en')}-record replicas…`)
  const recon = await measureRecon({ records })
  const tmp = await mkdtemp(join(tmpdir(), 'dragnet-syncbench-'))
  try {
    // (c) catch-up over TCP: A (another process) holds `catchup` records, B starts empty.
    say(`(c) building a ${catchup.toLocaleString('en')}-record replica for the catch-up…`)
    const dirA = join(tmp, 'A')
    await buildReplica(dirA, catchup)
    const raw = await rawVerifyRate(dirA, 2000)
    const dirB = join(tmp, 'B')
    await initDataDir(dirB, { name: 'B' })
    const probe = await DragnetNode.open({ dataDir: dirB, config: await loadConfig({}), log: silentLogger(), network: false })
    const peerB = probe.peerId
    await probe.stop()
    const a = await startNodeProcess(dirA, { listen: ['/ip4/127.0.0.1/tcp/0'], api: false, roster: [{ peerId: peerB, name: 'B', country: 'DE', role: 'bureau', addrs: [] }], sync: { intervalMs: 3_600_000 } })
    let catchupMs = 0
    let catchupRate = 0
    let stats: Record<string, unknown> = {}
    let stages: Record<string, number> = {}
    try {
      const cfgB = await loadConfig({ overrides: { listen: ['/ip4/127.0.0.1/tcp/0'], api: false, roster: [{ peerId: a.info.peerId, name: 'A', country: 'DE', role: 'bureau', addrs: a.info.addrs }], sync: { intervalMs: 3_600_000 }, ingest: { verifyWorkers: 2 } } })
      const b = await DragnetNode.open({ dataDir: dirB, config: cfgB, log: silentLogger() })
      say(`(c) catching up ${catchup.toLocaleString('en')} records over TCP…`)
      let t0 = 0
      b.ingest.onStored(() => { if (t0 === 0) t0 = performance.now() })
      // B's main thread, stage by stage (wall spans: its verify workers run beside it), and every thread's CPU.
      const clock = startStageClock('wall')
      const cpu0 = process.cpuUsage()
      const started = performance.now()
      await b.start()
      const deadline = Date.now() + 600_000
      while (b.store.counts().records < catchup && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      const end = performance.now()
      const cpu = process.cpuUsage(cpu0)
      stopStageClock()
      stages = { ...clock.perRecordUs(), wall: Math.round((end - started) * 10_000 / catchup) / 10, process_cpu: Math.round((cpu.user + cpu.system) * 10 / catchup) / 10 }
      if (b.store.counts().records < catchup) throw new Error(`catch-up incomplete: ${b.store.counts().records} of ${catchup}`)
      // From connecting (start) to the last record stored: the whole session, reconciliation included.
      catchupMs = end - started
      catchupRate = Math.round(catchup / (catchupMs / 1000))
      const s = b.peers!.state(a.info.peerId)?.lastSync
      stats = { first_record_after_ms: Math.round(t0 - started), round_trips: s?.roundTrips, bytes: (s?.bytesReceived ?? 0) + (s?.bytesSent ?? 0) }
      await b.stop()
    } finally {
      await stopProcess(a)
    }

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

    const ratio = (x: number, y: number): number => Math.round((x / y) * 100) / 100
    const row = (name: string, ours: string, naive: string, target: string): void => { console.log(`${name.padEnd(34)} ${ours.padStart(28)}   naive ${naive.padStart(24)}   target ${target}`) }
    console.log(`sync: replicas of ${records.toLocaleString('en')} records (reconciliation over (ts, id); naive = send every id)`)
    row('(a) identical replicas', `${recon.insync_round_trips} RT, ${recon.insync_bytes} B, ${recon.insync_cpu_ms} ms CPU`, `${recon.naive_round_trips} RT, ${(recon.naive_insync_bytes / 1048576).toFixed(1)} MiB`, '≤ 2 RT, ≤ 1 KB, ≤ 50 ms')
    row('(b) 1,000 differences, clustered', `${recon.clustered_round_trips} RT, ${(recon.clustered_bytes / 1024).toFixed(1)} KiB`, `${(recon.naive_clustered_bytes / 1048576).toFixed(1)} MiB`, '≤ 4 RT, ≤ 64 KB')
    row('(b) 1,000 differences, scattered', `${recon.scattered_round_trips} RT, ${(recon.scattered_bytes / 1024).toFixed(1)} KiB`, `${(recon.naive_scattered_bytes / 1048576).toFixed(1)} MiB`, '≤ 4 RT, ≤ 800 KB')
    console.log(`(c) catch-up of ${catchup.toLocaleString('en')} records over TCP: ${catchupRate.toLocaleString('en')} records/s (${(catchupMs / 1000).toFixed(1)} s), raw single-core Ed25519 verify ${raw.toLocaleString('en')}/s → ratio ${ratio(catchupRate, raw).toFixed(2)} (target ≥ 1.0) ${JSON.stringify(stats)}`)
    console.log(`(c) receiver's main-thread µs per record by stage (process_cpu: every thread of the receiving process): ${Object.entries(stages).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    console.log(`memory of a node process holding ${records.toLocaleString('en')} records: ${rss} MB RSS on its first start, ${rssRestart} MB after a clean restart (heap ${heap} MB; target ≤ 300 MB at 1,000,000)`)
    return {
      records,
      ...recon,
      catchup_records: catchup,
      catchup_ms: Math.round(catchupMs),
      catchup_records_per_s: catchupRate,
      raw_verify_per_s: raw,
      catchup_ratio: ratio(catchupRate, raw),
      stages_us: stages,
      rss_mb: rss,
      rss_restart_mb: rssRestart,
      heap_mb: heap
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}
