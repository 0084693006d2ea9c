import { createReadStream } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import cliProgress from 'cli-progress'
import type { Command } from 'commander'
import { DragnetError, ERROR_STATUS, type ErrorCode } from '../../errors.js'
import { readMetadata } from '../../identity/index.js'
import { IMPORT_FORMATS, importRecordsFile, looksLikeRecordsFile, parseImport, runImport, skippedTotal, type ImportFormat, type ImportSummary, type ImportVerdict } from '../../import/index.js'
import { isTlp, TLP_LEVELS, type Tlp } from '../../record/index.js'
import { dataDirOf, runningNode, withOfflineNode, type RemoteNode } from '../context.js'

// A progress bar is worth drawing from this many objects on (smaller files finish at once).
const PROGRESS_FROM = 1000

async function readSource (file: string): Promise<string> {
  try {
    if (file !== '-') return await readFile(file, 'utf8')
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `cannot read ${file}: ${err.code ?? err.message}`)
  }
}

/** `--column 3`, `--column ioc`, `--column FQDN,IP`: numbers from 1 or header names. */
function columnOf (v: string | undefined): Array<number | string> | undefined {
  if (v == null) return undefined
  const cols = v.split(',').map(s => s.trim()).filter(s => s !== '')
  if (cols.length === 0) throw new DragnetError('DRAGNET_BAD_REQUEST', '--column needs a column number or header name')
  return cols.map(c => /^[0-9]+$/.test(c) ? Number(c) : c)
}

/** Publishes one chunk through the running node's API, in import mode (skipExisting). */
async function publishRemote (remote: RemoteNode, objects: unknown[], tlp: Tlp): Promise<ImportVerdict[]> {
  const r = await remote.request<any>('POST', `/api/records?tlp=${encodeURIComponent(tlp)}&skipExisting=true&source=import`, objects, true)
  // A chunk the node refused whole still answers with one verdict per object beside the error.
  if (Array.isArray(r.body?.results)) return r.body.results as ImportVerdict[]
  const code: ErrorCode = r.body?.code in ERROR_STATUS ? r.body.code : 'DRAGNET_INTERNAL'
  throw new DragnetError(code, r.body?.message ?? `the node's API answered HTTP ${r.status}`)
}

async function peek (file: string): Promise<string> {
  if (file === '-') return ''
  let fh
  try {
    fh = await open(file, 'r')
    const buf = Buffer.alloc(4096)
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0)
    return buf.subarray(0, bytesRead).toString('utf8')
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `cannot read ${file}: ${err.code ?? err.message}`)
  } finally {
    await fh?.close()
  }
}

/** Signed records from a records file, ingested as received (through the running node's API when there is one). */
async function importRecords (dataDir: string, file: string, opts: { config?: string }, onProgress: (done: number, total: number) => void): Promise<ImportSummary> {
  if (file === '-') throw new DragnetError('DRAGNET_BAD_REQUEST', 'a records file is read twice (checked whole, then imported): give its path, not standard input')
  const self = (await readMetadata(dataDir))?.peerId
  if (self == null) throw new DragnetError('DRAGNET_BAD_KEY', `no node in ${dataDir} (run dragnet init --data ${dataDir})`)
  const source = (): AsyncIterable<Uint8Array> => createReadStream(file)
  const remote = await runningNode(dataDir)
  if (remote != null) {
    return await importRecordsFile(source, {
      self,
      file,
      onProgress,
      receive: async (envelopes, from) => {
        const r = await remote.request<any>('POST', '/api/records/signed', { from, envelopes: envelopes.map(e => Buffer.from(e).toString('base64')) }, true)
        if (Array.isArray(r.body?.results)) return r.body.results as ImportVerdict[]
        const code: ErrorCode = r.body?.code in ERROR_STATUS ? r.body.code : 'DRAGNET_INTERNAL'
        throw new DragnetError(code, r.body?.message ?? `the node's API answered HTTP ${r.status}`)
      }
    })
  }
  return await withOfflineNode(dataDir, opts, async node => await importRecordsFile(source, {
    self,
    file,
    onProgress,
    receive: async (envelopes, from) => await node.ingest.receive(envelopes.map(bytes => ({ bytes, from, source: 'import' as const })))
  }))
}

