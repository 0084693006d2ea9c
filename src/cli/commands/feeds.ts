import type { Command } from 'commander'
import { feedStatus, readFeedStates, type FeedStatus } from '../../feeds/index.js'
import { DragnetError, ERROR_STATUS, type ErrorCode } from '../../errors.js'
import { configFor, dataDirOf, printJson, runningNode, withOfflineNode, type RemoteNode } from '../context.js'

function ago (iso: string | null, now = Date.now()): string {
  if (iso == null) return 'never'
  const s = Math.round((Date.parse(iso) - now) / 1000)
  const abs = Math.abs(s)
  const span = abs < 120 ? `${abs} s` : abs < 7200 ? `${Math.round(abs / 60)} min` : abs < 172800 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`
  return `${iso} (${s <= 0 ? `${span} ago` : `in ${span}`})`
}

function describe (f: FeedStatus, scheduled: boolean): string {
  const lines = [`${f.name}  ${f.kind} ${f.url}${f.collection != null ? ` collection ${f.collection}` : ''}${f.tlp != null ? ` tlp ${f.tlp}` : ''}, every ${f.intervalMs / 1000} s`]
  lines.push(`  last run   ${ago(f.lastRun)}${f.durationMs != null ? `, took ${(f.durationMs / 1000).toFixed(1)} s` : ''}${f.running ? ' (running now)' : ''}`)
  if (f.result != null) {
    lines.push(`  result     ${f.result === 'ok' ? 'ok' : `error ${f.error?.code ?? ''}: ${f.error?.message ?? ''}`}`)
  }
  if (f.counts != null) {
    const c = f.counts
    lines.push(`  counts     ${c.values} values, ${c.imported} imported (${c.stored} records stored), ${c.duplicates} duplicates, ${c.skipped} skipped, ${c.rejected} records rejected; ${f.documents ?? 0} documents fetched`)
  }
  if (f.skipped != null) lines.push(`  skipped    ${Object.entries(f.skipped).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  lines.push(`  next run   ${scheduled ? ago(f.nextRun) : 'when the node runs (dragnet start), or now with dragnet feeds run ' + f.name}`)
  lines.push(`  totals     ${f.runs} runs, ${f.failures} failed; ${f.totals.stored} records stored, ${f.totals.duplicates} duplicates, ${f.totals.rejected} rejected; last success ${f.lastSuccess ?? 'never'}`)
  if (f.cursor != null) lines.push(`  cursor     added_after ${f.cursor}`)
  if (f.events != null) lines.push(`  events     ${f.events} imported at their current version`)
  return lines.join('\n')
}

/** `dragnet feeds`: from the running node's API, else from the config and the state file. */
async function listFeeds (dataDir: string, opts: { config?: string }): Promise<{ scheduled: boolean, feeds: FeedStatus[] }> {
  const remote = await runningNode(dataDir)
  if (remote != null) return await remote.call('GET', '/api/feeds')
  const config = await configFor(dataDir, opts)
  const states = await readFeedStates(dataDir)
  return { scheduled: false, feeds: config.feeds.map(f => feedStatus(f, states[f.name], false, false)) }
}

/** The run through the node's API; a failure after the answer started comes as `{ code, message }` in the body. */
async function runRemote (remote: RemoteNode, name: string): Promise<FeedStatus> {
  const body = await remote.call<FeedStatus | { code: string, message: string }>('POST', `/api/feeds/${encodeURIComponent(name)}/run`, undefined, true)
  if ('code' in body) throw new DragnetError(body.code in ERROR_STATUS ? body.code as ErrorCode : 'DRAGNET_INTERNAL', body.message)
  return body
}

export function registerFeeds (program: Command): void {
  const feeds = program.command('feeds')
    .description('scheduled feeds (config key feeds): each feed\'s last run, result, counts and next run; feeds run NAME runs one now')
  // The listing is the default subcommand, so `feeds --data DIR` lists and `feeds run NAME --data
  // DIR` keeps its options (a parent with options of the same names would take them).
  feeds.command('list', { isDefault: true })
    .description('each feed\'s last run, result, counts and next run (the default: dragnet feeds --data DIR)')
    .option('--data <dir>', 'data directory')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .option('--json', 'print the feeds as JSON')
    .action(async (opts) => {
      const dataDir = dataDirOf(opts)
      const list = await listFeeds(dataDir, opts)
      if (opts.json === true) { printJson(list); return }
      if (list.feeds.length === 0) { process.stdout.write('no feeds configured (config key feeds)\n'); return }
      process.stdout.write(list.feeds.map(f => describe(f, list.scheduled)).join('\n\n') + '\n')
    })

  feeds.command('run')
    .description('run one feed now: through the running node, or on the store when no node runs; exits 1 when the run fails')
    .argument('<name>', 'the feed\'s name')
    .option('--data <dir>', 'data directory')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .option('--json', 'print the feed\'s status after the run as JSON')
    .action(async (name: string, opts) => {
      const dataDir = dataDirOf(opts)
      const remote = await runningNode(dataDir)
      const status = remote != null
        ? await runRemote(remote, name)
        : await withOfflineNode(dataDir, opts, async node => await node.feeds.run(name))
      if (opts.json === true) printJson(status)
      else process.stdout.write(describe(status, remote != null) + '\n')
      if (status.result !== 'ok') process.exitCode = 1
    })
}
