import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { summarizeVerdicts, parsePublishBody, type PublishResult } from '../../api/server.js'
import { DragnetError } from '../../errors.js'
import { classifyValue } from '../../stix/index.js'
import { getRecordJson, LOOKUP_DEFAULT_LIMIT, LOOKUP_MAX_LIMIT, lookupPage, lookupSummaryAll } from '../../store/queries.js'
import { dataDirOf, printJson, runningNode, withOfflineNode, type RemoteNode } from '../context.js'

async function readInput (file: string): Promise<unknown> {
  let text: string
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8')
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `cannot read ${file}: ${err.code ?? err.message}`)
  }
  try {
    return JSON.parse(text)
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_JSON', `${file === '-' ? 'standard input' : file} is not valid JSON: ${err.message}`)
  }
}

async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function report (results: PublishResult[]): void {
  for (const r of results) {
    if (r.status === 'rejected') {
      const where = r.details?.object != null ? ` [${String(r.details.object)}${r.details.property != null ? ' ' + String(r.details.property) : ''}]` : ''
      process.stderr.write(`error: object ${r.index}${where}: ${r.code}: ${r.reason}\n`)
    } else {
      process.stdout.write(`${r.id}\n`)
    }
  }
}

/** `status --check`: a node runs on the data dir, its API answers, its store can write. */
async function checkHealth (dataDir: string, remote: RemoteNode | undefined): Promise<void> {
  if (remote == null) throw new DragnetError('DRAGNET_STOPPED', `no node runs on ${dataDir} (no runtime.json, or its API is off)`)
  const r = await remote.request<{ ok?: boolean, status?: string, storage?: { error?: string } }>('GET', '/health')
  if (r.status !== 200 || r.body?.ok !== true) {
    throw new DragnetError('DRAGNET_STORAGE', `the node on ${dataDir} is ${r.body?.status ?? 'unhealthy'} (HTTP ${r.status}): ${r.body?.storage?.error ?? 'no reason given'}`)
  }
  process.stdout.write(`healthy: node pid ${remote.runtime.pid}, API ${remote.runtime.api ?? ''}\n`)
}

