/*
 * npm run bench -- sync-recon [--records N] [--json]   (default N = 1,000,000)
 *
 * Range-based reconciliation against the naive "send every id" baseline over two item sets of
 * N records each: identical; 1,000 differences clustered in one hour; 1,000 differences
 * scattered over the year; each with the differences on one side (the initiator lacks them,
 * as a node catching up after an outage) and split over both sides (500 + 500). Also the
 * index's build time and memory per item. Every run checks that both sides found exactly the
 * planted differences.
 */
import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import {
  ID_BYTES, ReconIndex, reconcileLocally, type ColumnarItems, type LocalResult, type ReconItem
} from '../../src/sync/recon/index.js'

const YEAR_MS = 365 * 24 * 3600 * 1000
const HOUR_MS = 3600 * 1000
const START_TS = 1_700_000_000_000
const DIFFS = 1000

export interface ReconFigures {
  insync_round_trips: number
  insync_bytes: number
  insync_cpu_ms: number
  clustered_round_trips: number
  clustered_bytes: number
  scattered_round_trips: number
  scattered_bytes: number
  naive_insync_bytes: number
  naive_clustered_bytes: number
  naive_scattered_bytes: number
  naive_round_trips: number
  index_build_ms: number
  index_bytes_per_item: number
  [detail: string]: number
}

function gcNow (): void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
}

function heapBytes (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** N records over a year, strictly increasing ts (gaps 1..2·mean ms), random ids. */
function baseColumns (n: number): ColumnarItems & { ts: Float64Array } {
  const ts = new Float64Array(n)
  const gap = Math.max(2, Math.floor(2 * YEAR_MS / Math.max(1, n)))
  let t = START_TS
  for (let i = 0; i < n; i++) {
    t += 1 + Math.floor(Math.random() * (gap - 1))
    ts[i] = t
  }
  return { ts, ids: randomBytes(n * ID_BYTES) }
}

function randomItems (count: number, from: number, span: number): ReconItem[] {
  const out: ReconItem[] = []
  for (let i = 0; i < count; i++) out.push({ ts: from + Math.floor(Math.random() * span), id: randomBytes(ID_BYTES) })
  return out.sort((a, b) => a.ts - b.ts || Buffer.compare(a.id, b.id))
}

/** Base columns plus sorted extra items, merged in order. */
function withExtra (base: ColumnarItems, extra: ReconItem[]): ColumnarItems {
  const n = base.ts.length
  const ts = new Float64Array(n + extra.length)
  const ids = new Uint8Array((n + extra.length) * ID_BYTES)
  let i = 0
  let j = 0
  let k = 0
  while (i < n || j < extra.length) {
    const takeBase = j >= extra.length || (i < n && (base.ts[i] < extra[j].ts ||
      (base.ts[i] === extra[j].ts && Buffer.compare(base.ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES), extra[j].id) < 0)))
    if (takeBase) {
      ts[k] = base.ts[i]
      ids.set(base.ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES), k * ID_BYTES)
      i++
    } else {
      ts[k] = extra[j].ts
      ids.set(extra[j].id, k * ID_BYTES)
      j++
    }
    k++
  }
  return { ts, ids }
}

const hex = (id: Uint8Array): string => Buffer.from(id).toString('hex')

function check (r: LocalResult, onlyA: ReconItem[], onlyB: ReconItem[], label: string): void {
  const same = (got: Uint8Array[], want: ReconItem[]): boolean => {
    const g = new Set(got.map(hex))
    return g.size === want.length && got.length === want.length && want.every(x => g.has(hex(x.id)))
  }
  if (!same(r.initiator.have, onlyA) || !same(r.initiator.need, onlyB) || !same(r.responder.have, onlyB) || !same(r.responder.need, onlyA)) {
    throw new Error(`${label}: reconciliation did not find exactly the planted differences`)
  }
}

interface Scenario {
  rt: number
  bytes: number
  cpuInit: number
  cpuResp: number
  naiveRt: number
  naiveBytes: number
}

function scenario (base: ColumnarItems, onlyA: ReconItem[], onlyB: ReconItem[], label: string, naive: boolean): Scenario {
  const a = ReconIndex.fromSorted(onlyA.length > 0 ? withExtra(base, onlyA) : base)
  const b = ReconIndex.fromSorted(onlyB.length > 0 ? withExtra(base, onlyB) : base)
  const r = reconcileLocally(a, b)
  check(r, onlyA, onlyB, label)
  let naiveRt = 0
  let naiveBytes = 0
  if (naive) {
    const n = reconcileLocally(a, b, {}, 'naive')
    check(n, onlyA, onlyB, `${label} (naive)`)
    naiveRt = n.roundTrips
    naiveBytes = n.totalBytes
  }
  return { rt: r.roundTrips, bytes: r.totalBytes, cpuInit: r.initiator.cpuMs, cpuResp: r.responder.cpuMs, naiveRt, naiveBytes }
}

