import { createReadStream } from 'node:fs'
import type { Command } from 'commander'
import { loadRosterFile } from '../../config/config.js'
import { DragnetError } from '../../errors.js'
import { openRecordsFile, type RecordsFileHeader } from '../../record/index.js'
import { printJson } from '../context.js'

interface Named {
  peerId: string
  name?: string
  country?: string
  role?: string
}

export interface RecordCheck {
  line: number
  id?: string
  ok: boolean
  author?: string
  authorName?: string
  seq?: number
  signedAt?: string
  tlp?: string
  type?: string
  stixId?: string
  code?: string
  reason?: string
}

export interface VerifyReport {
  file: string
  ok: boolean
  header: RecordsFileHeader
  exporter: Named
  for?: Named
  records: number
  valid: number
  failed: number
  closing: { ok: boolean, code?: string, reason?: string }
  results: RecordCheck[]
}

type Roster = Map<string, { name: string, country: string, role: string }>

function named (peerId: string, roster: Roster | undefined): Named {
  const m = roster?.get(peerId)
  return m != null ? { peerId, name: m.name, country: m.country, role: m.role } : { peerId }
}

function label (n: Named): string {
  return n.name != null ? `${n.name} (${n.country ?? '?'}, ${n.role ?? '?'}) ${n.peerId}` : n.peerId
}

/** Checks every line of a records file; with a roster, an author not on it fails its record. */
export async function verifyRecordsFile (source: AsyncIterable<Uint8Array>, file: string, roster?: Roster): Promise<VerifyReport> {
  const { header, entries } = await openRecordsFile(source, { verify: true })
  const report: VerifyReport = { file, ok: false, header, exporter: named(header.exporter, roster), records: 0, valid: 0, failed: 0, closing: { ok: false }, results: [] }
  if (header.for != null) report.for = named(header.for, roster)
  for await (const e of entries) {
    if (e.kind === 'end') {
      report.closing = e.error == null ? { ok: true } : { ok: false, code: e.error.code, reason: e.error.message }
      continue
    }
    report.records++
    const check: RecordCheck = { line: e.line, ok: false }
    if (e.id != null) check.id = e.id
    const r = e.record?.record
    if (r != null) {
      Object.assign(check, { author: r.author, seq: r.seq, signedAt: new Date(r.ts).toISOString(), tlp: r.tlp, type: r.body.type, stixId: r.body.id })
      const who = named(r.author, roster)
      if (who.name != null) check.authorName = label(who).replace(` ${r.author}`, '')
      else if (roster != null) Object.assign(check, { code: 'DRAGNET_UNKNOWN_AUTHOR', reason: `signed by ${r.author}, who is not on the roster` })
    }
    if (e.error != null) Object.assign(check, { code: e.error.code, reason: e.error.message })
    check.ok = check.code == null
    if (check.ok) report.valid++
    else report.failed++
    report.results.push(check)
  }
  report.ok = report.failed === 0 && report.closing.ok
  return report
}

function printReport (r: VerifyReport): void {
  const out: string[] = [
    `file      ${r.file}`,
    `exporter  ${label(r.exporter)}`,
    `for       ${r.for != null ? label(r.for) : '-'}`,
    `created   ${r.header.created}`
  ]
  for (const c of r.results) {
    const id = c.id ?? '(no id)'
    if (c.ok) out.push(`ok    line ${c.line}  ${id}  ${c.tlp} ${c.type} ${c.stixId}  signed by ${c.authorName != null ? `${c.authorName} ` : ''}${c.author} seq ${c.seq} at ${c.signedAt}`)
    else out.push(`FAIL  line ${c.line}  ${id}  ${c.code}: ${c.reason}`)
  }
  out.push(r.closing.ok
    ? `closing   ok: ${r.records} records, the whole file signed by the exporter`
    : `closing   FAIL: ${r.closing.code}: ${r.closing.reason}`)
  out.push(`result    ${r.records} records: ${r.valid} verified, ${r.failed} failed${r.ok ? '' : ' — NOT VERIFIED'}`)
  process.stdout.write(out.join('\n') + '\n')
}

export function registerVerify (program: Command): void {
  program.command('verify')
    .description('check a records file offline, with no node, data dir or network: every record\'s signature and id, and the exporter\'s signature over the whole file; exits 1 naming each record that fails')
    .argument('<file>', 'a records file (dragnet export --format records), or - for standard input')
    .option('--roster <file>', 'a roster (YAML or JSON, as in a node config) to name each author; an author not on it fails its record')
    .option('--json', 'print the report as one JSON object')
    .action(async (file: string, opts) => {
      let roster: Roster | undefined
      if (opts.roster != null) roster = new Map((await loadRosterFile(opts.roster)).map(m => [m.peerId, { name: m.name, country: m.country, role: m.role }]))
      const source = file === '-' ? process.stdin : createReadStream(file)
      let report: VerifyReport
      try {
        report = await verifyRecordsFile(source, file, roster)
      } catch (err: any) {
        if (err instanceof DragnetError) throw err
        throw new DragnetError('DRAGNET_BAD_REQUEST', `cannot read ${file}: ${String(err.code ?? err.message)}`)
      }
      if (opts.json === true) printJson(report)
      else printReport(report)
      if (!report.ok) {
        const failed = report.results.filter(c => !c.ok).map(c => `line ${c.line} record ${c.id ?? '(no id)'}`)
        const parts = [...failed.length > 0 ? [`${failed.length} record${failed.length > 1 ? 's' : ''} failed: ${failed.slice(0, 20).join(', ')}${failed.length > 20 ? ', ...' : ''}`] : [], ...report.closing.ok ? [] : [`the file as a whole does not verify: ${String(report.closing.reason)}`]]
        process.stderr.write(`error: ${parts.join('; ')}\n`)
        process.exitCode = 1
      }
    })
}
