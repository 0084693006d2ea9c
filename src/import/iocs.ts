import type { Observable } from '../stix/index.js'
import type { ImportItem, ParsedImport, SkippedValue } from './types.js'
import { parseIndicatorValue, patternFor, stixTime, valueUuid } from './values.js'

export interface IndicatorListInit {
  /** created/modified/valid_from of the indicators (lists carry no dates); default now */
  now?: number
  /** the importing member's PeerId: generated ids are its own, so two members importing the same feed both count as reporters */
  namespace?: string
}

/** A STIX 2.1 indicator for one value from a list, its id derived from kind and value. */
export function listIndicator (o: Observable, at: string, namespace = ''): Record<string, unknown> {
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: `indicator--${valueUuid(o, namespace)}`,
    created: at,
    modified: at,
    name: o.value,
    indicator_types: ['malicious-activity'],
    pattern: patternFor(o),
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: at
  }
}

/** Strips a `#` comment: a whole-line one, or one after whitespace (a URL's `#fragment` stays). */
export function stripComment (line: string): string {
  const t = line.trim()
  if (t.startsWith('#')) return ''
  const m = /\s#/.exec(t)
  return (m == null ? t : t.slice(0, m.index)).trim()
}

/**
 * Collects indicator values into items: one indicator per distinct value, in first-seen order;
 * repeats count as duplicates, unrecognised values as skipped with their reason.
 */
export class ValueCollector {
  readonly items: ImportItem[] = []
  readonly skipped: SkippedValue[] = []
  duplicates = 0
  values = 0
  private readonly seen = new Set<string>()
  private readonly at: string

  private readonly namespace: string

  constructor (now: number, namespace = '') {
    this.at = stixTime(now)
    this.namespace = namespace
  }

  add (raw: string, where: string): void {
    this.values++
    const r = parseIndicatorValue(raw)
    if (!r.ok) {
      this.skipped.push({ where, value: raw, reason: r.reason })
      return
    }
    const key = `${r.observable.kind} ${r.observable.value}`
    if (this.seen.has(key)) {
      this.duplicates++
      return
    }
    this.seen.add(key)
    this.items.push({ object: listIndicator(r.observable, this.at, this.namespace), values: 1, where })
  }
}

/**
 * A plain indicator list: one value a line; blank lines and `#` comments ignored (also after a
 * value); defanged values refanged; trailing ports and paths understood (see parseIndicatorValue).
 */
export function parseIndicatorList (text: string, init: IndicatorListInit = {}): ParsedImport {
  const c = new ValueCollector(init.now ?? Date.now(), init.namespace)
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const v = stripComment(lines[i])
    if (v === '') continue
    // One value a line: "1.2.3.4 port 80" is a sentence, not an indicator.
    if (/\s/.test(v)) {
      c.values++
      c.skipped.push({ where: `line ${i + 1}`, value: v, reason: 'unrecognised' })
      continue
    }
    c.add(v, `line ${i + 1}`)
  }
  return { format: 'iocs', values: c.values, items: c.items, duplicates: c.duplicates, skipped: c.skipped }
}
