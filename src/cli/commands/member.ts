import { join } from 'node:path'
import type { Command } from 'commander'
import { DragnetError } from '../../errors.js'
import {
  docToJson, KEY_FILE, loadIdentity, NodeIdentity, parseDoc, readDocFile, readRuntime, ROLES, rotateKey,
  signDoc, verifyDoc, type KnownMember, type MembershipDoc, type OfferVerdict
} from '../../identity/index.js'
import { writePrivateFile } from '../../util/private-file.js'
import { configFor, dataDirOf, printJson, runningNode, withOfflineNode } from '../context.js'

const DAY_MS = 86_400_000

function iso (ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

async function writeDoc (file: string, doc: MembershipDoc): Promise<void> {
  await writePrivateFile(file, JSON.stringify(docToJson(doc), null, 2) + '\n')
}

/** How far a document is from what the federation configured on this data dir needs. */
async function progress (dataDir: string, doc: MembershipDoc): Promise<string> {
  const fed = (await configFor(dataDir)).federation
  if (fed.roots.length === 0) return `${doc.sigs.length} signature(s); no federation.roots configured on ${dataDir} to check them against`
  const refusal = verifyDoc(doc, fed)
  return refusal == null ? `complete: ${doc.sigs.length} signature(s), the federation needs ${fed.threshold}; publish it with dragnet member publish` : `not complete yet: ${refusal.reason}`
}

/** The signer of credentials and revocations must be a root, when this dir knows the roots. */
async function rootIdentity (dataDir: string): Promise<NodeIdentity> {
  const id = await loadIdentity(dataDir)
  const fed = (await configFor(dataDir)).federation
  if (fed.roots.length > 0 && !fed.roots.includes(id.peerId)) {
    throw new DragnetError('DRAGNET_BAD_CREDENTIAL', `${id.peerId} (the key in ${dataDir}) is not one of the federation.roots configured there: its signature would not count`)
  }
  return id
}

function printOffer (file: string, v: OfferVerdict): void {
  if (v.status === 'refused') throw new DragnetError('DRAGNET_BAD_CREDENTIAL', `${file}: refused by ${v.refusal.rule}: ${v.refusal.reason}`)
  process.stdout.write(`${file}: ${v.status === 'duplicate' ? 'already held' : 'accepted'} (${v.doc.kind} ${v.id}); it spreads to every member this node reaches\n`)
}

function printMembers (rows: Array<KnownMember & { connected: boolean }>): void {
  const lines = rows.map(m => `${m.connected ? '*' : ' '} ${m.peerId}  ${m.name || '(unnamed)'} (${m.country}, ${m.role})  ${m.status.toUpperCase()}  from ${m.source}` +
    (m.notAfter != null ? `  valid ${m.notBefore ?? '?'} to ${m.notAfter}` : '') + (m.reason != null ? `\n      ${m.reason}` : ''))
  process.stdout.write(`${rows.filter(r => r.status === 'member').length} members in force of ${rows.length} known (* connected)\n${lines.join('\n')}\n`)
}

function registerDrafts (member: Command): void {
  member.command('issue')
    .description('draft a member credential and sign it with this root\'s key')
    .option('--data <dir>', 'the root\'s data directory')
    .requiredOption('--peer <peerId>', 'the member\'s PeerId')
    .requiredOption('--name <name>', 'the member\'s name')
    .requiredOption('--country <cc>', 'ISO 3166 alpha-2 country code')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option('--days <n>', 'validity in days from now', '365')
    .option('--addr <multiaddr...>', 'addresses members dial it at')
    .requiredOption('--out <file>', 'where to write the credential')
    .action(async (opts: { data?: string, peer: string, name: string, country: string, role: string, days: string, addr?: string[], out: string }) => {
      const dataDir = dataDirOf(opts)
      const days = Number(opts.days)
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new DragnetError('DRAGNET_BAD_REQUEST', `--days must be a whole number from 1 to 3650, got ${opts.days}`)
      const now = Date.now()
      const draft = { kind: 'credential', body: { peerId: opts.peer, name: opts.name, country: opts.country.toUpperCase(), role: opts.role, addrs: opts.addr ?? [], notBefore: iso(now), notAfter: iso(now + days * DAY_MS) }, sigs: [] }
      const doc = signDoc(parseDoc({ dragnet: 'membership/v1', ...draft }), await rootIdentity(dataDir))
      await writeDoc(opts.out, doc)
      process.stdout.write(`wrote ${opts.out}: credential for ${opts.name} ${opts.peer}\n${await progress(dataDir, doc)}\n`)
    })

  member.command('revoke')
    .description('draft a revocation of a member and sign it with this root\'s key')
    .option('--data <dir>', 'the root\'s data directory')
    .requiredOption('--peer <peerId>', 'the member to revoke')
    .requiredOption('--reason <text>', 'why (shown in every node\'s audit log)')
    .requiredOption('--out <file>', 'where to write the revocation')
    .action(async (opts: { data?: string, peer: string, reason: string, out: string }) => {
      const dataDir = dataDirOf(opts)
      const doc = signDoc(parseDoc({ dragnet: 'membership/v1', kind: 'revocation', body: { peerId: opts.peer, reason: opts.reason, at: iso(Date.now()) }, sigs: [] }), await rootIdentity(dataDir))
      await writeDoc(opts.out, doc)
      process.stdout.write(`wrote ${opts.out}: revocation of ${opts.peer}\n${await progress(dataDir, doc)}\n`)
    })

  member.command('sign')
    .description('add this root\'s signature to a credential or revocation (the file is rewritten)')
    .option('--data <dir>', 'the root\'s data directory')
    .argument('<file>', 'a credential or revocation')
    .action(async (file: string, opts: { data?: string }) => {
      const dataDir = dataDirOf(opts)
      const doc = await readDocFile(file)
      if (doc.kind === 'handover') throw new DragnetError('DRAGNET_BAD_CREDENTIAL', `${file} is a hand-over: only the old key signs it (dragnet rotate-key)`)
      const signed = signDoc(doc, await rootIdentity(dataDir))
      await writeDoc(file, signed)
      process.stdout.write(`signed ${file}\n${await progress(dataDir, signed)}\n`)
    })
}

export function registerMember (program: Command): void {
  const member = program.command('member').description('federation membership: credentials and revocations signed by the roots')
  registerDrafts(member)

  member.command('publish')
    .description('hand fully signed credentials, revocations or hand-overs to the federation (through the running node, or stored for its next start)')
    .option('--data <dir>', 'data directory')
    .argument('<files...>', 'membership documents')
    .action(async (files: string[], opts: { data?: string }) => {
      const dataDir = dataDirOf(opts)
      const docs = await Promise.all(files.map(async f => ({ file: f, doc: docToJson(await readDocFile(f)) })))
      const remote = await runningNode(dataDir)
      if (remote != null) {
        for (const d of docs) printOffer(d.file, await remote.call<OfferVerdict>('POST', '/api/membership', d.doc, true))
        return
      }
      await withOfflineNode(dataDir, {}, async (node) => {
        for (const d of docs) printOffer(d.file, await node.offerMembership(d.doc))
      })
    })

  member.command('list')
    .description('every member this node knows: credential or local entry, validity, revoked, connected')
    .option('--data <dir>', 'data directory')
    .option('--json', 'a JSON array')
    .action(async (opts: { data?: string, json?: boolean }) => {
      const dataDir = dataDirOf(opts)
      const remote = await runningNode(dataDir)
      const rows = remote != null
        ? (await remote.call<{ members: Array<KnownMember & { connected: boolean }> }>('GET', '/api/members')).members
        : await withOfflineNode(dataDir, {}, async (node) => node.members())
      if (opts.json === true) printJson(rows)
      else printMembers(rows)
    })
}

/**
 * `rotate-key`: a new node key; the old one signs a hand-over naming the new PeerId. The
 * hand-over is kept with the node's membership documents (it spreads once the node runs again)
 * and the old key is deleted: from the hand-over on, records it signs are refused everywhere.
 */
export function registerRotateKey (program: Command): void {
  program.command('rotate-key')
    .description('replace this node\'s key; the old key signs a hand-over to the new PeerId (stop the node first; the roots then issue a credential for the new PeerId)')
    .option('--data <dir>', 'data directory')
    .option('--out <file>', 'also write the hand-over here')
    .action(async (opts: { data?: string, out?: string }) => {
      const dataDir = dataDirOf(opts)
      if (await readRuntime(dataDir) != null) throw new DragnetError('DRAGNET_CONFLICT', `a node runs on ${dataDir}: stop it before rotating its key`)
      const { old, next, handover, file } = await rotateKey(dataDir)
      if (opts.out != null) await writeDoc(opts.out, handover)
      process.stdout.write(`rotated ${join(dataDir, KEY_FILE)}\n  old ${old.peerId} (deleted; signed the hand-over)\n  new ${next.peerId}\n  hand-over ${file}${opts.out != null ? ` and ${opts.out}` : ''}\n` +
        `next: the roots issue a credential for the new PeerId (dragnet member issue --peer ${next.peerId} ...), sign and publish it; then start this node\n${next.peerId}\n`)
    })
}
