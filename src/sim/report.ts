/**
 * Renderers for a `dragnet simulate` run: a compact terminal summary and a self-contained HTML
 * report (inline CSS and SVG, no network). Every string in a SimResult may come from a JSON file
 * someone else wrote (names, reasons, details), so both renderers treat them as untrusted: the
 * terminal one neutralises control characters, the HTML one escapes everything it interpolates.
 */
import { createHash } from 'node:crypto'
import { Rng } from './random.js'
import type { SimEvent, SimMemberResult, SimResult } from './result.js'

export interface TerminalOptions {
  /** ANSI colors; off unless asked, so piped output and logs stay clean */
  color?: boolean
}

/** up to this many nodes the terminal table lists them all */
const TABLE_FULL_MAX = 40
/** beyond it, only this many rows */
const TABLE_SHOWN = 15
const TIMELINE_MAX = 20
/** the HTML event list stops here so a chatty run cannot blow up the file */
const HTML_EVENTS_MAX = 1000
/** a pathological `details` must not make the page huge */
const DETAILS_MAX_CHARS = 20_000

// ---------------------------------------------------------------------------------------------
// Shared formatting

const collator = new Intl.Collator('en', { numeric: true })

function finite (x: unknown): number | null {
  const n = typeof x === 'number' ? x : Number(x)
  return Number.isFinite(n) ? n : null
}

/** a number for arithmetic: anything non-finite counts as 0 so a bad field cannot poison a plot */
function num (x: unknown): number {
  return finite(x) ?? 0
}

function fmtInt (x: unknown): string {
  const n = finite(x)
  return n == null ? '—' : Math.round(n).toLocaleString('en-US')
}

