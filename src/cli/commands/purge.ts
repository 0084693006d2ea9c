import type { Command } from 'commander'
import { purgeTargetOf } from '../../api/purge.js'
import { DragnetError } from '../../errors.js'
import type { EraseResult } from '../../purge/index.js'
import type { PurgeResult, Tombstone } from '../../store/index.js'
import { dataDirOf, printJson, runningNode, withOfflineNode } from '../context.js'

/*
 * `dragnet purge` and `dragnet erase`: through the running node's API when one runs on the data
 * dir (it holds the store, and its sync must learn of the purge), else on the store directly.
 */

function printPurge (res: PurgeResult): void {
  for (const t of res.purged) process.stdout.write(`purged ${t.id}\n`)
  for (const id of res.already) process.stdout.write(`already purged ${id}\n`)
  for (const id of res.missing) process.stderr.write(`not stored here: ${id}\n`)
}

function printTombstones (list: Tombstone[]): void {
  if (list.length === 0) { process.stdout.write('no purged records\n'); return }
  for (const t of list) process.stdout.write(`${new Date(t.at).toISOString()}  ${t.id}  ${t.tlp}  by ${t.operator}: ${t.reason}\n`)
}

async function listTombstones (opts: { data?: string, json?: boolean, config?: string }): Promise<void> {
  const dataDir = dataDirOf(opts)
  const remote = await runningNode(dataDir)
  const list = remote != null
    ? (await remote.call<{ tombstones: Tombstone[] }>('GET', '/api/purge')).tombstones
    : await withOfflineNode(dataDir, opts, async node => await node.purge.list())
  if (opts.json === true) printJson({ tombstones: list })
  else printTombstones(list)
}

export function registerPurge (program: Command): void {
  // `purge list` is a verb of its own, read here rather than as a commander subcommand: both
  // take --data, and commander gives a subcommand's options to its parent.
  program.command('purge')
    .description('remove records for good (record, indexes, body bytes), keeping a tombstone so gossip and sync never bring them back; audited. `dragnet purge list --data DIR [--json]` lists the tombstones')
    .argument('[record-id...]', 'record ids, or `list`')
    .option('--stix-id <id>', 'every record (every version) of this STIX object')
    .option('--author <peerid>', 'every record of this author')
    .option('--reason <text>', 'why (required): kept in the tombstone and the audit')
    .option('--data <dir>', 'data directory')
    .option('--json', 'one JSON object')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (ids: string[], opts) => {
      if (ids[0] === 'list') {
        if (ids.length > 1 || opts.reason != null || opts.stixId != null || opts.author != null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'purge list takes only --data, --json and --config')
        return await listTombstones(opts)
      }
      if (opts.reason == null) throw new DragnetError('DRAGNET_BAD_REQUEST', '--reason TEXT is required: it is kept in the tombstone and the audit', { property: 'reason' })
      const body: Record<string, unknown> = { reason: opts.reason }
      if (ids.length > 0) body.ids = ids
      if (opts.stixId != null) body.stixId = opts.stixId
      if (opts.author != null) body.author = opts.author
      const target = purgeTargetOf(body)
      const dataDir = dataDirOf(opts)
      const remote = await runningNode(dataDir)
      const res = remote != null
        ? await remote.call<PurgeResult>('POST', '/api/purge', body, true)
        : await withOfflineNode(dataDir, opts, async node => await node.purge.purge(target, { reason: opts.reason }))
      if (opts.json === true) printJson(res)
      else printPurge(res)
    })

  program.command('erase')
    .description('ask the federation to erase records this node authored: publishes signed erasure requests naming only their ids, and purges them here')
    .argument('<record-id...>', 'record ids (this node\'s own records)')
    .option('--reason <text>', 'why (required): kept in this node\'s tombstones and audit, not sent')
    .option('--data <dir>', 'data directory')
    .option('--json', 'one JSON object')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (ids: string[], opts) => {
      if (opts.reason == null) throw new DragnetError('DRAGNET_BAD_REQUEST', '--reason TEXT is required: it is kept in the tombstones and the audit', { property: 'reason' })
      const dataDir = dataDirOf(opts)
      const remote = await runningNode(dataDir)
      const res = remote != null
        ? await remote.call<EraseResult>('POST', '/api/erase', { ids, reason: opts.reason }, true)
        : await withOfflineNode(dataDir, opts, async node => await node.purge.erase(ids, opts.reason))
      if (opts.json === true) { printJson(res); return }
      for (const q of res.requests) process.stdout.write(`request ${q.id} (${q.tlp}${q.to != null ? ` to ${q.to.join(',')}` : ''}) names ${q.records.length} record(s)\n`)
      for (const t of res.purged) process.stdout.write(`purged ${t.id}\n`)
      if (res.requests.length === 0) process.stdout.write('no request published (red records never left this node)\n')
    })
}