function printSummary (s: ImportSummary & { exporter?: string }): void {
  const skipped = skippedTotal(s)
  const reasons = Object.entries(s.skipped).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')
  const lines = [
    `file        ${s.file ?? '-'} (${s.format}${s.exporter != null ? `, written by ${s.exporter}` : ''})`,
    `values      ${s.values}`,
    `imported    ${s.imported} (${s.records.stored} records stored${Object.keys(s.tlp).length > 0 ? ': ' + Object.entries(s.tlp).map(([k, v]) => `${k} ${String(v)}`).join(', ') : ''})`,
    `duplicates  ${s.duplicates} (already stored, or repeated in the file)`,
    `skipped     ${skipped}${reasons !== '' ? ` (${reasons})` : ''}`
  ]
  for (const e of s.examples.slice(0, 10)) lines.push(`  ${e.where}: ${e.value}: ${e.reason}${e.detail != null ? ` (${e.detail})` : ''}`)
  if (s.examples.length < skipped && s.examples.length > 0) lines.push(`  ... (--json lists the first ${s.examples.length})`)
  if (s.upgrade != null) {
    const counts = Object.entries(s.upgrade.changes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')
    lines.push(`upgraded    ${s.upgrade.objects} objects from STIX 2.0 to 2.1${counts !== '' ? ` (${counts})` : ''}`)
    for (const u of s.upgrade.details.slice(0, 10)) lines.push(`  ${u.where}: ${u.changes.join('; ')}`)
    if (s.upgrade.details.length > 10) lines.push('  ... (--json lists every object and what changed)')
  }
  process.stdout.write(lines.join('\n') + '\n')
}

export function registerImport (program: Command): void {
  program.command('import')
    .description('import STIX 2.1 (or 2.0, upgraded), MISP event JSON, an indicator list, CSV, or a records file of signed records (ingested as received, not re-signed); importing a file again stores nothing new')
    .argument('<file>', 'the file, or - for standard input')
    .option('--data <dir>', 'data directory')
    .option('--format <format>', `${IMPORT_FORMATS.join(' | ')} (detected when omitted)`)
    .option('--tlp <tlp>', `record TLP for everything imported (${TLP_LEVELS.join(', ')}); default: the source's TLP tag or marking, else green`)
    .option('--column <columns>', 'CSV: the value column(s), numbers from 1 or header names, comma-separated (FQDN,IP)')
    .option('--json', 'print the summary as one JSON object')
    .option('--progress', 'draw the progress bar even when standard error is not a terminal')
    .option('--no-progress', 'never draw the progress bar')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (file: string, opts) => {
      const dataDir = dataDirOf(opts)
      if (opts.format != null && !(IMPORT_FORMATS as readonly string[]).includes(opts.format)) {
        throw new DragnetError('DRAGNET_BAD_REQUEST', `--format must be one of ${IMPORT_FORMATS.join(', ')}, got ${String(opts.format)}`)
      }
      if (opts.tlp != null && !isTlp(opts.tlp)) throw new DragnetError('DRAGNET_BAD_TLP', `--tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(opts.tlp)}`)
      if (opts.column != null && opts.format != null && opts.format !== 'csv') throw new DragnetError('DRAGNET_BAD_REQUEST', '--column applies to CSV input only')
      const records = opts.format === 'records' || (opts.format == null && looksLikeRecordsFile(await peek(file)))
      if (records && opts.tlp != null) throw new DragnetError('DRAGNET_BAD_REQUEST', '--tlp does not apply to a records file: each signed record keeps the TLP its author gave it')
      if (records && opts.column != null) throw new DragnetError('DRAGNET_BAD_REQUEST', '--column applies to CSV input only')
      // Ids of objects made from bare values are this member's own: another member importing the
      // same feed reports the same values under its ids, and lookup shows both.
      const namespace = (await readMetadata(dataDir))?.peerId
      const parsed = records ? null : parseImport(await readSource(file), { format: opts.format as ImportFormat | undefined, name: file, column: columnOf(opts.column), namespace })

      // --progress defined before --no-progress leaves the default undefined: true forces, false forbids.
      const forced = opts.progress === true
      const draw = opts.progress !== false && (forced || (process.stderr.isTTY === true && (parsed == null || parsed.items.length >= PROGRESS_FROM)))
      const bar = draw
        ? new cliProgress.SingleBar({ stream: process.stderr, noTTYOutput: forced, notTTYSchedule: 1000, format: 'importing [{bar}] {value}/{total} objects {percentage}% eta {eta_formatted}', hideCursor: process.stderr.isTTY === true }, cliProgress.Presets.shades_classic)
        : null
      const onProgress = (done: number, total: number): void => {
        if (bar == null) return
        if (done === 0) bar.start(total, 0)
        else bar.update(done)
      }
      const init = { tlp: opts.tlp as Tlp | undefined, file: file === '-' ? 'stdin' : file, onProgress }
      let summary: ImportSummary
      try {
        const remote = parsed == null ? null : await runningNode(dataDir)
        if (parsed == null) {
          summary = await importRecords(dataDir, file, opts, onProgress)
        } else if (remote != null) {
          summary = await runImport(parsed, { ...init, publish: async (objects, tlp) => await publishRemote(remote, objects, tlp) })
        } else {
          summary = await withOfflineNode(dataDir, opts, async node => await runImport(parsed, {
            ...init,
            publish: async (objects, tlp) => await node.publish(objects, { tlp, source: 'import', skipExisting: true })
          }))
        }
      } finally {
        bar?.stop()
      }
      if (opts.json === true) process.stdout.write(JSON.stringify(summary) + '\n')
      else printSummary(summary)
      // Values a list cannot turn into indicators are normal; objects the node refused are not.
      if (Object.keys(summary.skipped).some(k => k.startsWith('rejected:'))) process.exitCode = 1
    })
}
