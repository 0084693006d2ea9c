import { DragnetError } from '../errors.js'
import type { Tlp } from '../record/index.js'
import { TLP_RANK } from '../stix/index.js'
import { parseCsv } from './csv.js'
import { parseIndicatorList } from './iocs.js'
import { looksLikeMisp, parseMisp } from './misp.js'
import { parseStix } from './stix.js'
import { IMPORT_FORMATS, type ImportFormat, type ImportItem, type ParsedImport, type SkippedValue, type UpgradedObject } from './types.js'

export { IMPORT_FORMATS, type ImportFormat, type ImportItem, type ParsedImport, type SkippedValue, type SkipReason, type UpgradedObject } from './types.js'
export { isStix20Bundle, upgradeStix20 } from './stix20.js'
export { DEFANG_RULES, parseIndicatorValue, refang } from './values.js'
export { parseIndicatorList } from './iocs.js'
export { parseCsv, parseCsvRows } from './csv.js'
export { KNOWN_TLP_TAGS, mapAttribute, parseMisp, readTlpTag, tlpOfTag } from './misp.js'
export { parseStix, TLP_MARKINGS } from './stix.js'
export { checkRecordsFile, importRecordsFile, type RecordsImportInit } from './records.js'

export interface ParseInit {
  /** the format; detected from the content (and the file name) when absent */
  format?: ImportFormat
  /** file name, for format detection and messages */
  name?: string
  /** CSV value column(s): numbers from 1, or header names */
  column?: number | string | Array<number | string>
  /** creation time of objects made from values that carry none (indicator lists, CSV) */
  now?: number
  /** the importing member's PeerId: generated ids are its own, so two members importing the same feed both count as reporters */
  namespace?: string
}

function parseJson (text: string, name: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (err) {
    throw new DragnetError('DRAGNET_BAD_JSON', `${name} is not valid JSON: ${(err as Error).message}`)
  }
}

/**
 * Detects the format: JSON is MISP when it holds MISP events, else STIX; text is CSV when the
 * name ends in .csv, else an indicator list. Returns the parsed JSON too, so it is parsed once.
 */
export function detectFormat (text: string, name = ''): { format: ImportFormat, json?: unknown } {
  const head = text.replace(/^\uFEFF/, '').trimStart()
  if (head.startsWith('{') || head.startsWith('[')) {
    try {
      const json: unknown = JSON.parse(head)
      return { format: looksLikeMisp(json) ? 'misp' : 'stix', json }
    } catch (err) {
      // "[2001:db8::1]:443" starts an indicator list too; a .json file must parse.
      if (/\.json$/i.test(name) || head.startsWith('{')) throw new DragnetError('DRAGNET_BAD_JSON', `${name || 'input'} is not valid JSON: ${(err as Error).message}`)
    }
  }
  return { format: /\.csv$/i.test(name) ? 'csv' : 'iocs' }
}

/** Parses one import file into STIX objects to publish, with every value accounted for. */
export function parseImport (text: string, init: ParseInit = {}): ParsedImport {
  const name = init.name ?? 'input'
  if (init.format != null && !(IMPORT_FORMATS as readonly string[]).includes(init.format)) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `unknown import format ${String(init.format)}; use one of ${IMPORT_FORMATS.join(', ')}`)
  }
  const detected = init.format == null ? detectFormat(text, name) : { format: init.format, json: undefined }
  const json = (): unknown => detected.json !== undefined ? detected.json : parseJson(text, name)
  switch (detected.format) {
    case 'stix': return parseStix(json())
    case 'misp': return parseMisp(json(), { namespace: init.namespace })
    case 'iocs': return parseIndicatorList(text, { now: init.now, namespace: init.namespace })
    case 'csv': return parseCsv(text, { column: init.column, now: init.now, namespace: init.namespace })
    case 'records': throw new DragnetError('DRAGNET_BAD_REQUEST', 'a records file is not parsed into objects: its signed records are ingested as received (importRecordsFile)')
  }
}

/** Whether text starts with a records file header (dragnet export --format records). */
export function looksLikeRecordsFile (head: string): boolean {
  const first = head.replace(/^\uFEFF/, '').split('\n', 1)[0]
  return first.startsWith('{"created":') && first.includes('"dragnet":"records"')
}

// ------------------------------------------------------------------ summary

/** One publish verdict, as the API and `node.publish` both report it. */
export interface ImportVerdict {
  status: 'stored' | 'duplicate' | 'rejected'
  id?: string
  code?: string
  reason?: string
}

export interface ImportSummary {
  file?: string
  format: ImportFormat
  /** input values read */
  values: number
  /** values whose object was stored now */
  imported: number
  /** values already stored (an earlier import, or published before) or repeated in the file */
  duplicates: number
  /** values not imported, by reason (see SkipReason; `rejected:<DRAGNET code>` for refusals) */
  skipped: Record<string, number>
  /** records by outcome (one record per object; a MISP report is an object of its own) */
  records: { stored: number, duplicate: number, rejected: number }
  /** records stored per TLP */
  tlp: Partial<Record<Tlp, number>>
  /** the first skipped values, to show the user what was left out and why */
  examples: Array<{ where: string, value: string, reason: string, detail?: string }>
  /** STIX 2.0 input: what the upgrade to 2.1 changed, in all (by property) and per object */
  upgrade?: { from: '2.0', objects: number, changes: Record<string, number>, details: UpgradedObject[] }
}

const MAX_EXAMPLES = 20