function fmtMs (x: unknown): string {
  const ms = finite(x)
  if (ms == null) return '—'
  const a = Math.abs(ms)
  if (a < 10) return `${ms.toFixed(1)} ms`
  if (a < 1000) return `${Math.round(ms)} ms`
  if (a < 10_000) return `${(ms / 1000).toFixed(2)} s`
  if (a < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(a / 1000)
  return `${ms < 0 ? '-' : ''}${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
}

function fmtBytes (x: unknown): string {
  const b = finite(x)
  if (b == null) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = b
  let u = 0
  while (Math.abs(v) >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

function fmtRatio (x: unknown): string {
  const n = finite(x)
  return n == null ? '—' : `${n.toFixed(2)}×`
}

/** Copies received per delivery by path (push, graft, sync), and how many were duplicates; null for results without them. */
function copiesLine (r: SimResult): { total: string, main: string, sub: string } | null {
  const c = r.copies
  if (c == null || typeof c !== 'object' || c.per_delivery == null || c.duplicates == null) return null
  const per = c.per_delivery
  const dup = c.duplicates
  return {
    total: fmtRatio(per.total),
    main: `${fmtRatio(per.total)} per delivery: push ${fmtRatio(per.push)} · graft ${fmtRatio(per.graft)} · sync ${fmtRatio(per.sync)}`,
    sub: `(duplicates: push ${fmtInt(dup.push)} of ${fmtInt(c.push)}, graft ${fmtInt(dup.graft)} of ${fmtInt(c.graft)}, sync ${fmtInt(dup.sync)} of ${fmtInt(c.sync)})`
  }
}

function fmtPct (x: unknown): string {
  const n = finite(x)
  return n == null ? '—' : `${(n * 100).toFixed(1)}%`
}

function fmtMb (x: unknown): string {
  const n = finite(x)
  return n == null ? '—' : `${n.toFixed(n < 10 ? 1 : 0)} MB`
}

/** offset of an event from the start of the run, aligned for a column */
function fmtOffset (ms: unknown): string {
  const n = finite(ms)
  return n == null ? '     —   ' : `+${(n / 1000).toFixed(3).padStart(8)} s`
}

/** `details` is free-form: strings as they are, anything else as compact JSON */
function detailsText (details: unknown, pretty: boolean): string {
  if (details === undefined || details === null) return ''
  if (typeof details === 'string') return details
  try {
    const s = JSON.stringify(details, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v, pretty ? 2 : undefined)
    return s ?? String(details)
  } catch {
    return String(details)
  }
}

function oneLine (details: unknown, max: number): string {
  return truncate(detailsText(details, false).replace(/\s+/g, ' ').trim(), max)
}

function truncate (s: string, max: number): string {
  const cps = [...s]
  return cps.length <= max ? s : cps.slice(0, Math.max(0, max - 1)).join('') + '…'
}

function byCount (counts: Record<string, number> | null | undefined): Array<[string, number]> {
  return Object.entries(counts ?? {})
    .map(([k, v]): [string, number] => [k, num(v)])
    .sort((a, b) => b[1] - a[1] || collator.compare(a[0], b[0]))
}

function sumCounts (counts: Record<string, number> | null | undefined): number {
  return Object.values(counts ?? {}).reduce((s, v) => s + num(v), 0)
}

/** a node worth a look: the run did not leave it holding exactly its entitlement, or it was penalised */
function troubled (m: SimMemberResult): boolean {
  return num(m.missing) > 0 || num(m.unexpected) > 0 || num(m.penalties) > 0
}

function invariantsOf (r: SimResult): Array<[string, { pass: boolean, details: unknown }]> {
  return Object.entries(r.invariants ?? {}).map(([k, v]) => [k, { pass: v?.pass === true, details: v?.details }])
}

function membersOf (r: SimResult): SimMemberResult[] {
  return Array.isArray(r.members) ? r.members : []
}

function eventsOf (r: SimResult): SimEvent[] {
  return (Array.isArray(r.events) ? r.events : []).slice().sort((a, b) => num(a.t_ms) - num(b.t_ms))
}

// ---------------------------------------------------------------------------------------------
// Terminal

interface Palette {
  bold: (s: string) => string
  dim: (s: string) => string
  red: (s: string) => string
  green: (s: string) => string
  yellow: (s: string) => string
  cyan: (s: string) => string
}

function palette (on: boolean): Palette {
  const wrap = (open: number, close: number) => (s: string): string => on ? `\x1b[${open}m${s}\x1b[${close}m` : s
  return { bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) }
}

/**
 * Untrusted text made safe for a terminal: control characters (escape sequences could recolor,
 * move the cursor or retitle the window) and bidi overrides (could visually reorder a line)
 * become visible \x / \u escapes.
 */
function tty (x: unknown): string {
  let out = ''
  for (const ch of String(x ?? '')) {
    const c = ch.codePointAt(0)!
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) out += `\\u${c.toString(16)}`
    else out += ch
  }
  return out
}

function width (s: string): number {
  return [...s].length
}

function pad (s: string, w: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, w - width(s)))
  return right ? fill + s : s + fill
}

interface Column {
  head: string
  right: boolean
  max?: number
  get: (m: SimMemberResult) => string
  /** highlight for a cell, applied after padding so colors do not break alignment */
  tint?: (m: SimMemberResult, p: Palette) => ((s: string) => string) | null
}

const nonZero = (f: (m: SimMemberResult) => unknown, pick: (p: Palette) => (s: string) => string) =>
  (m: SimMemberResult, p: Palette): ((s: string) => string) | null => num(f(m)) > 0 ? pick(p) : null

const NODE_COLUMNS: Column[] = [
  { head: 'name', right: false, max: 22, get: m => tty(m.name) },
  { head: 'role', right: false, max: 11, get: m => tty(m.role) },
  { head: 'cc', right: false, max: 6, get: m => tty(m.country) },
  { head: 'policy', right: false, max: 16, get: m => tty(m.policy) },
  { head: 'up', right: false, get: m => m.up ? 'up' : 'DOWN', tint: (m, p) => m.up ? null : p.red },
  { head: 'records', right: true, get: m => fmtInt(m.records) },
  { head: 'entitled', right: true, get: m => fmtInt(m.entitled) },
  { head: 'missing', right: true, get: m => fmtInt(m.missing), tint: nonZero(m => m.missing, p => p.red) },
  { head: 'unexp', right: true, get: m => fmtInt(m.unexpected), tint: nonZero(m => m.unexpected, p => p.red) },
  { head: 'rej', right: true, get: m => fmtInt(m.rejected), tint: nonZero(m => m.rejected, p => p.yellow) },
  { head: 'held', right: true, get: m => fmtInt(m.withheld) },
  { head: 'pen', right: true, get: m => fmtInt(m.penalties), tint: nonZero(m => m.penalties, p => p.yellow) }
]

function nodeTable (rows: SimMemberResult[], p: Palette): string[] {
  const cells = rows.map(m => NODE_COLUMNS.map(c => c.max != null ? truncate(c.get(m), c.max) : c.get(m)))
  const widths = NODE_COLUMNS.map((c, i) => Math.max(width(c.head), ...cells.map(r => width(r[i]))))
  const rule = (l: string, mid: string, r: string): string => l + widths.map(w => '─'.repeat(w + 2)).join(mid) + r
  const out = [rule('┌', '┬', '┐')]
  out.push('│' + NODE_COLUMNS.map((c, i) => ' ' + p.bold(pad(c.head, widths[i], c.right)) + ' ').join('│') + '│')
  out.push(rule('├', '┼', '┤'))
  rows.forEach((m, r) => {
    out.push('│' + NODE_COLUMNS.map((c, i) => {
      const text = pad(cells[r][i], widths[i], c.right)
      const tint = c.tint?.(m, p)
      return ' ' + (tint != null ? tint(text) : text) + ' '
    }).join('│') + '│')
  })
  out.push(rule('└', '┴', '┘'))
  return out
}

/**
 * Which events the timeline keeps when there are too many: the scenario's shape first (publishing,
 * partitions, attacks, convergence), then churn (a churn scenario has dozens of down/up), then notes.
 */
const EVENT_TIER: Readonly<Record<string, number>> = {
  'publish-start': 0, 'publish-end': 0, partition: 0, heal: 0, join: 0, revoke: 0, rotate: 0, attack: 0, spy: 0, converged: 0, down: 1, up: 1, note: 2
}

function pickTimeline (events: SimEvent[], max: number): { shown: SimEvent[], hidden: SimEvent[] } {
  if (events.length <= max) return { shown: events, hidden: [] }
  const chosen = new Set<number>()
  for (const tier of [0, 1, 2, 3]) {
    events.forEach((e, i) => { if (chosen.size < max && (EVENT_TIER[e.kind] ?? 3) === tier) chosen.add(i) })
  }
  return {
    shown: events.filter((_e, i) => chosen.has(i)),
    hidden: events.filter((_e, i) => !chosen.has(i))
  }
}

function kindCounts (events: SimEvent[]): string {
  const counts = new Map<string, number>()
  for (const e of events) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1] || collator.compare(a[0], b[0])).map(([k, n]) => `${tty(k)} ×${n}`).join(', ')
}

export function renderTerminal (result: SimResult, opts: TerminalOptions = {}): string {
  const p = palette(opts.color === true)
  const out: string[] = []
  const label = (s: string): string => p.bold(s.padEnd(12))
  const members = membersOf(result)
  const lat = result.latency_ms ?? { p50: NaN, p95: NaN, p99: NaN, max: NaN, samples: 0 }
  const bytes = result.bytes ?? { payload_per_delivery: NaN, protocol_per_delivery: NaN, payload_total: NaN, protocol_total: NaN, record_avg: NaN }

  out.push(p.bold(`dragnet simulate · ${tty(result.scenario)}`))
  if (result.description) out.push(`  ${tty(result.description)}`)
  const up = members.filter(m => m.up).length
  out.push(p.dim(`  seed ${tty(result.seed)} · ${fmtInt(result.nodes)} nodes (${up} up at the end) · ${tty(result.transport)} transport · ` +
    `topology ${tty(result.topology)} (${fmtInt(result.edges?.length ?? 0)} edges) · ran ${fmtMs(result.duration_ms)} · ` +
    `rss ${fmtMb(result.memory?.rss_mb)} (${fmtMb(result.memory?.per_node_mb)}/node)`))
  out.push('')

  out.push(`${label('Records')}${fmtInt(result.records_published)} published · ${fmtInt(result.deliveries)} deliveries`)
  if (num(lat.samples) > 0) {
    out.push(`${label('Latency')}p50 ${p.cyan(fmtMs(lat.p50))} · p95 ${p.cyan(fmtMs(lat.p95))} · p99 ${p.cyan(fmtMs(lat.p99))} · ` +
      `max ${fmtMs(lat.max)} ${p.dim(`(${fmtInt(lat.samples)} samples)`)}`)
  } else {
    out.push(`${label('Latency')}${p.dim('no deliveries measured')}`)
  }
  const series = Array.isArray(result.convergence_series) ? result.convergence_series : []
  const final = series.length > 0 ? ` · finally ${fmtPct(series[series.length - 1][1])} of entitlements held` : ''
  if (result.converged) {
    const after = result.convergence_ms == null ? '' : `, ${fmtMs(result.convergence_ms)} after the last disturbance`
    out.push(`${label('Converged')}${p.green('yes')}${after}${final}`)
  } else {
    out.push(`${label('Converged')}${p.red('NO')}${result.convergence_ms == null ? ', never held exactly every entitlement' : `, ${fmtMs(result.convergence_ms)}`}${final}`)
  }
  out.push(`${label('Bytes')}payload ${p.cyan(fmtRatio(bytes.payload_per_delivery))} · protocol ${p.cyan(fmtRatio(bytes.protocol_per_delivery))} ` +
    `the record size per delivered record ${p.dim(`(avg record ${fmtBytes(bytes.record_avg)}; ` +
    `${fmtBytes(bytes.payload_total)} payload, ${fmtBytes(bytes.protocol_total)} protocol in all)`)}`)
  const copies = copiesLine(result)
  if (copies != null) out.push(`${label('Copies')}${copies.main} ${p.dim(copies.sub)}`)
  out.push('')

  // Nodes: all of them when few; otherwise the ones that need attention, then the first by name.
  if (members.length === 0) {
    out.push(`${p.bold('Nodes')}  none`)
  } else if (members.length <= TABLE_FULL_MAX) {
    out.push(p.bold(`Nodes (${members.length})`))
    out.push(...nodeTable(members, p))
  } else {
    const ranked = members.slice().sort((a, b) => Number(troubled(b)) - Number(troubled(a)) || collator.compare(String(a.name), String(b.name)))
    const shown = ranked.slice(0, TABLE_SHOWN)
    const omitted = ranked.slice(TABLE_SHOWN)
    const omittedTroubled = omitted.filter(troubled).length
    out.push(p.bold(`Nodes (${members.length}, ${shown.length} shown: those with missing, unexpected or penalties first, then by name)`))
    out.push(...nodeTable(shown, p))
    out.push(`… ${omitted.length} more nodes omitted` + (omittedTroubled > 0
      ? ` (${p.red(`${omittedTroubled} of them with missing, unexpected or penalties`)})`
      : ' (none with missing, unexpected or penalties)'))
  }
  out.push('')

  for (const [title, counts] of [['Rejections (ingest)', result.rejections], ['Withholdings (outbound)', result.withholdings]] as const) {
    const rows = byCount(counts)
    if (rows.length === 0) { out.push(`${p.bold(title)}  none`); continue }
    out.push(`${p.bold(title)}  ${fmtInt(sumCounts(counts))} in all`)
    const w = Math.min(40, Math.max(...rows.map(([k]) => width(tty(k)))))
    const cw = Math.max(...rows.map(([, n]) => fmtInt(n).length))
    for (const [k, n] of rows) out.push(`  ${pad(truncate(tty(k), 40), w, false)}  ${fmtInt(n).padStart(cw)}`)
  }
  out.push('')

  const inv = invariantsOf(result)
  const failed = inv.filter(([, v]) => !v.pass).length
  out.push(`${p.bold('Invariants')}  ${inv.length - failed} pass, ${failed > 0 ? p.red(`${failed} fail`) : '0 fail'}`)
  const iw = Math.min(32, Math.max(0, ...inv.map(([k]) => width(tty(k)))))
  for (const [name, v] of inv) {
    const tag = v.pass ? p.green('PASS') : p.red(p.bold('FAIL'))
    const d = tty(oneLine(v.details, 100))
    const shownName = truncate(tty(name), 32)
    out.push(`  ${tag}  ${d === '' ? shownName : `${pad(shownName, iw, false)}  ${p.dim(d)}`}`)
  }
  out.push('')

  const events = eventsOf(result)
  const { shown, hidden } = pickTimeline(events, TIMELINE_MAX)
  out.push(p.bold(`Timeline (${events.length} event${events.length === 1 ? '' : 's'}${hidden.length > 0 ? `, ${shown.length} shown` : ''})`))
  for (const e of shown) {
    const kind = tty(e.kind).padEnd(13)
    const tinted = e.kind === 'partition' || e.kind === 'down' || e.kind === 'attack' || e.kind === 'spy'
      ? p.yellow(kind)
      : e.kind === 'heal' || e.kind === 'up' || e.kind === 'converged' ? p.green(kind) : kind
    out.push(`  ${p.dim(fmtOffset(e.t_ms))}  ${tinted}  ${truncate(tty(e.detail), 100)}`)
  }
  if (hidden.length > 0) out.push(p.dim(`  … ${hidden.length} more not shown: ${kindCounts(hidden)}`))
  return out.join('\n') + '\n'
}

// ---------------------------------------------------------------------------------------------
// HTML

/**
 * Text or attribute content: the five HTML specials, and control characters (other than tab and
 * newline) replaced, since some are not allowed in HTML at all.
 */
function esc (x: unknown): string {
  return String(x ?? '').replace(/[&<>"']/g, ch => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!)
    .replace(/[\p{Cc}]/gu, ch => ch === '\n' || ch === '\t' ? ch : '\uFFFD')
}

/** SVG coordinates with one decimal: enough for a 800-px drawing and half the bytes of full floats */
function c1 (v: number): string {
  return String(Math.round(v * 10) / 10)
}

const ROLE_COLORS: Record<string, string> = { bureau: '#2563eb', contributor: '#16a34a', observer: '#9ca3af' }
const OTHER_ROLE = '#a855f7'
const BAD = '#dc2626'

const EVENT_COLORS: Record<string, string> = {
  partition: '#dc2626',
  heal: '#16a34a',
  down: '#ea580c',
  up: '#0891b2',
  join: '#7c3aed',
  attack: '#be123c',
  spy: '#a21caf',
  converged: '#15803d',
  note: '#6b7280',
  'publish-start': '#2563eb',
  'publish-end': '#2563eb'
}

function roleColor (role: unknown): string {
  return ROLE_COLORS[String(role)] ?? OTHER_ROLE
}

/** 1-2-2.5-5 steps so ticks land on round numbers */
function niceAxis (max: number, target: number): { max: number, ticks: number[] } {
  if (!(max > 0)) return { max: 1, ticks: [0, 1] }
  const raw = max / target
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) ?? 10 * mag
  const top = Math.ceil(max / step - 1e-9) * step
  const ticks: number[] = []
  for (let i = 0; i * step <= top + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)))
  return { max: top, ticks }
}

interface Frame {
  w: number
  h: number
  l: number
  r: number
  t: number
  b: number
}

const PLOT: Frame = { w: 800, h: 330, l: 60, r: 20, t: 62, b: 46 }

function plotX (f: Frame, v: number, max: number): number {
  return f.l + (max > 0 ? v / max : 0) * (f.w - f.l - f.r)
}

function plotY (f: Frame, v: number, max: number): number {
  return f.h - f.b - (max > 0 ? v / max : 0) * (f.h - f.t - f.b)
}

function axes (f: Frame, x: { max: number, ticks: number[], label: (v: number) => string, title: string },
  y: { max: number, ticks: number[], label: (v: number) => string, title: string }): string {
  const parts: string[] = []
  const bottom = f.h - f.b
  for (const v of y.ticks) {
    const py = c1(plotY(f, v, y.max))
    parts.push(`<line class="grid" x1="${f.l}" x2="${f.w - f.r}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${f.l - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${esc(y.label(v))}</text>`)
  }
  for (const v of x.ticks) {
    const px = c1(plotX(f, v, x.max))
    parts.push(`<line class="axis" x1="${px}" x2="${px}" y1="${bottom}" y2="${bottom + 5}"/>`,
      `<text class="tick" x="${px}" y="${bottom + 18}" text-anchor="middle">${esc(x.label(v))}</text>`)
  }
  parts.push(`<line class="axis" x1="${f.l}" x2="${f.w - f.r}" y1="${bottom}" y2="${bottom}"/>`,
    `<line class="axis" x1="${f.l}" x2="${f.l}" y1="${f.t}" y2="${bottom}"/>`,
    `<text class="title" x="${c1((f.l + f.w - f.r) / 2)}" y="${f.h - 6}" text-anchor="middle">${esc(x.title)}</text>`,
    `<text class="title" transform="translate(14 ${c1((f.t + bottom) / 2)}) rotate(-90)" text-anchor="middle">${esc(y.title)}</text>`)
  return parts.join('')
}

function noData (f: Frame, what: string): string {
  return `<rect class="empty" x="${f.l}" y="${f.t}" width="${f.w - f.l - f.r}" height="${f.h - f.t - f.b}"/>` +
    `<text class="nodata" x="${c1((f.l + f.w - f.r) / 2)}" y="${c1((f.t + f.h - f.b) / 2)}" text-anchor="middle" dominant-baseline="middle">no data${what === '' ? '' : ` (${esc(what)})`}</text>`
}

function svgOpen (f: Frame, label: string, cls: string): string {
  return `<svg class="${cls}" viewBox="0 0 ${f.w} ${f.h}" role="img" aria-label="${esc(label)}">`
}

/** label rows above a plot, first fit in any order: a label that fits no row is left to the tooltip */
class LabelRows {
  private readonly taken: Array<Array<[number, number]>>
  constructor (rows: number) { this.taken = Array.from({ length: rows }, () => []) }
  place (x: number, text: string): number | null {
    const end = x + [...text].length * 6.2 + 6
    for (let r = 0; r < this.taken.length; r++) {
      if (this.taken[r].every(([a, b]) => end <= a || x >= b)) { this.taken[r].push([x, end]); return r }
    }
    return null
  }
}

function latencyPlot (r: SimResult): string {
  const f = PLOT
  const pts = (Array.isArray(r.latency_cdf) ? r.latency_cdf : [])
    .map(([x, y]) => [finite(x), finite(y)] as const)
    .filter((pt): pt is readonly [number, number] => pt[0] != null && pt[1] != null)
    .sort((a, b) => a[0] - b[0])
  const lat = r.latency_ms ?? { p50: NaN, p95: NaN, p99: NaN, max: NaN, samples: 0 }
  const parts = [svgOpen(f, 'latency CDF', 'plot')]
  parts.push(`<text class="heading" x="${f.l}" y="16">Propagation latency, cumulative (publish → stored on each entitled node)</text>`)
  if (pts.length === 0) {
    const x = niceAxis(1000, 5)
    parts.push(axes(f, { ...x, label: v => String(v), title: 'latency (ms)' }, { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], label: v => `${Math.round(v * 100)}%`, title: 'deliveries' }))
    parts.push(noData(f, 'no deliveries'))
    parts.push('</svg>')
    return parts.join('')
  }
  const maxX = Math.max(pts[pts.length - 1][0], finite(lat.max) ?? 0)
  const x = niceAxis(maxX, 6)
  // Seconds once the axis reaches 10 s, so tick labels stay short.
  const inSeconds = x.max >= 10_000
  const xl = (v: number): string => inSeconds ? String(Number((v / 1000).toPrecision(6))) : v.toLocaleString('en-US')
  parts.push(axes(f, { ...x, label: xl, title: inSeconds ? 'latency (s)' : 'latency (ms)' },
    { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], label: v => `${Math.round(v * 100)}%`, title: 'deliveries at or below' }))
  // An empirical CDF is a step function: the fraction jumps at each sample, flat between.
  let d = `M${c1(plotX(f, pts[0][0], x.max))} ${c1(plotY(f, 0, 1))}`
  for (const [px, py] of pts) d += `H${c1(plotX(f, px, x.max))}V${c1(plotY(f, Math.min(1, Math.max(0, py)), 1))}`
  d += `H${c1(plotX(f, x.max, x.max))}`
  parts.push(`<path class="cdf" d="${d}"/>`)
  const rows = new LabelRows(3)
  for (const [name, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
    const v = finite(lat[name])
    if (v == null) continue
    const px = plotX(f, v, x.max)
    const text = `${name} ${fmtMs(v)}`
    // p95 and p99 are often a few pixels apart: stagger their labels rather than overprint them.
    const row = rows.place(px - 3, text) ?? 2
    const ty = f.t - 6 - row * 13
    parts.push(`<g class="pct"><title>${esc(text)}</title>` +
      `<line x1="${c1(px)}" x2="${c1(px)}" y1="${ty + 3}" y2="${f.h - f.b}"/>` +
      `<circle cx="${c1(px)}" cy="${c1(plotY(f, q, 1))}" r="3.5"/>` +
      `<text x="${c1(px + 3)}" y="${ty}">${esc(text)}</text></g>`)
  }
  parts.push('</svg>')
  return parts.join('')
}

function convergencePlot (r: SimResult): string {
  const f = { ...PLOT, t: 68 }
  const pts = (Array.isArray(r.convergence_series) ? r.convergence_series : [])
    .map(([t, y]) => [finite(t), finite(y)] as const)
    .filter((pt): pt is readonly [number, number] => pt[0] != null && pt[1] != null)
    .sort((a, b) => a[0] - b[0])
  const events = eventsOf(r).filter(e => finite(e.t_ms) != null)
  const endMs = Math.max(num(r.duration_ms), pts.length > 0 ? pts[pts.length - 1][0] : 0, events.length > 0 ? num(events[events.length - 1].t_ms) : 0)
  const x = niceAxis(endMs / 1000, 8)
  const sx = (ms: number): number => plotX(f, ms / 1000, x.max)
  const parts = [svgOpen(f, 'convergence over time', 'plot')]
  parts.push(`<text class="heading" x="${f.l}" y="16">Convergence: fraction of entitlements held over the run</text>`)
  parts.push(axes(f, { ...x, label: v => String(v), title: 'seconds since start' },
    { max: 1, ticks: [0, 0.25, 0.5, 0.75, 1], label: v => `${Math.round(v * 100)}%`, title: 'entitlements held' }))

  // Publishing windows shaded, so a dip can be read against the storm that caused it.
  let open: number | null = null
  const bands: Array<[number, number]> = []
  for (const e of events) {
    if (e.kind === 'publish-start' && open == null) open = num(e.t_ms)
    else if (e.kind === 'publish-end' && open != null) { bands.push([open, num(e.t_ms)]); open = null }
  }
  if (open != null) bands.push([open, endMs])
  for (const [a, b] of bands) {
    parts.push(`<rect class="band" x="${c1(sx(a))}" y="${f.t}" width="${c1(Math.max(1, sx(b) - sx(a)))}" height="${f.h - f.t - f.b}"><title>publishing ${esc(fmtMs(a))} – ${esc(fmtMs(b))}</title></rect>`)
  }

  if (pts.length === 0) {
    parts.push(noData(f, 'no convergence samples'))
  } else {
    const line = pts.map(([t, y], i) => `${i === 0 ? 'M' : 'L'}${c1(sx(t))} ${c1(plotY(f, Math.min(1, Math.max(0, y)), 1))}`).join('')
    const base = c1(plotY(f, 0, 1))
    parts.push(`<path class="area" d="${line}L${c1(sx(pts[pts.length - 1][0]))} ${base}L${c1(sx(pts[0][0]))} ${base}Z"/>`)
    parts.push(`<path class="conv" d="${line}"/>`)
  }

  // Disturbances as vertical markers, labels in three rows. The shape of the scenario (partition,
  // heal, attack…) gets its labels first; churn and notes are fainter and labelled only where room
  // is left, so dozens of down/up events do not bury the partition. Every marker has a tooltip.
  const rows = new LabelRows(3)
  const markers = events.map((e, i) => ({ e, i })).filter(({ e }) => e.kind !== 'publish-start' && e.kind !== 'publish-end').slice(0, 400)
  const labelRow = new Map<number, number | null>()
  for (const tier of [0, 1, 2, 3]) {
    for (const { e, i } of markers) if ((EVENT_TIER[e.kind] ?? 3) === tier) labelRow.set(i, rows.place(sx(num(e.t_ms)) - 2, String(e.kind)))
  }
  for (const { e, i } of markers) {
    const px = sx(num(e.t_ms))
    const color = EVENT_COLORS[e.kind] ?? '#6b7280'
    const row = labelRow.get(i) ?? null
    parts.push(`<g class="ev${(EVENT_TIER[e.kind] ?? 3) === 0 ? '' : ' minor'}"><title>${esc(`+${fmtMs(e.t_ms)} ${e.kind}: ${e.detail}`)}</title>` +
      `<line x1="${c1(px)}" x2="${c1(px)}" y1="${row == null ? f.t : f.t - 10 - row * 13}" y2="${f.h - f.b}" stroke="${color}"/>` +
      (row == null ? '' : `<text x="${c1(px + 2)}" y="${f.t - 13 - row * 13}" fill="${color}">${esc(e.kind)}</text>`) + '</g>')
  }
  if (r.converged && r.convergence_ms != null && !events.some(e => e.kind === 'converged')) {
    // No explicit event: still show where the last disturbance settled, if it can be placed.
    const settle = pts.find(([, y]) => y >= 1)
    if (settle != null) parts.push(`<circle class="settle" cx="${c1(sx(settle[0]))}" cy="${c1(plotY(f, 1, 1))}" r="4"><title>all entitlements held</title></circle>`)
  }
  parts.push('</svg>')
  return parts.join('')
}

/** positions in [0, 1]²: a circle for small federations, a seeded force-directed layout otherwise */
function layout (n: number, edges: Array<[number, number]>, seed: string): Array<[number, number]> {
  if (n === 0) return []
  if (n === 1) return [[0.5, 0.5]]
  if (n <= 60 || edges.length === 0) {
    // Without edges a force layout would only spread nodes to the walls; a circle says as much.
    return Array.from({ length: n }, (_v, i) => {
      const a = -Math.PI / 2 + 2 * Math.PI * i / n
      return [0.5 + 0.5 * Math.cos(a), 0.5 + 0.5 * Math.sin(a)]
    })
  }
  // Fruchterman–Reingold: O(n²) per iteration, so fewer iterations as n grows keeps it well under a second.
  const rng = new Rng(`report-layout:${seed}:${n}:${edges.length}`)
  const x = new Float64Array(n)
  const y = new Float64Array(n)
  for (let i = 0; i < n; i++) { x[i] = rng.next(); y[i] = rng.next() }
  const k = Math.sqrt(1 / n)
  const iterations = Math.max(30, Math.min(200, Math.round(8e6 / (n * n))))
  const dx = new Float64Array(n)
  const dy = new Float64Array(n)
  for (let it = 0; it < iterations; it++) {
    dx.fill(0); dy.fill(0)
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const ex = x[i] - x[j]
        const ey = y[i] - y[j]
        const d2 = Math.max(ex * ex + ey * ey, 1e-9)
        const f = k * k / d2
        dx[i] += ex * f; dy[i] += ey * f
        dx[j] -= ex * f; dy[j] -= ey * f
      }
    }
    for (const [a, b] of edges) {
      const ex = x[a] - x[b]
      const ey = y[a] - y[b]
      const d = Math.sqrt(ex * ex + ey * ey) + 1e-9
      const f = d / k
      dx[a] -= ex * f; dy[a] -= ey * f
      dx[b] += ex * f; dy[b] += ey * f
    }
    const temp = 0.1 * (1 - it / iterations) + 0.002
    for (let i = 0; i < n; i++) {
      // A little gravity keeps disconnected pieces from drifting to the edges.
      dx[i] += (0.5 - x[i]) * 0.05 * n * k
      dy[i] += (0.5 - y[i]) * 0.05 * n * k
      const len = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i])
      // No clamping to the unit square: walls pile nodes up along the border. Gravity bounds the
      // drawing and the final rescale fits it.
      if (len > 0) {
        const step = Math.min(len, temp) / len
        x[i] += dx[i] * step
        y[i] += dy[i] * step
      }
    }
  }
  let x0 = Infinity; let x1 = -Infinity; let y0 = Infinity; let y1 = -Infinity
  for (let i = 0; i < n; i++) { x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]) }
  const sx = x1 - x0 > 1e-9 ? 1 / (x1 - x0) : 1
  const sy = y1 - y0 > 1e-9 ? 1 / (y1 - y0) : 1
  return Array.from({ length: n }, (_v, i) => [(x[i] - x0) * sx, (y[i] - y0) * sy])
}

