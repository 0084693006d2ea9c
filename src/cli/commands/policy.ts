import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { loadConfig } from '../../config/config.js'
import { DragnetError, isDragnetError } from '../../errors.js'
import { ROLES, type Member, type Role } from '../../identity/index.js'
import { formatExplanation, loadPolicy, policySubject } from '../../policy/index.js'
import { isTlp, TLP_LEVELS, type Tlp } from '../../record/index.js'
import { analyzeStixObject } from '../../stix/index.js'

interface TestOptions {
  record: string
  peer?: string
  author?: string
  from?: string
  config?: string
  tlp?: string
  to?: string
  peerCountry?: string
  peerRole?: string
  authorCountry?: string
  authorRole?: string
  direction?: string
  now?: string
  json?: boolean
}

function member (peerId: string, roster: Member[], country?: string, role?: string): Member {
  const known = roster.find(m => m.peerId === peerId)
  const r = role ?? known?.role ?? 'bureau'
  if (!(ROLES as readonly string[]).includes(r)) throw new DragnetError('DRAGNET_BAD_REQUEST', `role must be one of ${ROLES.join(', ')}, got ${r}`)
  return { peerId, name: known?.name ?? '', country: (country ?? known?.country ?? 'ZZ').toUpperCase(), role: r as Role, addrs: known?.addrs ?? [] }
}

/** The record to test: a record as `dragnet get` prints it, or a bare STIX object. */
async function readSubjectInput (file: string): Promise<{ body: unknown, author?: string, tlp?: Tlp, to?: string[], ts?: number, id?: string }> {
  let parsed: any
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'))
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_JSON', `${file}: ${err.code === 'ENOENT' ? 'no such file' : 'not valid JSON: ' + String(err.message)}`)
  }
  if (parsed != null && typeof parsed === 'object' && 'body' in parsed && 'author' in parsed) {
    return { body: parsed.body, author: parsed.author, tlp: parsed.tlp, to: parsed.to, ts: parsed.ts, id: parsed.id }
  }
  return { body: parsed }
}