/** Starts a summary from what parsing alone decided. */
export function startSummary (parsed: ParsedImport, file?: string): ImportSummary {
  const s: ImportSummary = {
    format: parsed.format,
    values: parsed.values,
    imported: 0,
    duplicates: parsed.duplicates,
    skipped: {},
    records: { stored: 0, duplicate: 0, rejected: 0 },
    tlp: {},
    examples: []
  }
  if (file != null) s.file = file
  for (const k of parsed.skipped) noteSkip(s, k, k.count ?? 1)
  if (parsed.upgraded != null) {
    const changes: Record<string, number> = {}
    for (const u of parsed.upgraded) for (const c of u.changes) { const k = c.slice(0, c.indexOf(':')); changes[k] = (changes[k] ?? 0) + 1 }
    s.upgrade = { from: '2.0', objects: parsed.upgraded.length, changes, details: parsed.upgraded }
  }
  return s
}

function noteSkip (s: ImportSummary, k: SkippedValue, count = 1): void {
  s.skipped[k.reason] = (s.skipped[k.reason] ?? 0) + count
  if (s.examples.length < MAX_EXAMPLES) {
    // A MISP comment attribute can be pages long; an example needs its start only.
    const value = k.value.length > 200 ? k.value.slice(0, 200) + '…' : k.value
    const e: ImportSummary['examples'][number] = { where: k.where, value, reason: k.reason }
    if (k.detail != null) e.detail = k.detail
    s.examples.push(e)
  }
}

/** Adds the verdicts of one published chunk (`verdicts[i]` answers `items[i]`). */
export function addVerdicts (s: ImportSummary, items: ParsedImport['items'], verdicts: ImportVerdict[], tlps: Tlp[]): void {
  items.forEach((item, i) => {
    const v = verdicts[i]
    if (v == null) throw new Error(`no verdict for item ${i}`)
    if (v.status === 'stored') {
      s.records.stored++
      s.imported += item.values
      s.tlp[tlps[i]] = (s.tlp[tlps[i]] ?? 0) + 1
    } else if (v.status === 'duplicate') {
      s.records.duplicate++
      s.duplicates += item.values
    } else {
      s.records.rejected++
      const reason = v.code === 'DRAGNET_NOT_OWNER' ? 'owned-by-another-member' : `rejected:${v.code ?? 'DRAGNET_INTERNAL'}`
      const id = typeof item.object?.id === 'string' ? item.object.id : ''
      noteSkip(s, { where: item.where, value: id, reason: reason as SkippedValue['reason'], detail: v.reason }, item.values)
    }
  })
}

export function skippedTotal (s: ImportSummary): number {
  return Object.values(s.skipped).reduce((a, b) => a + b, 0)
}

// ------------------------------------------------------------------ publishing

export interface RunImportInit {
  /** the record TLP for everything, overriding what the source asks for */
  tlp?: Tlp
  /** TLP of items whose source names none (default green, as publish) */
  defaultTlp?: Tlp
  /** objects per publish call */
  chunk?: number
  /** JSON bytes per publish call: a chunk is one API request, well under its body limit */
  chunkBytes?: number
  /** publishes one chunk at one TLP with skipExisting, returning a verdict per object */
  publish: (objects: Array<Record<string, unknown>>, tlp: Tlp) => Promise<ImportVerdict[]>
  onProgress?: (done: number, total: number) => void
  file?: string
}

/**
 * Publishes the parsed objects in chunks of one TLP each (in input order) and accounts for
 * every value: imported, duplicate, or skipped with its reason.
 */
export async function runImport (parsed: ParsedImport, init: RunImportInit): Promise<ImportSummary> {
  const summary = startSummary(parsed, init.file)
  const chunk = init.chunk ?? 500
  const chunkBytes = init.chunkBytes ?? 8 * 1024 * 1024
  const all = refuseLooserTlp(summary, parsed.items, init.tlp)
  const tlpOf = (i: number): Tlp => init.tlp ?? all[i].tlp ?? init.defaultTlp ?? 'green'
  const sizeOf = (i: number): number => JSON.stringify(all[i].object)?.length ?? 0
  let i = 0
  init.onProgress?.(0, all.length)
  while (i < all.length) {
    const tlp = tlpOf(i)
    let j = i + 1
    let bytes = sizeOf(i)
    while (j < all.length && j - i < chunk && tlpOf(j) === tlp) {
      bytes += sizeOf(j)
      if (bytes > chunkBytes) break
      j++
    }
    const items = all.slice(i, j)
    const verdicts = await init.publish(items.map(it => it.object), tlp)
    if (verdicts.length !== items.length) throw new DragnetError('DRAGNET_INTERNAL', `publish answered ${verdicts.length} verdicts for ${items.length} objects`)
    addVerdicts(summary, items, verdicts, items.map(() => tlp))
    i = j
    init.onProgress?.(i, all.length)
  }
  return summary
}

/**
 * A TLP given for the whole import may make records stricter than their source asks, never
 * looser: items whose marking or tag is stricter are refused (DRAGNET_TLP_CONFLICT) and
 * counted in the summary; the others are returned for publishing.
 */
function refuseLooserTlp (summary: ImportSummary, items: ImportItem[], given: Tlp | undefined): ImportItem[] {
  if (given == null) return items
  const keep: ImportItem[] = []
  for (const item of items) {
    if (item.tlp == null || TLP_RANK[item.tlp] <= TLP_RANK[given]) { keep.push(item); continue }
    const reason = `--tlp ${given} is looser than the TLP its source gives it (${item.tlp}, from its TLP marking or tag); a record is never looser than that: import without --tlp, or with --tlp ${item.tlp} or stricter`
    addVerdicts(summary, [item], [{ status: 'rejected', code: 'DRAGNET_TLP_CONFLICT', reason }], [given])
  }
  return keep
}
