import { DragnetError } from '../errors.js'
import { ValueCollector } from './iocs.js'
import type { ParsedImport } from './types.js'
import { parseIndicatorValue } from './values.js'

export interface CsvInit {
  /** the value column(s): 1-based numbers or header names (then the first row is the header) */
  column?: number | string | Array<number | string>
  now?: number
  /** the importing member's PeerId: generated ids are its own, so two members importing the same feed both count as reporters */
  namespace?: string
}

// Header names that mark the value column when --column is not given.
const VALUE_HEADERS = ['value', 'indicator', 'ioc', 'observable', 'ioc_value', 'indicator_value', 'ip', 'domain', 'url', 'hash', 'md5', 'sha1', 'sha256', 'email']

/** RFC 4180 rows: quoted fields may hold commas, quotes (doubled) and line breaks. */
export function parseCsvRows (text: string, delimiter = ','): Array<{ line: number, cells: string[] }> {
  const rows: Array<{ line: number, cells: string[] }> = []
  let cells: string[] = []
  let cell = ''
  let quoted = false
  let line = 1
  let rowLine = 1
  const s = text.replace(/^\uFEFF/, '')
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]
    if (quoted) {
      if (ch === '"') {
        if (s[i + 1] === '"') { cell += '"'; i++ } else quoted = false
      } else {
        if (ch === '\n') line++
        cell += ch
      }
      continue
    }
    if (ch === '"' && cell.trim() === '') { cell = ''; quoted = true } else if (ch === delimiter) { cells.push(cell); cell = '' } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++
      cells.push(cell)
      if (!(cells.length === 1 && cells[0].trim() === '')) rows.push({ line: rowLine, cells })
      cells = []
      cell = ''
      line++
      rowLine = line
    } else cell += ch
  }
  if (quoted) throw new DragnetError('DRAGNET_BAD_REQUEST', `CSV: a quoted field opened on line ${rowLine} is never closed`)
  cells.push(cell)
  if (!(cells.length === 1 && cells[0].trim() === '')) rows.push({ line: rowLine, cells })
  return rows
}

function delimiterOf (firstLine: string): string {
  // A semicolon- or tab-separated export (spreadsheets in many locales) says so in its first line.
  const counts = [',', ';', '\t'].map(d => ({ d, n: firstLine.split(d).length - 1 }))
  counts.sort((a, b) => b.n - a.n)
  return counts[0].n > 0 ? counts[0].d : ','
}

type Column = number | string

/** The 0-based indexes of the named or numbered columns, and whether the first row is a header. */
function resolveColumns (columns: Column[], rows: Array<{ cells: string[] }>): { indexes: number[], header: boolean } {
  const header = rows[0].cells.map(h => h.trim().toLowerCase())
  const byName = columns.some(c => typeof c === 'string')
  const indexes = columns.map(c => {
    if (typeof c === 'string') {
      const i = header.indexOf(c.trim().toLowerCase())
      if (i < 0) throw new DragnetError('DRAGNET_BAD_REQUEST', `CSV: no column named "${c}" (the header has ${rows[0].cells.map(h => `"${h.trim()}"`).join(', ')})`)
      return i
    }
    if (!Number.isInteger(c) || c < 1) throw new DragnetError('DRAGNET_BAD_REQUEST', `CSV: --column must be column numbers from 1 or header names, got ${c}`)
    return c - 1
  })
  if (byName) return { indexes: [...new Set(indexes)], header: true }
  // Numbered columns: a first row whose chosen cells hold no indicator is a header.
  const firsts = indexes.map(i => (rows[0].cells[i] ?? '').trim())
  return { indexes: [...new Set(indexes)], header: firsts.some(f => f !== '') && !firsts.some(f => f !== '' && parseIndicatorValue(f).ok) }
}

/**
 * A CSV export of indicators: the values in the chosen columns, each treated like a line of an
 * indicator list (refanged, ports and paths understood). `column` names one column or several
 * (a table with FQDN and IP columns, say): header names (then the first row is the header) or
 * numbers counting from 1 (a first row whose cells there hold no indicator is taken as a header
 * too). Without it, a header cell such as `value`, `indicator` or `ioc` marks the column, else
 * the first column is used.
 */
export function parseCsv (text: string, init: CsvInit = {}): ParsedImport {
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? ''
  const rows = parseCsvRows(text, delimiterOf(firstLine))
  const c = new ValueCollector(init.now ?? Date.now(), init.namespace)
  if (rows.length === 0) return { format: 'csv', values: 0, items: [], duplicates: 0, skipped: [] }
  let indexes: number[]
  let start = 0
  const columns = init.column == null ? [] : Array.isArray(init.column) ? init.column : [init.column]
  if (columns.length > 0) {
    const r = resolveColumns(columns, rows)
    indexes = r.indexes
    if (r.header) start = 1
  } else {
    const header = rows[0].cells.map(h => h.trim().toLowerCase())
    const named = header.findIndex(h => VALUE_HEADERS.includes(h))
    indexes = [named >= 0 ? named : 0]
    const first = rows[0].cells[indexes[0]]
    if (named >= 0 || (first != null && first.trim() !== '' && !parseIndicatorValue(first).ok)) start = 1
  }
  // With several columns, say which one a value came from.
  const label = (i: number): string => indexes.length === 1 ? '' : ` column ${start === 1 && (rows[0].cells[i] ?? '').trim() !== '' ? rows[0].cells[i].trim() : String(i + 1)}`
  for (let r = start; r < rows.length; r++) {
    for (const i of indexes) {
      const cell = (rows[r].cells[i] ?? '').trim()
      if (cell === '') continue
      c.add(cell, `row ${rows[r].line}${label(i)}`)
    }
  }
  return { format: 'csv', values: c.values, items: c.items, duplicates: c.duplicates, skipped: c.skipped }
}