export function registerPolicy (program: Command): void {
  const policy = program.command('policy').description('check and dry-run jurisdiction policy files without a running node')

  policy.command('check')
    .description('validate a policy file (YAML or JSON); errors name the rule and field')
    .argument('<file>', 'policy file')
    .option('--json', 'one JSON object')
    .action(async (file: string, opts: { json?: boolean }) => {
      let p
      try {
        p = await loadPolicy(file)
      } catch (err) {
        if (opts.json !== true || !isDragnetError(err)) throw err
        // Every problem, each with its path and, for rules, the rule index, id and field.
        const problems = Array.isArray(err.details.issues) ? err.details.issues : [{ path: String(err.details.property ?? ''), message: err.message }]
        process.stdout.write(JSON.stringify({ ok: false, file, code: err.code, message: err.message, problems }) + '\n')
        process.exitCode = 1
        return
      }
      const summary = {
        ok: true,
        name: p.name,
        rules: { inbound: p.rules.filter(r => r.direction === 'inbound').length, outbound: p.rules.filter(r => r.direction === 'outbound').length },
        defaults: p.defaults,
        groups: [...p.groups],
        warninglists: p.warninglists.lists.map(l => ({ id: l.id, name: l.name, type: l.type, entries: l.entries })),
        missingOptional: p.warninglists.missingOptional,
        retention: p.retentionRules
      }
      if (opts.json === true) { process.stdout.write(JSON.stringify(summary) + '\n'); return }
      process.stdout.write(`ok: ${file}\n  policy ${p.name}: ${summary.rules.inbound} inbound and ${summary.rules.outbound} outbound rules; defaults inbound ${p.defaults.inbound}, outbound ${p.defaults.outbound}\n  groups: ${summary.groups.join(', ') || '(none)'}\n  warninglists: ${summary.warninglists.length} (${summary.warninglists.reduce((a, l) => a + l.entries, 0)} entries)\n`)
    })

  policy.command('test')
    .description('print the decision and the rule that made it, for a record against a peer (outbound) or from an author (inbound), and the retention that applies to it')
    .argument('<file>', 'policy file')
    .requiredOption('--record <file>', 'a STIX object, or a record as `dragnet get` prints it')
    .option('--peer <peerId>', 'outbound: the receiving peer')
    .option('--author <peerId>', 'the record author (inbound when no --peer)')
    .option('--from <peerId>', 'inbound: the relaying neighbour (default: the author)')
    .option('--config <file>', 'node config whose roster gives members\' country and role, and this node\'s identity')
    .option('--tlp <tlp>', `record TLP when the file is a bare STIX object (${TLP_LEVELS.join(', ')})`, 'green')
    .option('--to <peers>', 'amber recipients, comma-separated')
    .option('--peer-country <cc>', 'the peer\'s country when no roster says')
    .option('--peer-role <role>', 'the peer\'s role when no roster says')
    .option('--author-country <cc>', 'the author\'s country when no roster says')
    .option('--author-role <role>', 'the author\'s role when no roster says')
    .option('--direction <dir>', 'inbound | outbound (default: outbound with --peer, else inbound)')
    .option('--now <iso>', 'evaluate at this time (default now)')
    .option('--json', 'the full explanation as JSON')
    .action(async (file: string, opts: TestOptions) => {
      const p = await loadPolicy(file)
      const cfg = opts.config != null ? await loadConfig({ file: opts.config }) : undefined
      const roster: Member[] = (cfg?.roster ?? []).map(m => ({ ...m, addrs: m.addrs ?? [] }))
      const self: Member = { peerId: 'self', name: cfg?.name ?? 'this node', country: cfg?.country ?? 'ZZ', role: cfg?.role ?? 'bureau', addrs: [] }
      const input = await readSubjectInput(opts.record)
      const analysis = analyzeStixObject(input.body, opts.record)
      const tlp = input.tlp ?? opts.tlp
      if (!isTlp(tlp)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(tlp)}`)
      const authorId = opts.author ?? input.author ?? (opts.peer != null ? self.peerId : undefined)
      if (authorId == null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'say who the record is from: --author PEERID (inbound) or --peer PEERID (outbound)')
      const author = authorId === self.peerId ? self : member(authorId, roster, opts.authorCountry, opts.authorRole)
      const now = opts.now != null ? Date.parse(opts.now) : Date.now()
      if (Number.isNaN(now)) throw new DragnetError('DRAGNET_BAD_REQUEST', `--now is not a timestamp: ${opts.now}`)
      const to = input.to ?? (opts.to != null ? opts.to.split(',').map(s => s.trim()).filter(s => s !== '') : undefined)
      const subject = policySubject({
        id: input.id ?? '(dry run)',
        author: author.peerId,
        seq: 1,
        ts: input.ts ?? now,
        tlp,
        ...(to != null && to.length > 0 ? { to } : {}),
        body: analysis.object
      }, { observables: analysis.observables, scoTypes: analysis.scoTypes })
      const direction = opts.direction ?? (opts.peer != null ? 'outbound' : 'inbound')
      if (direction !== 'inbound' && direction !== 'outbound') throw new DragnetError('DRAGNET_BAD_REQUEST', `--direction must be inbound or outbound, got ${direction}`)
      if (direction === 'outbound' && opts.peer == null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'an outbound test needs --peer PEERID')
      const explanation = p.explain(subject, {
        direction,
        self,
        now,
        author,
        ...(direction === 'outbound'
          ? { peer: member(opts.peer!, roster, opts.peerCountry, opts.peerRole), peerOnRoster: cfg == null || roster.some(m => m.peerId === opts.peer) }
          : { from: opts.from != null ? member(opts.from, roster) : (author.peerId === self.peerId ? 'self' : author) })
      })
      const kept = p.retentionEnds(subject, author, self, now)
      const retention = kept == null ? null : { rule: kept.rule, days: kept.days, until: new Date(kept.until).toISOString(), due: kept.until <= now }
      if (opts.json === true) { process.stdout.write(JSON.stringify({ ...explanation, retention }) + '\n'); return }
      const keptLine = retention == null
        ? 'none: no retention rule matches, the record is kept until purged'
        : `${retention.days} days by ${retention.rule}, until ${retention.until}${retention.due ? ' (due: the node purges it at its next retention run)' : ''}`
      process.stdout.write(`decision: ${explanation.decision.verdict}\nrule:     ${explanation.decision.rule}\nreason:   ${explanation.decision.reason}\nretention: ${keptLine}\n\n${formatExplanation(explanation)}\n`)
    })
}
