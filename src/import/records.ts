import { DragnetError } from '../errors.js'
import { isTlp, openRecordsFile, unsignedBytes, type RecordsFileHeader, type Tlp } from '../record/index.js'
import type { ImportSummary, ImportVerdict } from './index.js'

/*
 * Importing a records file: signed records as another node wrote them (export --format
 * records), ingested as received, never re-signed. The file is read twice. The first pass
 * checks the file as a whole (every line well formed, the closing line signed by the exporter
 * over the digest of everything before it, the file written for this node if for anyone): a
 * file changed, cut off or meant for another member is refused before anything is stored. The
 * second pass hands the envelopes, in batches, to the same ingest path as gossip, with the
 * exporter as the member that handed them over, so the author's signature, the roster, the
 * inbound policy (TLP floor included: amber only straight from its author), version order and
 * the audit (source `import`) apply as to any received record.
 */

export interface RecordsImportInit {
  /** this node's PeerId: a file written for another member is refused */
  self: string
  /** ingests envelopes as received from `from`, one verdict per envelope */
  receive: (envelopes: Uint8Array[], from: string) => Promise<ImportVerdict[]>
  /** envelopes per receive call */
  chunk?: number
  /** envelope bytes per receive call (an API request stays well under its body limit) */
  chunkBytes?: number
  onProgress?: (done: number, total: number) => void
  file?: string
}

/** Checks a records file as a whole; returns its header and record count, or throws naming what is wrong. */
export async function checkRecordsFile (source: AsyncIterable<Uint8Array>, self: string): Promise<{ header: RecordsFileHeader, records: number }> {
  const { header, entries } = await openRecordsFile(source)
  if (header.for != null && header.for !== self) {
    throw new DragnetError('DRAGNET_BAD_RECIPIENT', `this records file was written for ${header.for}, not for this node (${self}): only that member may import it`, { property: 'for' })
  }
  let records = 0
  for await (const e of entries) {
    if (e.error != null) throw new DragnetError('DRAGNET_BAD_RECORDS_FILE', `nothing imported: ${e.error.message}`, { line: e.line, ...(e.kind === 'record' && e.id != null ? { record: e.id } : {}) })
    if (e.kind === 'record') records++
  }
  return { header, records }
}

function tlpOf (envelope: Uint8Array): Tlp | undefined {
  try {
    const t = (JSON.parse(Buffer.from(unsignedBytes(envelope)).toString('utf8')) as { tlp?: unknown }).tlp
    return isTlp(t) ? t : undefined
  } catch {
    return undefined
  }
}

function note (s: ImportSummary, v: ImportVerdict, envelope: Uint8Array, line: number, id: string): void {
  if (v.status === 'stored') {
    s.imported++
    s.records.stored++
    const t = tlpOf(envelope)
    if (t != null) s.tlp[t] = (s.tlp[t] ?? 0) + 1
  } else if (v.status === 'duplicate') {
    s.duplicates++
    s.records.duplicate++
  } else {
    s.records.rejected++
    const reason = `rejected:${v.code ?? 'DRAGNET_INTERNAL'}`
    s.skipped[reason] = (s.skipped[reason] ?? 0) + 1
    if (s.examples.length < 20) s.examples.push({ where: `line ${line}`, value: id, reason, ...(v.reason != null ? { detail: v.reason } : {}) })
  }
}

/**
 * Imports a records file: `open` is called twice (check, then ingest). Returns the summary
 * (format `records`); what the node refused is counted as `rejected:<code>`.
 */
export async function importRecordsFile (open: () => AsyncIterable<Uint8Array>, init: RecordsImportInit): Promise<ImportSummary & { exporter: string }> {
  const { header, records } = await checkRecordsFile(open(), init.self)
  const s: ImportSummary & { exporter: string } = { format: 'records', values: records, imported: 0, duplicates: 0, skipped: {}, records: { stored: 0, duplicate: 0, rejected: 0 }, tlp: {}, examples: [], exporter: header.exporter }
  if (init.file != null) s.file = init.file
  const chunk = init.chunk ?? 500
  const chunkBytes = init.chunkBytes ?? 8 * 1024 * 1024
  let batch: Array<{ envelope: Uint8Array, line: number, id: string }> = []
  let bytes = 0
  let done = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const verdicts = await init.receive(batch.map(b => b.envelope), header.exporter)
    if (verdicts.length !== batch.length) throw new DragnetError('DRAGNET_INTERNAL', `receive answered ${verdicts.length} verdicts for ${batch.length} records`)
    batch.forEach((b, i) => { note(s, verdicts[i], b.envelope, b.line, b.id) })
    done += batch.length
    init.onProgress?.(done, records)
    batch = []
    bytes = 0
  }
  init.onProgress?.(0, records)
  const { entries } = await openRecordsFile(open())
  for await (const e of entries) {
    // The file changed between the passes: stop, keeping what the node already checked and stored.
    if (e.error != null) throw new DragnetError('DRAGNET_BAD_RECORDS_FILE', `the file changed while it was imported: ${e.error.message}`, { line: e.line })
    if (e.kind !== 'record' || e.envelope == null) continue
    batch.push({ envelope: e.envelope, line: e.line, id: e.id ?? '' })
    bytes += e.envelope.length
    if (batch.length >= chunk || bytes >= chunkBytes) await flush()
  }
  await flush()
  return s
}