function nodeSummary (m: SimMemberResult): string {
  return `${m.name} — ${m.role}, ${m.country}, policy ${m.policy}${m.up ? '' : ', DOWN'}\n` +
    `records ${fmtInt(m.records)} / entitled ${fmtInt(m.entitled)}; missing ${fmtInt(m.missing)}, unexpected ${fmtInt(m.unexpected)}; ` +
    `rejected ${fmtInt(m.rejected)}, withheld ${fmtInt(m.withheld)}, penalties ${fmtInt(m.penalties)}`
}

function topologyPlot (r: SimResult): string {
  const members = membersOf(r)
  const n = members.length
  const size = 640
  const pad = n <= 30 ? 70 : 24
  const f = { w: size + 240, h: size + 40 }
  const parts = [`<svg class="topo" viewBox="0 0 ${f.w} ${f.h}" role="img" aria-label="overlay topology">`]
  parts.push(`<text class="heading" x="10" y="18">Overlay topology (${fmtInt(n)} nodes, ${fmtInt(r.edges?.length ?? 0)} edges)</text>`)
  // Edges name member indexes; map them to positions in members[], ignoring any that point nowhere.
  const pos = new Map<number, number>()
  members.forEach((m, i) => { const idx = finite(m.index); pos.set(idx ?? i, i) })
  const edges: Array<[number, number]> = []
  for (const e of Array.isArray(r.edges) ? r.edges : []) {
    const a = pos.get(num(e?.[0]))
    const b = pos.get(num(e?.[1]))
    if (a != null && b != null && a !== b) edges.push([a, b])
  }
  if (n === 0) {
    parts.push(`<text class="nodata" x="${size / 2}" y="${size / 2}" text-anchor="middle">no nodes</text></svg>`)
    return parts.join('')
  }
  const xy = layout(n, edges, String(r.seed)).map(([u, v]): [number, number] => [pad + u * (size - 2 * pad), 30 + pad + v * (size - 2 * pad)])
  // Integer coordinates when edges are many: a full mesh of 200 nodes is ~20k edges, and each byte counts.
  const fmt = edges.length > 2000 ? (v: number) => String(Math.round(v)) : c1
  if (edges.length > 0) {
    const d = edges.map(([a, b]) => `M${fmt(xy[a][0])} ${fmt(xy[a][1])}L${fmt(xy[b][0])} ${fmt(xy[b][1])}`).join('')
    const opacity = Math.max(0.08, Math.min(0.7, 60 / Math.sqrt(edges.length) / 10))
    parts.push(`<path class="edges" stroke-opacity="${opacity.toFixed(2)}" d="${d}"/>`)
  } else {
    parts.push(`<text class="nodata" x="${size / 2}" y="${size / 2 + 30}" text-anchor="middle">no edges</text>`)
  }
  const radius = n <= 30 ? 9 : n <= 60 ? 7 : n <= 200 ? 5 : 3.5
  members.forEach((m, i) => {
    const bad = num(m.missing) > 0 || num(m.unexpected) > 0 || !m.up
    const cls = `node${bad ? ' bad' : ''}${m.up ? '' : ' down'}`
    parts.push(`<circle class="${cls}" cx="${c1(xy[i][0])}" cy="${c1(xy[i][1])}" r="${radius}" fill="${roleColor(m.role)}"><title>${esc(nodeSummary(m))}</title></circle>`)
    if (n <= 30) {
      // Labels pushed outward from the circle's centre so they do not sit on the edges.
      const ax = xy[i][0] - size / 2
      const ay = xy[i][1] - 30 - size / 2
      const len = Math.sqrt(ax * ax + ay * ay) || 1
      const lx = xy[i][0] + ax / len * (radius + 6)
      const ly = xy[i][1] + ay / len * (radius + 6)
      const anchor = ax > 1 ? 'start' : ax < -1 ? 'end' : 'middle'
      parts.push(`<text class="nlabel" x="${c1(lx)}" y="${c1(ly)}" text-anchor="${anchor}" dominant-baseline="middle">${esc(truncate(String(m.name), 18))}</text>`)
    }
  })
  // Legend
  const lx = size + 30
  let ly = 60
  parts.push(`<text class="legend-title" x="${lx}" y="${ly - 20}">role</text>`)
  const roles = [...new Set([...Object.keys(ROLE_COLORS), ...members.map(m => String(m.role))])]
  for (const role of roles) {
    const count = members.filter(m => String(m.role) === role).length
    parts.push(`<circle cx="${lx + 6}" cy="${ly}" r="6" fill="${roleColor(role)}"/><text class="legend" x="${lx + 18}" y="${ly}" dominant-baseline="middle">${esc(truncate(role, 20))} (${count})</text>`)
    ly += 22
  }
  ly += 10
  const badCount = members.filter(m => num(m.missing) > 0 || num(m.unexpected) > 0 || !m.up).length
  parts.push(`<circle class="node bad" cx="${lx + 6}" cy="${ly}" r="6" fill="#fff"/><text class="legend" x="${lx + 18}" y="${ly}" dominant-baseline="middle">missing, unexpected</text>` +
    `<text class="legend" x="${lx + 18}" y="${ly + 16}" dominant-baseline="middle">or down (${badCount})</text>`)
  ly += 46
  parts.push(`<text class="legend dim" x="${lx}" y="${ly}">${n <= 60 || edges.length === 0 ? 'circle layout, by index' : 'force-directed layout (seeded)'}</text>`)
  parts.push(`<text class="legend dim" x="${lx}" y="${ly + 18}">hover a node for details</text>`)
  parts.push('</svg>')
  return parts.join('')
}

