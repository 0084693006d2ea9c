import type { Command } from 'commander'
import { DragnetError } from '../../errors.js'
import type { AuditEntry } from '../../store/index.js'
import { dataDirOf, runningNode, withOfflineNode } from '../context.js'

interface AuditAnswer { entries: AuditEntry[], decision_now?: { verdict: string, rule: string, reason: string } }

function printAudit (body: AuditAnswer, opts: { record?: string, peer?: string }): void {
  const lines: string[] = []
  if (body.entries.length === 0) lines.push(`no decisions logged${opts.record != null ? ' for record ' + opts.record : ''}${opts.peer != null ? ' and peer ' + opts.peer : ''}`)
  for (const e of body.entries) {
    const who = [e.record != null ? `record ${e.record}` : '', e.peer != null ? `${e.direction === 'outbound' ? 'to' : 'from'} ${e.peer}` : ''].filter(x => x !== '').join(' ')
    lines.push(`${new Date(e.at).toISOString()}  ${e.direction.padEnd(8)} ${e.verdict.padEnd(8)} by ${e.rule}${e.source != null ? ` (${e.source})` : ''}\n    ${who}\n    ${e.reason}${e.code != null ? ` [${e.code}]` : ''}`)
  }
  if (body.decision_now != null) {
    lines.push(`nothing logged for this pair (sends are not logged; a withholding is logged when it happens): the policy decides now: ${body.decision_now.verdict} by ${body.decision_now.rule} — ${body.decision_now.reason}`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

interface PeerRow {
  peerId: string
  name?: string
  country?: string
  role?: string
  connected?: boolean
  recordsIn?: number
  recordsOut?: number
  bytesIn?: number
  bytesOut?: number
  withheld?: number
  rejected?: number
  penalties?: number
  lastSeen?: number
}

function printPeers (body: { running: boolean, connected: number, peers: PeerRow[] }): void {
  const lines = [`${body.connected} of ${body.peers.length} roster members connected${body.running ? '' : ' (node not running: counters as last persisted)'}`]
  for (const p of body.peers) {
    lines.push(`${p.connected === true ? '*' : ' '} ${p.peerId}  ${p.name ?? ''} (${p.country ?? '?'}, ${p.role ?? '?'})  ` +
      `in ${p.recordsIn ?? 0} rec/${p.bytesIn ?? 0} B  out ${p.recordsOut ?? 0} rec/${p.bytesOut ?? 0} B  withheld ${p.withheld ?? 0}  rejected ${p.rejected ?? 0}  penalties ${p.penalties ?? 0}` +
      (p.lastSeen != null ? `  last seen ${new Date(p.lastSeen).toISOString()}` : ''))
  }
  process.stdout.write(lines.join('\n') + '\n')
}

export function registerPeersAudit (program: Command): void {
  program.command('peers')
    .description('roster members, connection state, records and bytes exchanged')
    .option('--data <dir>', 'data directory')
    .option('--json', 'one JSON object')
    .option('--config <file>', 'node config (roster) when no node runs on the data dir')
    .action(async (opts) => {
      const dataDir = dataDirOf(opts)
      const remote = await runningNode(dataDir)
      const body = remote != null
        ? await remote.call<{ running: boolean, connected: number, peers: PeerRow[] }>('GET', '/api/peers')
        : await withOfflineNode(dataDir, opts, async (node) => {
          const saved = await node.store.getPeers<Record<string, unknown>>()
          const peers = node.roster.peers().map(m => ({ peerId: m.peerId, name: m.name, country: m.country, role: m.role, addrs: m.addrs, connected: false, ...(saved.get(m.peerId) ?? {}) }))
          return { running: false, connected: 0, peers }
        })
      if (opts.json === true) process.stdout.write(JSON.stringify(body) + '\n')
      else printPeers(body)
    })

  program.command('audit')
    .description('audit log, newest first: why a record was accepted, rejected or withheld, and by which rule (sends are not logged)')
    .option('--data <dir>', 'data directory')
    .option('--record <id>', 'entries about this record')
    .option('--peer <peerId>', 'entries about this peer')
    .option('--limit <n>', 'entries to show (1-10000)', '100')
    .option('--json', 'one JSON object: { entries, decision_now? }')
    .option('--config <file>', 'node config (policy, roster) when no node runs on the data dir')
    .action(async (opts) => {
      const dataDir = dataDirOf(opts)
      const limit = Number(opts.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new DragnetError('DRAGNET_BAD_REQUEST', `--limit must be an integer from 1 to 10000, got ${String(opts.limit)}`)
      const remote = await runningNode(dataDir)
      if (remote != null) {
        const params = new URLSearchParams({ limit: String(limit) })
        if (opts.record != null) params.set('record', opts.record)
        if (opts.peer != null) params.set('peer', opts.peer)
        const body = await remote.call<AuditAnswer>('GET', `/api/audit?${params.toString()}`)
        if (opts.json === true) process.stdout.write(JSON.stringify(body) + '\n')
        else printAudit(body, opts)
        return
      }
      const body = await withOfflineNode(dataDir, opts, async (node): Promise<AuditAnswer> => {
        const entries = await node.store.auditEntries({
          ...(opts.record != null ? { record: opts.record as string } : {}),
          ...(opts.peer != null ? { peer: opts.peer as string } : {}),
          limit
        })
        if (opts.record != null && opts.peer != null && entries.length === 0) {
          const now = await node.decideNow(opts.record, opts.peer)
          if (now != null) return { entries, decision_now: now }
        }
        return { entries }
      })
      if (opts.json === true) process.stdout.write(JSON.stringify(body) + '\n')
      else printAudit(body, opts)
    })
}
