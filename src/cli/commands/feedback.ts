import type { Command } from 'commander'
import { opine, parseOpinionInput, parseSightInput, sight } from '../../api/feedback.js'
import { summarizeVerdicts } from '../../api/server.js'
import { DragnetError } from '../../errors.js'
import { dataDirOf, runningNode, withOfflineNode } from '../context.js'

type Summary = ReturnType<typeof summarizeVerdicts>

function report (summary: Summary): void {
  for (const r of summary.results) {
    if (r.status === 'rejected') process.stderr.write(`error: ${r.code ?? ''}: ${r.reason ?? ''}\n`)
    else process.stdout.write(`${r.id ?? ''}\n`)
  }
  if (summary.rejected > 0) process.exitCode = 1
}

/** Through the running node's API when there is one, else on the data dir directly. */
async function publishFeedback (opts: { data?: string, config?: string }, path: string, body: Record<string, unknown>, offline: Parameters<typeof withOfflineNode<Summary>>[2]): Promise<void> {
  const dataDir = dataDirOf(opts)
  const remote = await runningNode(dataDir)
  report(remote != null ? await remote.call<Summary>('POST', path, body, true) : await withOfflineNode(dataDir, opts, offline))
}

function count (v: string | undefined): number | undefined {
  if (v == null) return undefined
  if (!/^[0-9]{1,9}$/.test(v)) throw new DragnetError('DRAGNET_BAD_REQUEST', `--count must be an integer from 1 to 999999999, got ${v}`, { property: 'count' })
  return Number(v)
}

export function registerFeedback (program: Command): void {
  program.command('sight')
    .description('publish a STIX 2.1 sighting of the indicator(s) behind a value or record, as this node\'s record; prints one record id per line')
    .argument('<value|record-id>', 'an observable value (every current record naming it), a record id or a STIX id')
    .option('--count <n>', 'times seen (default 1)')
    .option('--first-seen <iso>', 'first seen, ISO 8601 UTC (default now)')
    .option('--last-seen <iso>', 'last seen, ISO 8601 UTC (default now)')
    .option('--where <text>', 'where it was seen (the sighting\'s description)')
    .option('--tlp <tlp>', 'clear | green | amber | amber+strict | red (default green); amber goes to the indicator\'s author')
    .option('--data <dir>', 'data directory')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (target, opts) => {
      const body: Record<string, unknown> = { target, count: count(opts.count), first_seen: opts.firstSeen, last_seen: opts.lastSeen, where: opts.where, tlp: opts.tlp }
      const input = parseSightInput(body)
      await publishFeedback(opts, '/api/sightings', body, async node => summarizeVerdicts(await sight(node, input)))
    })

  program.command('opinion')
    .description('publish a STIX 2.1 opinion (agree or disagree) of a record, as this node\'s record; prints its record id')
    .argument('<record-id>', 'a record id or a STIX id')
    .option('--agree', 'the record is right')
    .option('--disagree', 'the record is wrong (say why with --reason)')
    .option('--reason <text>', 'why, e.g. "false positive: CDN address"')
    .option('--tlp <tlp>', 'clear | green | amber | amber+strict | red (default green); amber goes to the record\'s author')
    .option('--data <dir>', 'data directory')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (target, opts) => {
      if ((opts.agree === true) === (opts.disagree === true)) throw new DragnetError('DRAGNET_BAD_REQUEST', 'give exactly one of --agree and --disagree', { property: 'opinion' })
      const body: Record<string, unknown> = { target, opinion: opts.agree === true ? 'agree' : 'disagree', reason: opts.reason, tlp: opts.tlp }
      const input = parseOpinionInput(body)
      await publishFeedback(opts, '/api/opinions', body, async node => summarizeVerdicts(await opine(node, input)))
    })
}
