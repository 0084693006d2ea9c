import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Readable, Transform, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { bundleChunks, exportPlan, recordsExportOptions, recordsFileChunks, recordsWriter, type BundleStats, type ExportRequest, type RecordsExportStats } from '../../api/export.js'
import { DragnetError, ERROR_STATUS, type ErrorCode } from '../../errors.js'
import { dataDirOf, runningNode, withOfflineNode, type RemoteNode } from '../context.js'

function splitList (v: string | undefined): string[] | undefined {
  return v == null ? undefined : v.split(',').map(s => s.trim()).filter(s => s !== '')
}

/** Counts "\n"s going through: a records file has a header and a closing line around its records. */
function lineCounter (): { stream: Transform, lines: () => number } {
  let n = 0
  const stream = new Transform({
    transform (chunk: Buffer, _enc, done) {
      for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++
      done(null, chunk)
    }
  })
  return { stream, lines: () => n }
}

async function exportRemote (remote: RemoteNode, req: ExportRequest, out: Writable, counter: Transform): Promise<void> {
  // The running node holds the store (and signs a records file): it streams the export through its API.
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(req)) {
    if (v == null || v === false) continue
    params.set(k, Array.isArray(v) ? v.join(',') : String(v))
  }
  let res: Response
  try {
    res = await remote.fetch(`${remote.baseUrl}/api/export?${params.toString()}`, { headers: remote.headers })
  } catch (err: any) {
    throw new DragnetError('DRAGNET_NODE_UNREACHABLE', `a node runs on this data dir (pid ${remote.runtime.pid}) but its API at ${remote.runtime.api} does not answer: ${err.message}`)
  }
  if (!res.ok || res.body == null) {
    const body: any = await res.json().catch(() => ({}))
    const code: ErrorCode = body?.code in ERROR_STATUS ? body.code : 'DRAGNET_INTERNAL'
    throw new DragnetError(code, body?.message ?? `the node's API answered HTTP ${res.status}`)
  }
  await pipeline(Readable.fromWeb(res.body as any), counter, out)
}

function withheldText (s: RecordsExportStats): string {
  const rules = Object.entries(s.withheld).sort((a, b) => b[1] - a[1])
  const total = rules.reduce((a, [, n]) => a + n, 0)
  return total === 0 ? '' : `; withheld ${total} (${rules.map(([r, n]) => `${r} ${n}`).join(', ')})`
}

export function registerExport (program: Command): void {
  program.command('export')
    .description('write one STIX 2.1 bundle of the current objects (newest version, not revoked, not expired), each with its TLP 2.0 marking and author identity; or, with --format records, the signed records themselves; streamed')
    .option('--data <dir>', 'data directory')
    .option('--format <format>', 'stix (a bundle) | records (a records file of signed records, JSON lines)', 'stix')
    .option('--tlp <levels>', 'TLP levels, comma-separated (default all)')
    .option('--type <types>', 'STIX types, comma-separated (default all)')
    .option('--since <iso>', 'only objects that arrived at or after this time')
    .option('--raw', 'stix: the objects exactly as signed, without TLP markings or author identities added')
    .option('--for <peerId>', 'records: only what this node\'s outbound policy (TLP floor included) sends that member')
    .option('--id <ids>', 'records: only these record ids, comma-separated')
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (opts) => {
      const dataDir = dataDirOf(opts)
      const req: ExportRequest = { format: opts.format, tlp: splitList(opts.tlp), type: splitList(opts.type), since: opts.since, raw: opts.raw === true, for: opts.for, id: splitList(opts.id) }
      const plan = exportPlan(req)
      const out: Writable = opts.out != null ? createWriteStream(opts.out) : process.stdout
      const counter = lineCounter()
      const bundle: BundleStats = { objects: 0 }
      const records: RecordsExportStats = { records: 0, withheld: {} }
      let summary: string
      try {
        const remote = await runningNode(dataDir)
        if (remote != null) {
          await exportRemote(remote, req, out, counter.stream)
          summary = plan.format === 'records' ? `exported ${Math.max(0, counter.lines() - 2)} records` : 'exported a bundle'
        } else {
          summary = await withOfflineNode(dataDir, opts, async (node) => {
            if (plan.format === 'records') {
              await pipeline(Readable.from(recordsFileChunks(node.store, recordsWriter(node, req), recordsExportOptions(node, plan, req), records)), out)
              return `exported ${records.records} records${req.for != null ? ` for ${req.for}` : ''}${withheldText(records)}`
            }
            await pipeline(Readable.from(bundleChunks(node.store, plan.filter, bundle, { raw: req.raw, memberOf: (p) => node.exportMember(p, true) })), out)
            return `exported ${bundle.objects} objects`
          })
        }
      } catch (err) {
        // Half a bundle is not a bundle: leave no file behind.
        if (opts.out != null) await rm(opts.out, { force: true })
        throw err
      }
      if (opts.out != null || plan.format === 'records') process.stderr.write(`${summary}${opts.out != null ? ` to ${String(opts.out)}` : ''}\n`)
    })
}
