import { randomUUID } from 'node:crypto'
import { DragnetError } from '../errors.js'
import { isTlp, TLP_LEVELS, type Tlp } from '../record/index.js'
import { currentRecords, type CurrentFilter, type VersionIndex } from '../store/reads.js'
import type { Store } from '../store/store.js'

export interface ExportOptions {
  tlp?: string | string[]
  type?: string | string[]
  since?: string
}

function list (v: string | string[] | undefined): string[] | undefined {
  if (v == null) return undefined
  const out = (Array.isArray(v) ? v : [v]).flatMap(s => String(s).split(',')).map(s => s.trim()).filter(s => s !== '')
  return out.length > 0 ? out : undefined
}

/** Checks `--tlp`, `--type` and `--since` (the CLI's and GET /api/export's) into a filter. */
export function exportFilter (opts: ExportOptions): CurrentFilter {
  const f: CurrentFilter = {}
  const tlps = list(opts.tlp)
  if (tlps != null) {
    for (const t of tlps) if (!isTlp(t)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${t}`)
    f.tlp = new Set<Tlp>(tlps as Tlp[])
  }
  const types = list(opts.type)
  if (types != null) {
    for (const t of types) if (!/^[a-z0-9][a-z0-9-]{1,249}$/.test(t)) throw new DragnetError('DRAGNET_BAD_REQUEST', `type must be a STIX type such as indicator, got ${t}`)
    f.types = new Set(types)
  }
  if (opts.since != null && opts.since !== '') {
    const ms = Date.parse(opts.since)
    if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(opts.since)) throw new DragnetError('DRAGNET_BAD_REQUEST', `since must be an ISO 8601 date or timestamp such as 2026-01-31T00:00:00Z, got ${opts.since}`)
    f.sinceMs = ms
  }
  return f
}

export interface BundleStats {
  objects: number
}

/**
 * One STIX 2.1 bundle of the current objects, as chunks of bytes: the objects are copied from
 * the store page by page, so memory stays flat whatever the store holds. `stats` counts as it goes.
 */
export async function * bundleChunks (store: Store, filter: CurrentFilter, stats: BundleStats = { objects: 0 }, opts: { now?: number, index?: VersionIndex } = {}): AsyncGenerator<Buffer> {
  yield Buffer.from(`{"type":"bundle","id":"bundle--${randomUUID()}","objects":[`)
  const comma = Buffer.from(',')
  for await (const page of currentRecords(store, filter, opts)) {
    const parts: Uint8Array[] = []
    for (const r of page) {
      if (stats.objects > 0 || parts.length > 0) parts.push(comma)
      parts.push(r.body)
    }
    stats.objects += page.length
    yield Buffer.concat(parts)
  }
  yield Buffer.from(']}\n')
}