function countsTable (title: string, counts: Record<string, number> | null | undefined, what: string): string {
  const rows = byCount(counts)
  if (rows.length === 0) return `<h3>${esc(title)}</h3><p class="dim">none</p>`
  return `<h3>${esc(title)} <span class="dim">(${fmtInt(sumCounts(counts))})</span></h3>` +
    `<table class="counts sortable"><thead><tr><th>${esc(what)}</th><th class="num">count</th></tr></thead><tbody>` +
    rows.map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td class="num">${fmtInt(v)}</td></tr>`).join('') +
    '</tbody></table>'
}

function tlpText (by: Record<string, number> | null | undefined): string {
  return Object.entries(by ?? {}).map(([k, v]) => `${k} ${fmtInt(v)}`).join(' · ')
}

function nodesTable (members: SimMemberResult[]): string {
  const head = ['#', 'name', 'role', 'country', 'policy', 'up', 'records', 'by TLP', 'entitled', 'missing', 'unexpected', 'rejected', 'withheld', 'penalties']
  const numeric = new Set(['#', 'records', 'entitled', 'missing', 'unexpected', 'rejected', 'withheld', 'penalties'])
  const cell = (v: unknown, hot: boolean): string => `<td class="num${hot && num(v) > 0 ? ' hot' : ''}">${fmtInt(v)}</td>`
  const rows = members.map((m, i) => `<tr${troubled(m) || !m.up ? ' class="trouble"' : ''}>` +
    `<td class="num">${fmtInt(finite(m.index) ?? i)}</td>` +
    `<td><span class="dot" style="background:${roleColor(m.role)}"></span>${esc(m.name)}</td>` +
    `<td>${esc(m.role)}</td><td>${esc(m.country)}</td><td>${esc(m.policy)}</td>` +
    `<td${m.up ? '>up' : ' class="hot">down'}</td>` +
    `<td class="num">${fmtInt(m.records)}</td><td class="tlp">${esc(tlpText(m.by_tlp))}</td><td class="num">${fmtInt(m.entitled)}</td>` +
    cell(m.missing, true) + cell(m.unexpected, true) + cell(m.rejected, false) + cell(m.withheld, false) + cell(m.penalties, true) +
    '</tr>').join('\n')
  return '<div class="scroll"><table class="nodes sortable"><thead><tr>' +
    head.map(h => `<th${numeric.has(h) ? ' class="num"' : ''}>${esc(h)}</th>`).join('') +
    `</tr></thead><tbody>\n${rows}\n</tbody></table></div>`
}

function eventsList (r: SimResult): string {
  const events = eventsOf(r)
  if (events.length === 0) return '<p class="dim">no events</p>'
  const shown = events.slice(0, HTML_EVENTS_MAX)
  const rows = shown.map(e => `<tr><td class="num">${finite(e.t_ms) == null ? '—' : `${(num(e.t_ms) / 1000).toFixed(3)} s`}</td>` +
    `<td><span class="kind" style="border-color:${EVENT_COLORS[e.kind] ?? '#6b7280'}">${esc(e.kind)}</span></td><td>${esc(e.detail)}</td></tr>`).join('\n')
  const more = events.length > shown.length ? `<p class="dim">… ${fmtInt(events.length - shown.length)} more events not listed (${esc(kindCounts(events.slice(shown.length)))})</p>` : ''
  return `<table class="events"><thead><tr><th class="num">time</th><th>kind</th><th>detail</th></tr></thead><tbody>\n${rows}\n</tbody></table>${more}`
}

function figure (label: string, value: string, sub: string, cls = ''): string {
  return `<div class="fig${cls === '' ? '' : ' ' + cls}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div><div class="sub">${esc(sub)}</div></div>`
}

