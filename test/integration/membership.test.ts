import assert from 'node:assert/strict'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir, NodeIdentity, parseDoc, signDoc, docToJson, type MembershipDoc } from '../../src/identity/index.js'
import { createLogger, silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'
import { identityFor, seedFor, waitFor } from '../helpers/federation.js'

/*
 * Membership over TCP: three founding bureaus are the federation's roots (k = 2); a fourth
 * member is admitted by credential while everyone runs, revoked, and a key is rotated.
 */

const SYNC_MS = 3000
const ROOTS = ['root-A', 'root-B', 'root-C']

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

async function credential (peerId: string, name: string, country: string, signers: NodeIdentity[], opts: { addrs?: string[], from?: number, to?: number } = {}): Promise<MembershipDoc> {
  let doc = parseDoc({ dragnet: 'membership/v1', kind: 'credential', body: { peerId, name, country, role: 'bureau', addrs: opts.addrs ?? [], notBefore: iso(opts.from ?? Date.now() - 60_000), notAfter: iso(opts.to ?? Date.now() + 86_400_000) }, sigs: [] })
  for (const s of signers) doc = signDoc(doc, s)
  return doc
}

async function revocation (peerId: string, reason: string, signers: NodeIdentity[]): Promise<MembershipDoc> {
  let doc = parseDoc({ dragnet: 'membership/v1', kind: 'revocation', body: { peerId, reason, at: iso(Date.now()) }, sigs: [] })
  for (const s of signers) doc = signDoc(doc, s)
  return doc
}

interface Ctx {
  dir: string
  roots: NodeIdentity[]
  nodes: Map<string, DragnetNode>
}

async function startMember (ctx: Ctx, name: string, opts: { roster?: unknown[], deny?: string[], reuse?: boolean } = {}): Promise<DragnetNode> {
  const dataDir = join(ctx.dir, name)
  if (opts.reuse !== true) await initDataDir(dataDir, { name, country: 'DE', role: 'bureau', seed: seedFor(name), force: true })
  const config = await loadConfig({
    overrides: {
      name,
      country: 'DE',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      roster: { members: opts.roster ?? [], deny: opts.deny ?? [] },
      federation: { roots: ctx.roots.map(r => r.peerId), threshold: 2 },
      ingest: { verifyWorkers: 0 },
      sync: { intervalMs: SYNC_MS },
      limits: { redialMinMs: 100, redialMaxMs: 500, penaltyCooldownMs: 60_000 },
      gossip: { treeRepairMs: 150, lazyFlushMs: 10 }
    }
  })
  const node = await DragnetNode.open({ dataDir, config, log: process.env.DRAGNET_LOG_LEVEL != null ? createLogger({ name }) : silentLogger(), network: true })
  await node.start()
  ctx.nodes.set(name, node)
  return node
}

function connected (a: DragnetNode, b: DragnetNode): boolean {
  return a.peers?.state(b.peerId)?.connected === true && b.peers?.state(a.peerId)?.connected === true
}

async function auditRules (node: DragnetNode): Promise<Array<{ rule: string, reason: string, verdict: string, peer?: string, record?: string }>> {
  return await node.store.auditEntries({ limit: 1000 })
}

describe('membership over TCP (credentials, live admission, revocation, rotation)', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  const ctx: Ctx = { dir: '', roots: [], nodes: new Map() }
  let A: DragnetNode, B: DragnetNode, C: DragnetNode

  before(async () => {
    tmp = await tempDir()
    ctx.dir = tmp.dir
    ctx.roots = await Promise.all(ROOTS.map(identityFor))
    A = await startMember(ctx, 'root-A')
    B = await startMember(ctx, 'root-B')
    C = await startMember(ctx, 'root-C')
    // Founding: every founder holds the three founding credentials (two root signatures each).
    const [rA, rB, rC] = ctx.roots
    const creds = [
      await credential(rA.peerId, 'root-A', 'DE', [rA, rB], { addrs: A.listenAddrs() }),
      await credential(rB.peerId, 'root-B', 'FR', [rB, rC], { addrs: B.listenAddrs() }),
      await credential(rC.peerId, 'root-C', 'NL', [rC, rA], { addrs: C.listenAddrs() })
    ]
    for (const n of [A, B, C]) for (const c of creds) assert.notEqual((await n.offerMembership(docToJson(c))).status, 'refused')
    await waitFor(() => connected(A, B) && connected(B, C) && connected(A, C), 'founders connected by their credentials')
  })

  after(async () => {
    for (const n of ctx.nodes.values()) await n.stop().catch(() => {})
    await tmp.cleanup()
  })

  it('admits a fourth member with no restart: dialled, synced, its records accepted', async () => {
    const [rA, rB] = ctx.roots
    // D knows one founder (a local entry) and the roots; nobody knows D yet.
    const D = await startMember(ctx, 'member-D', { roster: [{ peerId: A.peerId, name: 'root-A', country: 'DE', addrs: A.listenAddrs() }] })
    assert.equal(A.roster.get(D.peerId), undefined)
    const cred = await credential(D.peerId, 'member-D', 'IT', [rA, rB], { addrs: D.listenAddrs() })
    const v = await B.offerMembership(docToJson(cred))
    assert.equal(v.status, 'stored')
    await waitFor(() => connected(D, A) && connected(D, B) && connected(D, C), 'D connected to every founder', 30_000)
    assert.equal(C.roster.get(D.peerId)?.name, 'member-D')
    assert.equal(C.roster.get(D.peerId)?.country, 'IT')
    const [stored] = await D.publish([{ type: 'indicator', spec_version: '2.1', id: 'indicator--0f9a1c52-6f0e-4d0a-9e55-3a1d1c0d0001', created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z', pattern: "[ipv4-addr:value = '203.0.113.44']", pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z' }], { tlp: 'green' })
    assert.equal(stored.status, 'stored')
    await waitFor(async () => (await C.store.getInfo(stored.id!)) != null, 'D\'s record reached C')
    const audit = await auditRules(C)
    assert.ok(audit.some(e => e.rule === 'roster:member' && e.peer === D.peerId), 'C audits that D joined')
    assert.ok(audit.some(e => e.rule === 'membership:credential' && e.verdict === 'accept'))
  })

  it('revokes it: every node drops it within one sync interval, refuses its new records and marks its earlier ones', async () => {
    const D = ctx.nodes.get('member-D')!
    const [, rB, rC] = ctx.roots
    const earlier = (await A.store.auditEntries({ limit: 1000 })).length
    const before = await D.publish([{ type: 'indicator', spec_version: '2.1', id: 'indicator--0f9a1c52-6f0e-4d0a-9e55-3a1d1c0d0002', created: '2026-01-02T00:00:00.000Z', modified: '2026-01-02T00:00:00.000Z', pattern: "[domain-name:value = 'before.example']", pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z' }], { tlp: 'green' })
    await waitFor(async () => (await A.store.getInfo(before[0].id!)) != null && (await C.store.getInfo(before[0].id!)) != null, 'pre-revocation record everywhere')
    const t0 = Date.now()
    await C.offerMembership(docToJson(await revocation(D.peerId, 'key compromised', [rB, rC])))
    // The deadline counts from the publication: one sync interval in all.
    await waitFor(() => [A, B, C].every(n => n.roster.get(D.peerId) == null && n.peers!.state(D.peerId)?.connected !== true), 'every node dropped D', SYNC_MS - (Date.now() - t0)).catch((err) => {
      console.log([A, B, C].map(n => [n.roster.self.name, n.roster.get(D.peerId)?.name, n.peers!.state(D.peerId)?.connected, n.membership.ids().length]))
      throw err
    })
    // Its connection attempts are refused from now on.
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.ok(![A, B, C].some(n => n.peers!.connectedPeers().includes(D.peerId)))
    // A record D signs now reaches no one; relayed by hand it is refused with the reason.
    const after = await D.publish([{ type: 'indicator', spec_version: '2.1', id: 'indicator--0f9a1c52-6f0e-4d0a-9e55-3a1d1c0d0003', created: '2026-01-03T00:00:00.000Z', modified: '2026-01-03T00:00:00.000Z', pattern: "[domain-name:value = 'after.example']", pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z' }], { tlp: 'green' })
    assert.equal(after[0].status, 'stored')
    const bytes = (await D.store.getRecord(after[0].id!))!.record.bytes
    const [refused] = await A.ingest.receive([{ bytes, from: B.peerId, source: 'gossip' }])
    assert.equal(refused.status, 'rejected')
    assert.equal(refused.status === 'rejected' && refused.code, 'DRAGNET_REVOKED_AUTHOR')
    assert.equal(await A.store.getInfo(after[0].id!), undefined)
    // The earlier record stays, its author marked as revoked.
    assert.ok(await A.store.getInfo(before[0].id!) != null)
    assert.equal(A.roster.known(D.peerId)?.status, 'revoked')
    await waitFor(async () => (await A.store.auditEntries({ limit: 1000 })).length > earlier, 'audit flushed')
    await waitFor(async () => {
      const audit = await auditRules(A)
      return audit.some(e => e.rule === 'roster:revoked' && e.peer === D.peerId && e.reason.includes('key compromised')) &&
        audit.some(e => e.rule === 'roster:revoked-author' && e.record === after[0].id && e.reason.includes('key compromised'))
    }, 'A audits the revocation and the refused record with the reason')
  })
})
