import { decodeRecord, scopesOf } from '../record/index.js'
import { hexTs, pad } from './buckets.js'
import type { RecordInfo, Store } from './store.js'

export interface ConsistencyReport {
  records: number
  problems: string[]
}

const dec = new TextDecoder()

/**
 * Walks every keyspace and checks both directions: each record has all its index entries, and
 * each index entry points at a stored record. Used after crashes (tests kill a publishing process
 * with SIGKILL) and by `dragnet status --check`.
 */
export async function checkConsistency (store: Store, opts: { maxProblems?: number } = {}): Promise<ConsistencyReport> {
  const max = opts.maxProblems ?? 100
  const problems: string[] = []
  const problem = (p: string): void => { if (problems.length < max) problems.push(p) }
  const records = new Map<string, RecordInfo>()
  const scopes = new Map<string, string[]>()
  let count = 0
  for await (const { id, bytes, info } of store.iterateRecords()) {
    count++
    let author: string
    try {
      const r = decodeRecord(bytes, { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 })
      if (r.id !== id) problem(`record ${id} is stored under the wrong id (${r.id})`)
      author = r.record.author
      scopes.set(id, scopesOf(r.record))
    } catch (err: any) {
      problem(`record ${id} does not decode: ${err.message}`)
      continue
    }
    if (info.author !== author) problem(`record ${id} info names author ${info.author}, the record ${author}`)
    records.set(id, info)
  }

  const arrivals = new Set<string>()
  for await (const [k, v] of store.iterateRaw('arrival')) {
    const id = dec.decode(v)
    const info = records.get(id)
    if (info == null) problem(`arrival ${k} points at missing record ${id}`)
    else if (pad(info.arrival) !== k) problem(`arrival ${k} points at ${id}, whose info says arrival ${info.arrival}`)
    arrivals.add(id)
  }
  const versions = new Set<string>()
  for await (const [k] of store.iterateRaw('versions')) {
    const id = k.slice(k.lastIndexOf('!') + 1)
    if (!records.has(id)) problem(`version entry ${k} points at a missing record`)
    versions.add(id)
  }
  const slots = new Set<string>()
  for await (const [k, v] of store.iterateRaw('authorSeq')) {
    const id = dec.decode(v)
    const info = records.get(id)
    if (info == null) { if (!(await store.isPurged(id))) problem(`author+seq ${k} points at missing record ${id}`) }
    else if (`${info.author}!${pad(info.seq)}` !== k) problem(`author+seq ${k} points at ${id} (seq ${info.seq})`)
    slots.add(id)
  }
  for await (const [k, v] of store.iterateRaw('equivocations')) {
    for (const id of (JSON.parse(dec.decode(v)) as { ids: string[] }).ids) {
      if (!records.has(id) && !(await store.isPurged(id))) problem(`equivocation ${k} names missing record ${id}`)
      slots.add(id)
    }
  }
  const synced = new Set<string>()
  for await (const [k] of store.iterateRaw('sync')) {
    const id = k.slice(k.lastIndexOf('!') + 1)
    if (!records.has(id)) problem(`sync entry ${k} points at a missing record`)
    synced.add(`${k.slice(0, k.indexOf('!'))}!${id}`)
  }
  for (const bucket of ['observables', 'ips', 'domains'] as const) {
    for await (const [k] of store.iterateRaw(bucket)) {
      const id = k.slice(k.lastIndexOf('!') + 1)
      if (!records.has(id)) problem(`${bucket} entry ${k} points at a missing record`)
    }
  }
  for (const [id, info] of records) {
    if (!arrivals.has(id)) problem(`record ${id} is missing from the arrival index`)
    if (!versions.has(id)) problem(`record ${id} is missing from the version index`)
    if (!slots.has(id)) problem(`record ${id} is missing from the author+seq index`)
    for (const scope of scopes.get(id) ?? []) {
      if (!synced.has(`${scope}!${id}`)) problem(`record ${id} is missing from the sync index (${scope}!${hexTs(info.ts)})`)
    }
  }
  // A purged record keeps its author+seq slot and nothing else.
  for (const t of await store.tombstones()) if (records.has(t.id)) problem(`record ${t.id} was purged but is still stored`)
  const counters = store.counts()
  if (counters.records !== count) problem(`counter says ${counters.records} records, the store holds ${count}`)
  return { records: count, problems }
}
