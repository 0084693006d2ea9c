import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { bundleChunks, exportFilter, type BundleStats } from '../../api/export.js'
import { DragnetError, ERROR_STATUS, type ErrorCode } from '../../errors.js'
import { dataDirOf, runningNode, withOfflineNode } from '../context.js'

function splitList (v: string | undefined): string[] | undefined {
  return v == null ? undefined : v.split(',').map(s => s.trim()).filter(s => s !== '')
}

export function registerExport (program: Command): void {
  program.command('export')
    .description('write one STIX 2.1 bundle of the current objects (newest version, not revoked, not expired), streamed')
    .option('--data <dir>', 'data directory')
    .option('--format <format>', 'stix (the only format)', 'stix')
    .option('--tlp <levels>', 'TLP levels, comma-separated (default all)')
    .option('--type <types>', 'STIX types, comma-separated (default all)')
    .option('--since <iso>', 'only objects that arrived at or after this time')
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (opts) => {
      const dataDir = dataDirOf(opts)
      if (opts.format !== 'stix') throw new DragnetError('DRAGNET_BAD_REQUEST', `--format must be stix, got ${String(opts.format)}`)
      const filter = exportFilter({ tlp: splitList(opts.tlp), type: splitList(opts.type), since: opts.since })
      const out: Writable = opts.out != null ? createWriteStream(opts.out) : process.stdout
      const stats: BundleStats = { objects: 0 }
      try {
        const remote = await runningNode(dataDir)
        if (remote != null) {
          // The running node holds the store: it streams the bundle through its API.
          const params = new URLSearchParams()
          if (opts.tlp != null) params.set('tlp', opts.tlp)
          if (opts.type != null) params.set('type', opts.type)
          if (opts.since != null) params.set('since', opts.since)
          let res: Response
          try {
            res = await fetch(`http://${remote.runtime.api}/api/export?${params.toString()}`)
          } catch (err: any) {
            throw new DragnetError('DRAGNET_NODE_UNREACHABLE', `a node runs on this data dir (pid ${remote.runtime.pid}) but its API at ${remote.runtime.api} does not answer: ${err.message}`)
          }
          if (!res.ok || res.body == null) {
            const body: any = await res.json().catch(() => ({}))
            const code: ErrorCode = body?.code in ERROR_STATUS ? body.code : 'DRAGNET_INTERNAL'
            throw new DragnetError(code, body?.message ?? `the node's API answered HTTP ${res.status}`)
          }
          await pipeline(Readable.fromWeb(res.body as any), out)
        } else {
          await withOfflineNode(dataDir, opts, async (node) => {
            await pipeline(Readable.from(bundleChunks(node.store, filter, stats)), out)
          })
          if (opts.out != null) process.stderr.write(`exported ${stats.objects} objects to ${opts.out}\n`)
        }
      } catch (err) {
        // Half a bundle is not a bundle: leave no file behind.
        if (opts.out != null) await rm(opts.out, { force: true })
        throw err
      }
    })
}
