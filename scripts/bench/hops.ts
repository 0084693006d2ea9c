import type { HopEvent, HopMark } from '../../src/util/hops.js'

/*
 * A record's critical path, rebuilt from a hop trace (src/util/hops.ts): from the last node to
 * store it back to its publisher, each hop split into named segments. Summed over a record, the
 * segments give its latency (publish → stored on the last node) up to the clock reads between them.
 */

/** Segments of a path, in the order a record meets them. */
export const SEGMENTS = [
  'sign', 'publish_write', 'read_wait', 'admission', 'held_check', 'verify', 'policy', 'fwd_checks',
  'push_out', 'wire', 'write', 'announce_wait', 'ihave_wire', 'graft_wait', 'graft_wire', 'graft_read', 'last_write'
] as const
export type Segment = typeof SEGMENTS[number]

interface NodeMarks { first: Map<HopMark, { t: number, peer?: string }>, to: Map<string, Map<HopMark, number>> }

function index (events: HopEvent[]): Map<string, NodeMarks> {
  const out = new Map<string, NodeMarks>()
  for (const e of events) {
    const k = `${e.node}|${e.id}`
    let m = out.get(k)
    if (m == null) { m = { first: new Map(), to: new Map() }; out.set(k, m) }
    if (!m.first.has(e.mark)) m.first.set(e.mark, e.peer != null ? { t: e.t, peer: e.peer } : { t: e.t })
    if (e.peer != null) {
      let p = m.to.get(e.peer)
      if (p == null) { p = new Map(); m.to.set(e.peer, p) }
      if (!p.has(e.mark)) p.set(e.mark, e.t)
    }
  }
  return out
}

/** The stages inside a receiving node up to the moment it is forwardable, as consecutive differences. */
const RELAY: Array<[HopMark, HopMark, Segment]> = [
  ['arrive', 'read', 'read_wait'], ['read', 'admitted', 'admission'], ['admitted', 'checked', 'held_check'],
  ['checked', 'verified', 'verify'], ['verified', 'decided', 'policy'], ['decided', 'forwardable', 'fwd_checks']
]

/** One record's path as segments (ms), or undefined when the trace misses a link. */
function pathOf (marks: Map<string, NodeMarks>, id: string, t0: number, last: string, author: string): Array<[Segment, number]> | undefined {
  const segs: Array<[Segment, number]> = []
  const at = (node: string): NodeMarks | undefined => marks.get(`${node}|${id}`)
  let node = last
  let child: string | undefined
  for (let guard = 0; guard < 64; guard++) {
    const m = at(node)
    if (m == null) return undefined
    const t = (k: HopMark): number | undefined => m.first.get(k)?.t
    // What this node did between holding the record (forwardable or stored) and sending it on to the child.
    const ready = node === author ? t('stored') : (t('forwardable') ?? t('stored'))
    if (child != null) {
      const to = m.to.get(child)
      const sent = to?.get('sent')
      if (sent == null || ready == null) return undefined
      const c = at(child)!.to.get(node)
      if (to?.get('graft_in') != null && c?.get('graft') != null) {
        const stored = t('stored')!
        const announced = to.get('announce_sent') ?? stored
        const ihave = c.get('ihave') ?? announced
        if (node !== author && ready < stored) segs.push(['write', stored - ready])
        segs.push(['announce_wait', announced - stored], ['ihave_wire', ihave - announced], ['graft_wait', c.get('graft')! - ihave],
          ['graft_wire', to.get('graft_in')! - c.get('graft')!], ['graft_read', sent - to.get('graft_in')!])
      } else {
        segs.push(['push_out', sent - ready])
      }
      segs.push(['wire', at(child)!.first.get('arrive')!.t - sent])
    } else {
      const stored = t('stored')
      if (stored == null || ready == null) return undefined
      if (node !== author) segs.push(['last_write', stored - ready])
    }
    if (node === author) {
      const signed = t('signed')
      const stored = t('stored')
      if (signed == null || stored == null) return undefined
      segs.push(['sign', signed - t0], ['publish_write', stored - signed])
      return segs.reverse()
    }
    let prev = t('arrive')
    for (const [a, b, seg] of RELAY) {
      const tb = t(b)
      if (tb == null) continue
      if (prev != null) segs.push([seg, tb - (t(a) ?? prev)])
      prev = tb
    }
    const from = m.first.get('arrive')?.peer
    if (from == null) return undefined
    child = node
    node = from
  }
  return undefined
}

function pct (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export interface HopReport {
  /** records whose whole path was traced */
  paths: number
  hops: { p50: number, max: number }
  /** per segment on the critical paths: median, p90 and p99 of one occurrence (ms) */
  segments: Record<string, { n: number, p50: number, p90: number, p99: number }>
  /** per segment, mean ms per record over all records and over the slowest tenth: where the tail is */
  per_record_ms: Record<string, { all: number, tail: number }>
}

/**
 * Critical paths of every published record: `started` (id, publish time), the node whose
 * onStored came last and the author, each by peer id.
 */
export function hopReport (events: HopEvent[], records: Array<{ id: string, t0: number, last: string, author: string, latency: number }>): HopReport {
  const marks = index(events)
  const bySeg = new Map<Segment, number[]>()
  const paths: Array<{ latency: number, segs: Array<[Segment, number]> }> = []
  for (const r of records) {
    const segs = pathOf(marks, r.id, r.t0, r.last, r.author)
    if (segs == null) continue
    paths.push({ latency: r.latency, segs })
    for (const [s, ms] of segs) {
      let l = bySeg.get(s)
      if (l == null) { l = []; bySeg.set(s, l) }
      l.push(ms)
    }
  }
  const r1 = (x: number): number => Math.round(x * 100) / 100
  const segments: HopReport['segments'] = {}
  for (const s of SEGMENTS) {
    const l = bySeg.get(s)
    if (l == null) continue
    l.sort((a, b) => a - b)
    segments[s] = { n: l.length, p50: r1(pct(l, 50)), p90: r1(pct(l, 90)), p99: r1(pct(l, 99)) }
  }
  const tail = [...paths].sort((a, b) => b.latency - a.latency).slice(0, Math.max(1, Math.ceil(paths.length / 10)))
  const mean = (ps: typeof paths, s: Segment): number => ps.reduce((a, p) => a + p.segs.filter(([x]) => x === s).reduce((b, [, ms]) => b + ms, 0), 0) / Math.max(1, ps.length)
  const perRecord: HopReport['per_record_ms'] = {}
  for (const s of SEGMENTS) if (bySeg.has(s)) perRecord[s] = { all: r1(mean(paths, s)), tail: r1(mean(tail, s)) }
  const hops = paths.map(p => p.segs.filter(([s]) => s === 'wire').length).sort((a, b) => a - b)
  return { paths: paths.length, hops: { p50: pct(hops, 50), max: hops[hops.length - 1] ?? 0 }, segments, per_record_ms: perRecord }
}

export function printHopReport (r: HopReport): void {
  console.log(`hops: ${r.paths} critical paths traced, ${r.hops.p50} hops at the median (max ${r.hops.max})`)
  console.log('segment          count     p50     p90     p99   ms/record (all, slowest tenth)')
  for (const [s, v] of Object.entries(r.segments)) {
    const pr = r.per_record_ms[s]
    console.log(`${s.padEnd(15)} ${String(v.n).padStart(6)} ${[v.p50, v.p90, v.p99].map(x => x.toFixed(2).padStart(7)).join(' ')}   ${pr.all.toFixed(2).padStart(7)} ${pr.tail.toFixed(2).padStart(7)}`)
  }
}