export function registerRecordCommands (program: Command): void {
  program.command('publish')
    .description('sign and store STIX 2.1 content (an object, array or bundle) as records; prints one record id per line')
    .argument('<file>', 'JSON file, or - for standard input')
    .option('--data <dir>', 'data directory')
    .option('--tlp <tlp>', 'clear | green | amber | amber+strict | red (default: each object\'s TLP marking, else green)')
    .option('--to <peers>', 'comma-separated recipient PeerIds (amber only)')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (file, opts) => {
      const dataDir = dataDirOf(opts)
      const input = await readInput(file)
      const { objects, tlp, to } = parsePublishBody(input, { tlp: opts.tlp, to: opts.to })
      const remote = await runningNode(dataDir)
      let summary
      if (remote != null) {
        const query = new URLSearchParams()
        if (tlp != null) query.set('tlp', tlp)
        if (to != null) query.set('to', to.join(','))
        summary = await remote.call<ReturnType<typeof summarizeVerdicts>>('POST', `/api/records${query.size > 0 ? '?' + query.toString() : ''}`, objects, true)
      } else {
        summary = summarizeVerdicts(await withOfflineNode(dataDir, opts, async node => await node.publish(objects, { ...(tlp != null ? { tlp } : {}), ...(to != null ? { to } : {}) })))
      }
      report(summary.results)
      if (summary.rejected > 0) process.exitCode = 1
    })

  program.command('get')
    .description('print a record as JSON')
    .argument('<id>', 'record id')
    .option('--data <dir>', 'data directory')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (id, opts) => {
      const dataDir = dataDirOf(opts)
      const remote = await runningNode(dataDir)
      if (remote != null) return printJson(await remote.call('GET', `/api/records/${encodeURIComponent(id)}`))
      const rec = await withOfflineNode(dataDir, opts, async node => { const r = await getRecordJson(node.store, id); return r != null ? node.withAuthor(r) : undefined })
      if (rec == null) throw new DragnetError('DRAGNET_NOT_FOUND', `no record ${id}`)
      printJson(rec)
    })

  program.command('lookup')
    .description('current records, any author, naming an IP/CIDR, domain (and its subdomains), URL, email or hash (JSON), a page at a time')
    .argument('<value>', 'the observable value')
    .option('--data <dir>', 'data directory')
    .option('--limit <n>', `records per page, 1-${LOOKUP_MAX_LIMIT}`, String(LOOKUP_DEFAULT_LIMIT))
    .option('--cursor <cursor>', 'continue after the previous page (its "next")')
    .option('--exact', 'a domain finds records naming exactly it, not its subdomains')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (value, opts) => {
      const dataDir = dataDirOf(opts)
      const limit = Number(opts.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > LOOKUP_MAX_LIMIT) throw new DragnetError('DRAGNET_BAD_REQUEST', `--limit must be an integer from 1 to ${LOOKUP_MAX_LIMIT}, got ${String(opts.limit)}`)
      const exact = opts.exact === true
      const remote = await runningNode(dataDir)
      if (remote != null) {
        const params = new URLSearchParams({ value, limit: String(limit) })
        if (opts.cursor != null) params.set('cursor', opts.cursor)
        if (exact) params.set('exact', 'true')
        return printJson(await remote.call('GET', `/api/lookup?${params.toString()}`))
      }
      const o = classifyValue(value)
      if (o == null) throw new DragnetError('DRAGNET_BAD_REQUEST', `cannot tell what kind of observable "${value}" is (IP, CIDR, domain, URL, email or MD5/SHA-1/SHA-256)`)
      const { page, summary } = await withOfflineNode(dataDir, opts, async node => {
        const query = { limit, subdomains: !exact, ...(opts.cursor != null ? { cursor: opts.cursor } : {}) }
        const p = await lookupPage(node.store, o, query)
        return { page: { ...p, records: p.records.map(r => node.withAuthor(r)) }, summary: await lookupSummaryAll(node.store, o, p, query) }
      })
      printJson({ value: o.value, kind: o.kind, summary, records: page.records, ...(page.next != null ? { next: page.next } : {}) })
    })

  program.command('status')
    .description('node identity, record counts, peers, flagged authors; --check: exit status 0 only if a node runs here and is healthy')
    .option('--data <dir>', 'data directory')
    .option('--json', 'one JSON object')
    .option('--check', 'health check (for containers and service managers): exit 0 if a node runs on the data dir and its API answers healthy, else print why and exit 1')
    .option('--config <file>', 'node config when no node runs on the data dir')
    .action(async (opts) => {
      const dataDir = dataDirOf(opts)
      const remote = await runningNode(dataDir)
      if (opts.check === true) { await checkHealth(dataDir, remote); return }
      const status: any = remote != null ? await remote.call('GET', '/api/status') : await withOfflineNode(dataDir, opts, async node => await node.status())
      if (remote == null) { status.running = false; delete status.startedAt }
      if (opts.json === true) { process.stdout.write(JSON.stringify(status) + '\n'); return }
      const lines = [
        `peerId     ${status.peerId}`,
        `name       ${status.name || '(none)'} (${status.country}, ${status.role})`,
        `running    ${status.running ? 'yes, since ' + status.startedAt : 'no'}`,
        `records    ${status.records} (${Object.entries(status.byTlp).map(([k, v]) => `${k} ${String(v)}`).join(', ')})`,
        `peers      ${status.peers.connected} connected of ${status.peers.roster} on the roster`,
        `policy     ${status.policy}`,
        ...(status.api != null ? [`api        ${String(status.apiScheme ?? 'http')}://${status.api}`] : []),
        ...(status.listen.length > 0 ? [`listen     ${status.listen.join(' ')}`] : []),
        `flagged    ${status.flaggedAuthors.length === 0 ? 'none' : status.flaggedAuthors.join(', ') + ' (equivocation)'}`
      ]
      process.stdout.write(lines.join('\n') + '\n')
    })
}