const CSS = `
:root{--fg:#1f2937;--dim:#6b7280;--line:#e5e7eb;--pass:#15803d;--fail:#b91c1c;--bg:#fff;--panel:#f9fafb}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg);max-width:1320px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:16px 0 6px}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.dim{color:var(--dim)}
.params{display:flex;flex-wrap:wrap;gap:6px 22px;margin:10px 0 0;padding:0}
.params div{display:flex;gap:6px}.params dt{color:var(--dim)}.params dd{margin:0;font-weight:600}
.verdict{display:inline-block;margin-left:10px;padding:2px 10px;border-radius:12px;font-size:13px;font-weight:700;vertical-align:middle;color:#fff}
.verdict.pass,.badge.pass{background:var(--pass)}.verdict.fail,.badge.fail{background:var(--fail)}
.invariants details{border:1px solid var(--line);border-radius:6px;margin:6px 0;background:var(--panel)}
.invariants details.fail{border-color:#fca5a5;background:#fef2f2}
.invariants summary{cursor:pointer;padding:6px 10px;list-style-position:inside}
.invariants pre{margin:0;padding:8px 12px;border-top:1px solid var(--line);white-space:pre-wrap;word-break:break-word;max-height:360px;overflow:auto}
.badge{display:inline-block;width:44px;text-align:center;color:#fff;border-radius:4px;font-size:12px;font-weight:700;margin-right:6px}
.one{color:var(--dim);margin-left:8px}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.fig{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--panel)}
.fig .label{color:var(--dim);font-size:12px}.fig .value{font-size:21px;font-weight:700}.fig .sub{color:var(--dim);font-size:12px}
.fig.bad{border-color:#fca5a5;background:#fef2f2}.fig.bad .value{color:var(--fail)}.fig.good .value{color:var(--pass)}
svg{display:block;width:100%;height:auto;font:12px system-ui,sans-serif}
svg.plot{max-width:900px}svg.topo{max-width:1000px}
.grid{stroke:var(--line)}.axis{stroke:#9ca3af}.tick{fill:var(--dim);font-size:11px}.title{fill:var(--fg);font-size:12px}
.heading{font-weight:700;font-size:13px;fill:var(--fg)}
.cdf{fill:none;stroke:#2563eb;stroke-width:2}
.pct line{stroke:#111827;stroke-dasharray:3 3}.pct circle{fill:#111827}.pct text{font-size:11px;font-weight:600}
.conv{fill:none;stroke:#0d9488;stroke-width:2}.area{fill:#0d9488;fill-opacity:.12;stroke:none}
.band{fill:#dbeafe;fill-opacity:.55}
.ev line{stroke-width:1.4;stroke-dasharray:4 2}.ev text{font-size:11px;font-weight:600}.ev.minor line{stroke-width:1;stroke-opacity:.45}.ev.minor text{font-weight:400}
.settle{fill:#15803d}
.empty{fill:var(--panel);stroke:var(--line)}.nodata{fill:var(--dim);font-size:15px}
.edges{fill:none;stroke:#64748b;stroke-width:.8}
.node{stroke:#fff;stroke-width:1}.node.bad{stroke:${BAD};stroke-width:2.5}.node.down{fill-opacity:.35}
.nlabel{font-size:11px;fill:var(--fg)}.legend{font-size:12px}.legend-title{font-weight:700}
figure{margin:16px 0}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--panel);position:sticky;top:0;white-space:nowrap}
table.sortable th{cursor:pointer}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.hot{color:var(--fail);font-weight:700}tr.trouble td:first-child{box-shadow:inset 3px 0 0 ${BAD}}
td.tlp{color:var(--dim);font-size:12px;white-space:nowrap}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}
.scroll{max-height:640px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.side{display:flex;flex-wrap:wrap;gap:10px 48px}
.kind{display:inline-block;border-left:4px solid;padding-left:6px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
table.events td:last-child{word-break:break-word}
footer{margin-top:40px;color:var(--dim);font-size:12px}
@media print{.scroll{max-height:none;overflow:visible}th{position:static}}
`

