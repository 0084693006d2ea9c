import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApi } from '../../src/api/server.js'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir, NodeIdentity } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { createRecord } from '../../src/record/index.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { analyzeStixObject } from '../../src/stix/index.js'
import { contributionsOf, type RecordWrite } from '../../src/store/index.js'
import { benchIndicators } from './data.js'

/*
 * npm run bench -- lookup-sightings [--json] [--records N] [--sightings N] [--members N] [--lookups N]
 *
 * GET /api/lookup (fastify inject(): the whole HTTP stack in process) of a value reported once
 * with N sightings (default 1000, from --members members, default 20) against, in the same run,
 * a value reported once with none, among --records other indicators (default 10,000). The answer
 * carries the federation summary; the feedback index keeps it one read per object, so the ratio
 * should stay within 2x. Lookups alternate between the two values; each side's median counts.
 */

function argInt (args: string[], name: string, dflt: number): number {
  const at = args.indexOf(name)
  if (at < 0) return dflt
  const n = Number(args[at + 1])
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer, got ${args[at + 1]}`)
  return n
}

function median (xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function write (identity: NodeIdentity, seq: number, body: Record<string, unknown>): RecordWrite {
  const a = analyzeStixObject(body)
  const record = createRecord(identity, { seq, ts: Date.now(), tlp: 'green', body: a.object })
  return { record, source: 'gossip', modified: String(a.object.modified), revoked: false, observables: a.observables, newOwner: true, feedback: contributionsOf(a.object, identity.peerId, 'green') }
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const records = argInt(args, '--records', 10_000)
  const sightings = argInt(args, '--sightings', 1000)
  const memberCount = argInt(args, '--members', 20)
  const lookups = argInt(args, '--lookups', 300)
  const dir = await mkdtemp(join(tmpdir(), 'dragnet-bench-lookup-'))
  try {
    await initDataDir(dir, { name: 'bench' })
    const node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({ overrides: { name: 'bench' } }), log: silentLogger(), network: false })
    await node.start()
    try {
      const bodies = await benchIndicators(records)
      let seq = 0
      for (let b = 0; b < records; b += 2000) await node.store.write(bodies.slice(b, b + 2000).map(o => write(node.identity, ++seq, o as Record<string, unknown>)))
      const quiet = indicator({ kind: 'ipv4', value: '198.51.100.10', seed: 'bench-quiet' }) as Record<string, unknown>
      const busy = indicator({ kind: 'ipv4', value: '198.51.100.20', seed: 'bench-busy' }) as Record<string, unknown>
      await node.store.write([write(node.identity, ++seq, quiet), write(node.identity, ++seq, busy)])
      const members = await Promise.all(Array.from({ length: memberCount }, async () => await NodeIdentity.generate()))
      const seqs = members.map(() => 0)
      const t0 = performance.now()
      for (let b = 0; b < sightings; b += 500) {
        const batch: RecordWrite[] = []
        for (let i = b; i < Math.min(sightings, b + 500); i++) {
          const m = i % memberCount
          const at = new Date(Date.now() - (sightings - i) * 60_000).toISOString()
          batch.push(write(members[m], ++seqs[m], { type: 'sighting', spec_version: '2.1', id: `sighting--${crypto.randomUUID()}`, created: at, modified: at, sighting_of_ref: busy.id, count: 1, first_seen: at, last_seen: at }))
        }
        await node.store.write(batch)
      }
      console.log(`store: ${records} indicators (${process.env.BENCH_DATA_SOURCE ?? ''}) + 2 values; ${sightings} sightings of one of them from ${memberCount} members stored in ${Math.round(performance.now() - t0)} ms`)

      const token = 'bench-token-0123456789'
      const app = await buildApi(node, { token })
      const headers = { authorization: `Bearer ${token}` }
      const once = async (value: string, expect: number): Promise<number> => {
        const start = performance.now()
        const res = await app.inject({ url: `/api/lookup?value=${value}`, headers })
        const body = JSON.parse(res.body) as { summary?: { sightings: number }, records: unknown[] }
        const ms = performance.now() - start
        if (res.statusCode !== 200 || body.records.length !== 1 || body.summary?.sightings !== expect) throw new Error(`lookup ${value} answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
        return ms
      }
      for (let i = 0; i < 20; i++) { await once('198.51.100.10', 0); await once('198.51.100.20', sightings) }
      const none: number[] = []
      const many: number[] = []
      for (let i = 0; i < lookups; i++) {
        none.push(await once('198.51.100.10', 0))
        many.push(await once('198.51.100.20', sightings))
      }
      await app.close()
      const noneMs = Math.round(median(none) * 1000) / 1000
      const manyMs = Math.round(median(many) * 1000) / 1000
      const ratio = Math.round((manyMs / noneMs) * 100) / 100
      console.log(`lookup, value with no sightings          median ${noneMs.toFixed(3)} ms`)
      console.log(`lookup, value with ${String(sightings).padEnd(6)} sightings    median ${manyMs.toFixed(3)} ms`)
      console.log(`ratio ${ratio.toFixed(2)} (target <= 2)`)
      return { lookup_none_ms: noneMs, lookup_sighted_ms: manyMs, ratio, sightings, members: memberCount, records, lookups, transport: 'inject' }
    } finally {
      await node.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
