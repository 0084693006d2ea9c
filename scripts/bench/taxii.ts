import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApi } from '../../src/api/server.js'
import { COLLECTIONS, TAXII_MEDIA_TYPE } from '../../src/api/taxii-query.js'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { createRecord, HEADER_BYTES } from '../../src/record/index.js'
import { analyzeStixObject } from '../../src/stix/index.js'
import type { RecordWrite } from '../../src/store/index.js'
import { benchIndicators } from './data.js'

/*
 * npm run bench -- taxii [--json] [--records N]
 *
 * Pages every object of one TAXII collection through GET .../objects/ (fastify inject(): the
 * whole HTTP stack in process, no socket), 1000 objects a page following `next`, the client
 * parsing each response as JSON. Beside it, in the same run, the raw store iteration of the same
 * records: the arrival index, the record bytes (getManyBytes) and JSON.parse of each payload.
 */

function rate (n: number, ms: number): number {
  return Math.round(n / (ms / 1000))
}

const dec = new TextDecoder()

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const at = args.indexOf('--records')
  const count = at >= 0 ? Number(args[at + 1]) : 100_000
  if (!Number.isInteger(count) || count < 1) throw new Error(`--records needs a positive integer, got ${args[at + 1]}`)
  const dir = await mkdtemp(join(tmpdir(), 'dragnet-bench-taxii-'))
  try {
    await initDataDir(dir, { name: 'bench' })
    const config = await loadConfig({ overrides: { name: 'bench' } })
    const node = await DragnetNode.open({ dataDir: dir, config, log: silentLogger(), network: false })
    await node.start()
    try {
      // The store is filled directly, in batches of 2000 sharing one date_added (as ingest batches
      // do): building 100,000 records through publish would take longer than the measurement.
      const bodies = await benchIndicators(count)
      const t0 = performance.now()
      let bytes = 0
      for (let b = 0; b < count; b += 2000) {
        const writes: RecordWrite[] = []
        for (let i = b; i < Math.min(count, b + 2000); i++) {
          const a = analyzeStixObject(bodies[i])
          const record = createRecord(node.identity, { seq: i + 1, ts: Date.now(), tlp: 'green', body: a.object })
          bytes += record.bytes.length
          writes.push({ record, source: 'local', modified: String(a.object.modified), revoked: false, observables: a.observables, newOwner: true })
        }
        await node.store.write(writes)
      }
      console.log(`records: ${count} indicators (${process.env.BENCH_DATA_SOURCE ?? ''}), average ${Math.round(bytes / count)} bytes, stored in ${Math.round(performance.now() - t0)} ms`)

      const token = 'bench-token-0123456789'
      const app = await buildApi(node, { token })
      const green = COLLECTIONS.find(c => c.tlp === 'green')!
      const headers = { accept: TAXII_MEDIA_TYPE, authorization: `Bearer ${token}` }

      const taxiiPass = async (): Promise<{ n: number, ms: number }> => {
        const start = performance.now()
        let n = 0
        let next: string | undefined
        do {
          const url = `/taxii2/dragnet/collections/${green.id}/objects/?limit=1000${next != null ? `&next=${encodeURIComponent(next)}` : ''}`
          const res = await app.inject({ method: 'GET', url, headers })
          if (res.statusCode !== 200) throw new Error(`TAXII answered ${res.statusCode}: ${res.body}`)
          const env = JSON.parse(res.body) as { more?: boolean, next?: string, objects?: Array<{ type: string }> }
          // Every record is an indicator; each page also carries the TLP marking and author identity they reference.
          n += env.objects?.filter(o => o.type === 'indicator').length ?? 0
          next = env.more === true ? env.next : undefined
        } while (next != null)
        return { n, ms: performance.now() - start }
      }

      const rawPass = async (): Promise<{ n: number, ms: number }> => {
        const start = performance.now()
        let n = 0
        let page: string[] = []
        const flush = async (): Promise<void> => {
          for (const b of await node.store.getManyBytes(page)) {
            JSON.parse(dec.decode(b!.subarray(HEADER_BYTES)))
            n++
          }
          page = []
        }
        for await (const e of node.store.byArrival(0)) {
          page.push(e.id)
          if (page.length === 1000) await flush()
        }
        await flush()
        return { n, ms: performance.now() - start }
      }

      // One warm-up pass of each (JIT, LevelDB block cache, the version index), then the best
      // of three alternating passes each, so neither side gets the warmer machine.
      await taxiiPass()
      await rawPass()
      let taxii = Infinity
      let raw = Infinity
      for (let i = 0; i < 3; i++) {
        const t = await taxiiPass()
        if (t.n !== count) throw new Error(`TAXII paging returned ${t.n} objects of ${count}`)
        taxii = Math.min(taxii, t.ms)
        const r = await rawPass()
        if (r.n !== count) throw new Error(`raw iteration read ${r.n} records of ${count}`)
        raw = Math.min(raw, r.ms)
      }
      await app.close()
      const objectsPerS = rate(count, taxii)
      const rawPerS = rate(count, raw)
      const ratio = Math.round((objectsPerS / rawPerS) * 100) / 100
      console.log(`TAXII objects endpoint (inject, limit 1000, client parses JSON) ${String(objectsPerS).padStart(8)}/s`)
      console.log(`raw store iteration (arrival index + getManyBytes + JSON.parse) ${String(rawPerS).padStart(8)}/s`)
      console.log(`ratio ${ratio.toFixed(2)} (target >= 0.5)`)
      return { objects_per_s: objectsPerS, raw_per_s: rawPerS, ratio, records: count, transport: 'inject', page_size: 1000 }
    } finally {
      await node.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