/** Click-to-sort for tables: an enhancement only; the page is complete without it. */
const SCRIPT = `(function () {
  function val (cell) {
    var t = cell.textContent.replace(/[,\\s]/g, '')
    var n = Number(t)
    return t !== '' && !isNaN(n) ? n : cell.textContent.toLowerCase()
  }
  var tables = document.querySelectorAll('table.sortable')
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0
      function sort () {
        var asc = th.getAttribute('aria-sort') !== 'ascending'
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort') })
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending')
        var body = table.tBodies[0]
        var rows = Array.prototype.slice.call(body.rows)
        rows.sort(function (a, b) {
          var x = val(a.cells[col]); var y = val(b.cells[col])
          var c = typeof x === typeof y ? (x === y ? 0 : (x > y ? 1 : -1)) : (typeof x === 'number' ? -1 : 1)
          return asc ? c : -c
        })
        rows.forEach(function (r) { body.appendChild(r) })
      }
      th.addEventListener('click', sort)
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sort() })
    })
  })
})()`

/** CSP hash of the one inline script: the page may run it and nothing else, and fetch nothing at all */
const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64')

export function renderHtml (result: SimResult): string {
  const r = result
  const members = membersOf(r)
  const lat = r.latency_ms ?? { p50: NaN, p95: NaN, p99: NaN, max: NaN, samples: 0 }
  const bytes = r.bytes ?? { payload_per_delivery: NaN, protocol_per_delivery: NaN, payload_total: NaN, protocol_total: NaN, record_avg: NaN }
  const inv = invariantsOf(r)
  const failed = inv.filter(([, v]) => !v.pass).length
  const up = members.filter(m => m.up).length
  const troubledCount = members.filter(troubled).length
  const series = Array.isArray(r.convergence_series) ? r.convergence_series : []
  const finalHeld = series.length > 0 ? series[series.length - 1][1] : null

  const param = (k: string, v: unknown): string => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`
  const header = `<header><h1>dragnet simulate: ${esc(r.scenario)}` +
    `<span class="verdict ${failed === 0 ? 'pass' : 'fail'}">${failed === 0 ? 'all invariants pass' : `${failed} invariant${failed === 1 ? '' : 's'} failed`}</span></h1>` +
    (r.description ? `<p class="dim">${esc(r.description)}</p>` : '') +
    '<dl class="params">' +
    param('seed', r.seed) + param('nodes', fmtInt(r.nodes)) + param('transport', r.transport) +
    param('topology', `${r.topology} (${fmtInt(r.edges?.length ?? 0)} edges)`) + param('duration', fmtMs(r.duration_ms)) +
    param('memory', `${fmtMb(r.memory?.rss_mb)} rss, ${fmtMb(r.memory?.per_node_mb)}/node`) +
    '</dl></header>'

  const invariants = '<section class="invariants"><h2>Invariants</h2>' + (inv.length === 0
    ? '<p class="dim">none checked</p>'
    : inv.map(([name, v]) => {
      const full = detailsText(v.details, true)
      const body = full.length > DETAILS_MAX_CHARS ? full.slice(0, DETAILS_MAX_CHARS) + `\n… (${fmtInt(full.length - DETAILS_MAX_CHARS)} more characters)` : full
      return `<details class="${v.pass ? 'pass' : 'fail'}"${v.pass ? '' : ' open'}><summary><span class="badge ${v.pass ? 'pass' : 'fail'}">${v.pass ? 'PASS' : 'FAIL'}</span>` +
        `<code>${esc(name)}</code><span class="one">${esc(oneLine(v.details, 120))}</span></summary>` +
        `<pre>${body === '' ? '(no details)' : esc(body)}</pre></details>`
    }).join('\n')) + '</section>'

  const convergedValue = r.converged ? (r.convergence_ms == null ? 'yes' : fmtMs(r.convergence_ms)) : 'no'
  const figures = '<section><h2>Key figures</h2><div class="figs">' + [
    figure('latency p50', num(lat.samples) > 0 ? fmtMs(lat.p50) : '—', `${fmtInt(lat.samples)} samples`),
    figure('latency p95', num(lat.samples) > 0 ? fmtMs(lat.p95) : '—', ''),
    figure('latency p99', num(lat.samples) > 0 ? fmtMs(lat.p99) : '—', `max ${num(lat.samples) > 0 ? fmtMs(lat.max) : '—'}`),
    figure('converged', convergedValue, r.converged ? (r.convergence_ms == null ? '' : 'after the last disturbance') : 'never held exactly every entitlement', r.converged ? 'good' : 'bad'),
    figure('entitlements held at the end', finalHeld == null ? '—' : fmtPct(finalHeld), ''),
    figure('payload per delivery', fmtRatio(bytes.payload_per_delivery), `× record size (avg ${fmtBytes(bytes.record_avg)})`),
    figure('protocol per delivery', fmtRatio(bytes.protocol_per_delivery), `${fmtBytes(bytes.protocol_total)} in all`),
    ...((c) => c == null ? [] : [figure('copies per delivery', c.total, `${c.main}; ${c.sub}`)])(copiesLine(r)),
    figure('records published', fmtInt(r.records_published), `${fmtInt(r.deliveries)} deliveries`),
    figure('nodes up at the end', `${fmtInt(up)} / ${fmtInt(members.length)}`, '', up < members.length ? 'bad' : ''),
    figure('nodes with problems', fmtInt(troubledCount), 'missing, unexpected or penalties', troubledCount > 0 ? 'bad' : ''),
    figure('rejections', fmtInt(sumCounts(r.rejections)), `${byCount(r.rejections).length} reasons`),
    figure('withholdings', fmtInt(sumCounts(r.withholdings)), `${byCount(r.withholdings).length} rules`)
  ].join('') + '</div></section>'

  const plots = '<section><h2>Plots</h2>' +
    `<figure>${latencyPlot(r)}</figure>` +
    `<figure>${convergencePlot(r)}</figure>` +
    `<figure>${topologyPlot(r)}</figure></section>`

  const nodes = `<section><h2>Nodes <span class="dim">(${fmtInt(members.length)})</span></h2>${members.length === 0 ? '<p class="dim">none</p>' : nodesTable(members)}</section>`
  const counts = '<section><h2>Rejections and withholdings</h2><div class="side">' +
    `<div>${countsTable('Ingest rejections', r.rejections, 'rule or error')}</div>` +
    `<div>${countsTable('Outbound withholdings', r.withholdings, 'rule')}</div></div></section>`
  const events = `<section><h2>Events <span class="dim">(${fmtInt(eventsOf(r).length)})</span></h2>${eventsList(r)}</section>`

  return '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${SCRIPT_HASH}'">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>dragnet simulate: ${esc(r.scenario)}</title><style>${CSS}</style></head>\n<body>\n` +
    [header, invariants, figures, plots, nodes, counts, events].join('\n') +
    `\n<footer>generated by dragnet simulate · seed ${esc(r.seed)}</footer>\n<script>${SCRIPT}</script>\n</body></html>\n`
}