export async function measureRecon (opts: { records: number }): Promise<ReconFigures> {
  const n = Math.max(1, Math.floor(opts.records))
  const base = baseColumns(n)

  gcNow()
  const before = heapBytes()
  const t0 = performance.now()
  const probe = ReconIndex.fromSorted(base)
  const buildMs = performance.now() - t0
  gcNow()
  const indexBytes = heapBytes() - before
  if (probe.size !== n) throw new Error('index size mismatch')

  const span = base.ts[n - 1] - base.ts[0] + 1
  const hourAt = base.ts[0] + Math.floor(span * 0.62)
  const clustered = randomItems(DIFFS, hourAt, HOUR_MS)
  const scattered = randomItems(DIFFS, base.ts[0], span)
  const halves = (xs: ReconItem[]): [ReconItem[], ReconItem[]] => [xs.filter((_, i) => i % 2 === 0), xs.filter((_, i) => i % 2 === 1)]

  const insync = scenario(base, [], [], 'in sync', true)
  const c1 = scenario(base, [], clustered, 'clustered one-sided', true)
  const c2 = scenario(base, ...halves(clustered), 'clustered two-sided', false)
  const s1 = scenario(base, [], scattered, 'scattered one-sided', true)
  const s2 = scenario(base, ...halves(scattered), 'scattered two-sided', false)

  return {
    insync_round_trips: insync.rt,
    insync_bytes: insync.bytes,
    insync_cpu_ms: round(Math.max(insync.cpuInit, insync.cpuResp)),
    clustered_round_trips: Math.max(c1.rt, c2.rt),
    clustered_bytes: Math.max(c1.bytes, c2.bytes),
    scattered_round_trips: Math.max(s1.rt, s2.rt),
    scattered_bytes: Math.max(s1.bytes, s2.bytes),
    naive_insync_bytes: insync.naiveBytes,
    naive_clustered_bytes: c1.naiveBytes,
    naive_scattered_bytes: s1.naiveBytes,
    naive_round_trips: Math.max(insync.naiveRt, c1.naiveRt, s1.naiveRt),
    index_build_ms: round(buildMs),
    index_bytes_per_item: round(indexBytes / n),
    insync_cpu_ms_initiator: round(insync.cpuInit),
    insync_cpu_ms_responder: round(insync.cpuResp),
    clustered_one_sided_round_trips: c1.rt,
    clustered_one_sided_bytes: c1.bytes,
    clustered_two_sided_round_trips: c2.rt,
    clustered_two_sided_bytes: c2.bytes,
    clustered_cpu_ms: round(Math.max(c1.cpuInit, c1.cpuResp, c2.cpuInit, c2.cpuResp)),
    scattered_one_sided_round_trips: s1.rt,
    scattered_one_sided_bytes: s1.bytes,
    scattered_two_sided_round_trips: s2.rt,
    scattered_two_sided_bytes: s2.bytes,
    scattered_cpu_ms: round(Math.max(s1.cpuInit, s1.cpuResp, s2.cpuInit, s2.cpuResp)),
    records: n,
    diffs: DIFFS
  }
}

function round (x: number): number {
  return Math.round(x * 10) / 10
}

function kb (b: number): string {
  return b < 10_000 ? `${b} B` : `${(b / 1024).toFixed(1)} KiB`
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const at = args.indexOf('--records')
  const records = at >= 0 ? Number(args[at + 1]) : 1_000_000
  if (!Number.isSafeInteger(records) || records < 1) throw new Error('--records needs a positive integer')
  const f = await measureRecon({ records })
  const rows: Array<[string, string, string]> = [
    ['in sync', `${f.insync_round_trips} RT, ${kb(f.insync_bytes)}, ${f.insync_cpu_ms_initiator}/${f.insync_cpu_ms_responder} ms CPU (init/resp)`, kb(f.naive_insync_bytes)],
    [`${DIFFS} clustered, one-sided`, `${f.clustered_one_sided_round_trips} RT, ${kb(f.clustered_one_sided_bytes)}`, kb(f.naive_clustered_bytes)],
    [`${DIFFS} clustered, 500+500`, `${f.clustered_two_sided_round_trips} RT, ${kb(f.clustered_two_sided_bytes)}`, ''],
    [`${DIFFS} scattered, one-sided`, `${f.scattered_one_sided_round_trips} RT, ${kb(f.scattered_one_sided_bytes)}`, kb(f.naive_scattered_bytes)],
    [`${DIFFS} scattered, 500+500`, `${f.scattered_two_sided_round_trips} RT, ${kb(f.scattered_two_sided_bytes)}`, '']
  ]
  console.log(`sync-recon: ${records.toLocaleString('en')} records per side, bytes are both directions`)
  console.log(`${'scenario'.padEnd(28)} ${'range reconciliation'.padEnd(52)} naive (${f.naive_round_trips} RT max)`)
  for (const [a, b, c] of rows) console.log(`${a.padEnd(28)} ${b.padEnd(52)} ${c}`)
  console.log(`index: bulk load ${f.index_build_ms} ms, ${f.index_bytes_per_item} bytes/item (heap + external, after gc)`)
  console.log(`CPU per side, worst: clustered ${f.clustered_cpu_ms} ms, scattered ${f.scattered_cpu_ms} ms`)
  return { bench: 'sync-recon', ...f }
}
