import { createPublicKey, sign as edSign, verify as edVerify, createPrivateKey } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { NodeIdentity, initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { HEADER_BYTES, SIGNING_DOMAIN, createRecord, openRecord, verifyEnvelope } from '../../src/record/index.js'
import type { StixObject } from '../../src/stix/types.js'
import { startStageClock, stopStageClock } from '../../src/util/stages.js'
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
  const dir = await mkdtemp(join(tmpdir(), 'dragnet-bench-'))
  let storeRate = 0
  let storeInlineRate = 0
  // Main-thread µs per record per stage, from the same runs (see src/util/stages.ts).
  const stages: Record<string, Record<string, number>> = {}
  try {
    for (const workers of [2, 0]) {
      const d = join(dir, `n${workers}`)
      await initDataDir(d, { name: 'bench' })
      const config = await loadConfig({ overrides: { roster: [{ peerId: author.peerId, name: 'author', country: 'FR', role: 'bureau', addrs: [] }], ingest: { verifyWorkers: workers } } })
      const node = await DragnetNode.open({ dataDir: d, config, log: silentLogger(), network: false })
      await node.start()
      const batch = 256
      // Inline, the main thread is the only one verifying: CPU time per span holds on a loaded machine.
      const clock = startStageClock(workers > 0 ? 'wall' : 'cpu')
      const cpu0 = process.cpuUsage()
      const start = performance.now()
      // Several batches in flight, as the sync receiver runs them: verification of some overlaps the work on others.
      let inflight: Array<Promise<unknown>> = []
      for (let b = 0; b < records.length; b += batch) {
        inflight.push(node.ingest.receive(records.slice(b, b + batch).map(r => ({ bytes: r.bytes, from: author.peerId, source: 'sync' as const }))))
        if (inflight.length >= 4) { await inflight.shift() }
      }
      await Promise.all(inflight)
      inflight = []
      const ms = performance.now() - start
      const cpu = process.cpuUsage(cpu0)
      stopStageClock()
      stages[workers > 0 ? 'workers' : 'inline'] = { ...clock.perRecordUs(), wall: Math.round(ms * 10_000 / records.length) / 10, process_cpu: Math.round((cpu.user + cpu.system) * 10 / records.length) / 10 }
      const storedCount = node.store.counts().records
      if (storedCount !== records.length) throw new Error(`stored ${storedCount} of ${records.length}`)
      if (workers > 0) storeRate = rate(records.length, ms)
      else storeInlineRate = rate(records.length, ms)
      await node.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100
  const rows: Array<[string, number, string, number]> = [
    ['sign (createRecord)', sign, 'raw node:crypto sign', rawSign],
    ['verify signature (verifyEnvelope)', verifySig, 'raw node:crypto verify', rawVerify],
    ['verify path (openRecord: verify+decode)', verify, 'raw node:crypto verify', rawVerify],
    ['store (receive: verify+STIX+index+batch), 2 verify workers', storeRate, 'raw node:crypto verify', rawVerify],
    ['store, verification inline on one thread', storeInlineRate, 'raw node:crypto verify', rawVerify]
  ]
  for (const [name, v, ref, rv] of rows) console.log(`${name.padEnd(62)} ${String(v).padStart(8)}/s   ${ref} ${String(rv).padStart(7)}/s   ratio ${ratio(v, rv).toFixed(2)}`)
  console.log(`raw verify: ${Math.round(1e7 / rawVerify) / 10} µs per record. Main-thread µs per record by stage (waits overlap other batches' work; process_cpu counts every thread):`)
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
    stages_us: stages.workers,
    stages_inline_us: stages.inline
  }
}
