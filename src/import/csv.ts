import { DragnetError } from '../errors.js'
import { ValueCollector } from './iocs.js'
import type { ParsedImport } from './types.js'
import { parseIndicatorValue } from './values.js'

export interface CsvInit {
  /** the value column: a 1-based number, or a header name (then the first row is the header) */
  column?: number | string
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

/**
 * A CSV export of indicators: one value per row in the chosen column, treated like a line of an
 * indicator list (refanged, ports and paths understood). With a column name the first row is the
 * header; with a number (counting from 1), a first row whose cell is no indicator is taken as
 * a header too. Without --column, a header cell such as `value`, `indicator` or `ioc` marks the
 * column, else the first column is used.
 */
export function parseCsv (text: string, init: CsvInit = {}): ParsedImport {
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? ''
  const rows = parseCsvRows(text, delimiterOf(firstLine))
  const c = new ValueCollector(init.now ?? Date.now(), init.namespace)
  if (rows.length === 0) return { format: 'csv', values: 0, items: [], duplicates: 0, skipped: [] }
  const header = rows[0].cells.map(h => h.trim().toLowerCase())
  let index: number
  let start = 0
  if (typeof init.column === 'string') {
    index = header.indexOf(init.column.trim().toLowerCase())
    if (index < 0) throw new DragnetError('DRAGNET_BAD_REQUEST', `CSV: no column named "${init.column}" (the header has ${rows[0].cells.map(h => `"${h.trim()}"`).join(', ')})`)
    start = 1
  } else if (typeof init.column === 'number') {
    if (!Number.isInteger(init.column) || init.column < 1) throw new DragnetError('DRAGNET_BAD_REQUEST', `CSV: --column must be a column number from 1 or a header name, got ${init.column}`)
    index = init.column - 1
    const first = rows[0].cells[index]
    if (first != null && first.trim() !== '' && !parseIndicatorValue(first).ok) start = 1
  } else {
    const named = header.findIndex(h => VALUE_HEADERS.includes(h))
    index = named >= 0 ? named : 0
    const first = rows[0].cells[index]
    if (named >= 0 || (first != null && first.trim() !== '' && !parseIndicatorValue(first).ok)) start = 1
  }
  for (let r = start; r < rows.length; r++) {
    const cell = (rows[r].cells[index] ?? '').trim()
    if (cell === '') continue
    c.add(cell, `row ${rows[r].line}`)
  }
  return { format: 'csv', values: c.values, items: c.items, duplicates: c.duplicates, skipped: c.skipped }
}
