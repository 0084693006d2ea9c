import { createPublicKey, sign as edSign, verify as edVerify, createPrivateKey } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { NodeIdentity, initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { HEADER_BYTES, SIGNING_DOMAIN, createRecord, openRecord, verifyEnvelope, type SignedRecord } from '../../src/record/index.js'
import { realisticIndicators } from '../../src/sim/data-source.js'
import type { StixObject } from '../../src/stix/types.js'
import { mainThreadCpuUs, startStageClock, stopStageClock, type StageClock } from '../../src/util/stages.js'
import { benchIndicators } from './data.js'

function rate (n: number, ms: number): number {
  return Math.round(n / (ms / 1000))
}

/** Runs `fn` over `items` repeatedly for at least `minMs`, returning ops/s. */
function measure<T> (items: T[], fn: (item: T) => void, minMs = 1500): number {
  for (let i = 0; i < Math.min(items.length, 300); i++) fn(items[i])
  let n = 0
  const start = performance.now()
  while (performance.now() - start < minMs) {
    for (const it of items) fn(it)
    n += items.length
  }
  return rate(n, performance.now() - start)
}

/** Ingests `records` in gossip-sized batches, several in flight as the sync receiver runs them: records/s and, with a clock, µs per record. */
async function storeRun (node: DragnetNode, records: SignedRecord[], from: string, clock: StageClock | null): Promise<{ rate: number, stages: Record<string, number> }> {
  const batch = 256
  const main0 = mainThreadCpuUs()
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  // Verification of some batches overlaps the work on others.
  const inflight: Array<Promise<unknown>> = []
  for (let b = 0; b < records.length; b += batch) {
    inflight.push(node.ingest.receive(records.slice(b, b + batch).map(r => ({ bytes: r.bytes, from, source: 'sync' as const }))))
    if (inflight.length >= 4) await inflight.shift()
  }
  await Promise.all(inflight)
  const ms = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  const main1 = mainThreadCpuUs()
  const per = (us: number): number => Math.round(us * 10 / records.length) / 10
  const stages: Record<string, number> = { ...(clock?.perRecordUs() ?? {}), wall: per(ms * 1000), process_cpu: per(cpu.user + cpu.system) }
  if (main0 != null && main1 != null) stages.main_cpu = per(main1 - main0)
  return { rate: rate(records.length, ms), stages }
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const count = Number(args[args.indexOf('--records') + 1] || 0) || 5000
  const bodies: StixObject[] = await benchIndicators(count)
  const author = await NodeIdentity.generate()
  const records = bodies.map((body, i) => createRecord(author, { seq: i + 1, ts: Date.now(), tlp: 'green', body }))
  const avgBytes = Math.round(records.reduce((a, r) => a + r.bytes.length, 0) / records.length)
  console.log(`records: ${records.length}, average ${avgBytes} bytes (${bodies.length > 0 ? 'indicators built from ' + (process.env.BENCH_DATA_SOURCE ?? 'data') : ''})`)

  // The raw reference: node:crypto Ed25519 over exactly the bytes a record signs, cached keys.
  const seed = author.privateKey.raw.subarray(0, 32)
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' })
  const pub = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), author.publicKey]), format: 'der', type: 'spki' })
  const inputs = records.map(r => Buffer.concat([SIGNING_DOMAIN, r.bytes.subarray(HEADER_BYTES)]))
  const sigs = records.map(r => r.bytes.subarray(33, HEADER_BYTES))

  const rawSign = measure(inputs, (m) => { edSign(null, m, priv) })
  let i = 0
  const sign = measure(bodies, (body) => { createRecord(author, { seq: ++i, ts: 1, tlp: 'green', body }) })
  const pairs = inputs.map((m, j) => ({ m, sig: sigs[j] }))
  const rawVerify = measure(pairs, (p) => { if (!edVerify(null, p.m, pub, p.sig)) throw new Error('raw verify failed') })
  const verifySig = measure(records, (r) => { verifyEnvelope(r.bytes) })
  const verify = measure(records, (r) => { openRecord(r.bytes) })

  // Storing: the full receive path (verify, decode, STIX, roster, policy, versions, indexes, one
  // LevelDB batch) on a real node, in gossip-sized batches, with the configured verify workers.
  // Each node takes two runs of `count` records: the first on a fresh node (its workers load and
  // compile their code meanwhile: `store_cold_*`), the second warm, as raw verify is measured
  // and as a catch-up of 100k records runs after its first thousands (`store_*`, the ratio).
  const coldRecords = (await realisticIndicators(count, 'bench-cold')).map((body, i) => createRecord(author, { seq: i + 1, ts: Date.now(), tlp: 'green', body }))
  const warmRecords = bodies.map((body, i) => createRecord(author, { seq: count + i + 1, ts: Date.now(), tlp: 'green', body }))
  const dir = await mkdtemp(join(tmpdir(), 'dragnet-bench-'))
  const rates: Record<string, number> = {}
  // Main-thread µs per record per stage, from the warm runs (see src/util/stages.ts), and the
  // main thread's whole CPU time per record where the OS tells it (exact on a loaded machine).
  const stages: Record<string, Record<string, number>> = {}
  try {
    for (const workers of [2, 0]) {
      const d = join(dir, `n${workers}`)
      await initDataDir(d, { name: 'bench' })
      const config = await loadConfig({ overrides: { roster: [{ peerId: author.peerId, name: 'author', country: 'FR', role: 'bureau', addrs: [] }], ingest: { verifyWorkers: workers } } })
      const node = await DragnetNode.open({ dataDir: d, config, log: silentLogger(), network: false })
      await node.start()
      const name = workers > 0 ? 'workers' : 'inline'
      rates[`${name}_cold`] = (await storeRun(node, coldRecords, author.peerId, null)).rate
      // Inline, the main thread is the only one verifying: CPU time per span holds on a loaded machine.
      const clock = startStageClock(workers > 0 ? 'wall' : 'cpu')
      const run = await storeRun(node, warmRecords, author.peerId, clock)
      stopStageClock()
      rates[name] = run.rate
      stages[name] = run.stages
      const storedCount = node.store.counts().records
      if (storedCount !== 2 * count) throw new Error(`stored ${storedCount} of ${2 * count}`)
      await node.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const storeRate = rates.workers
  const storeInlineRate = rates.inline

  const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100
  const rows: Array<[string, number, string, number]> = [
    ['sign (createRecord)', sign, 'raw node:crypto sign', rawSign],
    ['verify signature (verifyEnvelope)', verifySig, 'raw node:crypto verify', rawVerify],
    ['verify path (openRecord: verify+decode)', verify, 'raw node:crypto verify', rawVerify],
    ['store (receive: verify+STIX+index+batch), 2 verify workers', storeRate, 'raw node:crypto verify', rawVerify],
    ['store, verification inline on one thread', storeInlineRate, 'raw node:crypto verify', rawVerify],
    ['store, 2 verify workers, first run on a fresh node', rates.workers_cold, 'raw node:crypto verify', rawVerify],
    ['store, inline, first run on a fresh node', rates.inline_cold, 'raw node:crypto verify', rawVerify]
  ]
  for (const [name, v, ref, rv] of rows) console.log(`${name.padEnd(62)} ${String(v).padStart(8)}/s   ${ref} ${String(rv).padStart(7)}/s   ratio ${ratio(v, rv).toFixed(2)}`)
  console.log(`raw verify: ${Math.round(1e7 / rawVerify) / 10} µs per record. Main-thread µs per record by stage, warm runs (waits overlap other batches' work; main_cpu: the main thread's CPU time over the run; process_cpu counts every thread):`)
  for (const [run, st] of Object.entries(stages)) console.log(`  ${run.padEnd(8)} ${Object.entries(st).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  return {
    records: records.length,
    record_bytes: avgBytes,
    sign_per_s: sign,
    raw_sign_per_s: rawSign,
    sign_ratio: ratio(sign, rawSign),
    verify_per_s: verify,
    verify_signature_per_s: verifySig,
    raw_verify_per_s: rawVerify,
    verify_ratio: ratio(verify, rawVerify),
    store_per_s: storeRate,
    store_ratio: ratio(storeRate, rawVerify),
    store_inline_per_s: storeInlineRate,
    store_inline_ratio: ratio(storeInlineRate, rawVerify),
    store_cold_per_s: rates.workers_cold,
    store_cold_ratio: ratio(rates.workers_cold, rawVerify),
    store_inline_cold_per_s: rates.inline_cold,
    stages_us: stages.workers,
    stages_inline_us: stages.inline
  }
}
