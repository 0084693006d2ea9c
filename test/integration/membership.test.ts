import assert from 'node:assert/strict'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir, NodeIdentity, parseDoc, signDoc, docToJson, type MembershipDoc } from '../../src/identity/index.js'
import { createLogger, silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { createRecord } from '../../src/record/index.js'
import { getRecordJson } from '../../src/store/queries.js'
import { startApi } from '../../src/api/server.js'
import { runCli } from '../helpers/cli.js'
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
    // The audit is written in batches (every 250 ms): wait for the batch, not for the record.
    await waitFor(async () => {
      const audit = await auditRules(C)
      return audit.some(e => e.rule === 'roster:member' && e.peer === D.peerId) &&
        audit.some(e => e.rule === 'membership:credential' && e.verdict === 'accept')
    }, 'C audits that D joined and the credential it accepted')
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

  it('rotates a key: the member keeps its name and its earlier records; the old key signs nothing new', async () => {
    const [rA, rB, rC] = ctx.roots
    const bootstrap = [{ peerId: A.peerId, name: 'root-A', country: 'DE', addrs: A.listenAddrs() }]
    let E = await startMember(ctx, 'member-E', { roster: bootstrap })
    await A.offerMembership(docToJson(await credential(E.peerId, 'member-E', 'PL', [rA, rB], { addrs: E.listenAddrs() })))
    await waitFor(() => connected(E, A) && connected(E, B), 'E admitted')
    const indicator = (n: number, ip: string): Record<string, unknown> => ({ type: 'indicator', spec_version: '2.1', id: `indicator--0f9a1c52-6f0e-4d0a-9e55-3a1d1c0e000${n}`, created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z', pattern: `[ipv4-addr:value = '${ip}']`, pattern_type: 'stix', valid_from: '2026-01-01T00:00:00Z' })
    const [r1] = await E.publish([indicator(1, '198.51.100.1')], { tlp: 'green' })
    await waitFor(async () => (await B.store.getInfo(r1.id!)) != null, 'E\'s record at B')
    const oldId = E.peerId
    await E.stop()
    ctx.nodes.delete('member-E')
    const rotated = await runCli(['rotate-key', '--data', join(ctx.dir, 'member-E')])
    assert.equal(rotated.code, 0, rotated.stderr)
    const newId = rotated.stdout.trim().split('\n').pop()!
    assert.notEqual(newId, oldId)
    await C.offerMembership(docToJson(await credential(newId, 'member-E', 'PL', [rB, rC])))
    E = await startMember(ctx, 'member-E', { roster: bootstrap, reuse: true })
    assert.equal(E.peerId, newId)
    await waitFor(() => connected(E, A) && connected(E, B) && [A, B, C].every(n => n.roster.handover(oldId)?.new === newId), 'rotated E admitted and its hand-over everywhere')
    // Authorship kept: the old key's record reads as the member's, marked rotated.
    const shown = B.withAuthor((await getRecordJson(B.store, r1.id!))!)
    assert.equal(shown.author, oldId)
    assert.deepEqual({ name: shown.author_member?.name, country: shown.author_member?.country, status: shown.author_member?.status, successor: shown.author_member?.successor }, { name: 'member-E', country: 'PL', status: 'rotated', successor: newId })
    assert.equal(B.roster.get(oldId), undefined)
    assert.ok(B.peers!.state(oldId) == null, 'the old key is no longer admitted')
    // A record the old key signed before the hand-over, reaching C late: still valid.
    const oldKey = await identityFor('member-E')
    const at = B.roster.handover(oldId)!.at
    const late = createRecord(oldKey, { seq: 7, ts: at - 5_000, tlp: 'green', body: indicator(2, '198.51.100.2') as any })
    const [lateV] = await C.ingest.receive([{ bytes: late.bytes, from: A.peerId, source: 'sync' }])
    assert.equal(lateV.status, 'stored')
    // One signed after it: refused, with the reason in the audit.
    const forged = createRecord(oldKey, { seq: 8, ts: Date.now(), tlp: 'green', body: indicator(3, '198.51.100.3') as any })
    const [forgedV] = await C.ingest.receive([{ bytes: forged.bytes, from: A.peerId, source: 'sync' }])
    assert.equal(forgedV.status === 'rejected' && forgedV.code, 'DRAGNET_REVOKED_AUTHOR')
    await waitFor(async () => (await auditRules(C)).some(e => e.rule === 'roster:rotated-key' && e.record === forged.id), 'C audits the refused old-key record')
    // The member publishes on with its new key.
    const [r2] = await E.publish([indicator(4, '198.51.100.4')], { tlp: 'green' })
    await waitFor(async () => (await B.store.getInfo(r2.id!)) != null, 'new-key record at B')
  })

  it('refuses k-1 signatures, a forged root signature, an expired credential and a revocation by a non-root, each audited', async () => {
    const [rA, rB] = ctx.roots
    const stranger = await identityFor('not-a-root')
    const target = await identityFor('member-X')
    const short = await credential(target.peerId, 'member-X', 'ES', [rA])
    const forged = await credential(target.peerId, 'member-X', 'ES', [rA, rB])
    const bad = Buffer.from(forged.sigs[1].sig, 'base64url')
    bad[5] ^= 0xff
    forged.sigs[1] = { by: forged.sigs[1].by, sig: bad.toString('base64url') }
    const expired = await credential(target.peerId, 'member-X', 'ES', [rA, rB], { from: Date.now() - 10 * 86_400_000, to: Date.now() - 86_400_000 })
    const nonRoot = await revocation(B.peerId, 'hostile takeover', [rA, stranger])
    // Through the node's HTTP API over TCP, as `dragnet member publish` sends them.
    const api = await startApi(A, '127.0.0.1:0', { token: 'membership-test-token-0123456789' })
    try {
      const expect: Array<[MembershipDoc, string]> = [[short, 'membership:too-few-signatures'], [forged, 'membership:bad-signature'], [expired, 'membership:expired'], [nonRoot, 'membership:not-root']]
      for (const [doc, rule] of expect) {
        const res = await fetch(`http://${api.address}/api/membership`, { method: 'POST', headers: { authorization: 'Bearer membership-test-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify(docToJson(doc)) })
        const body = await res.json() as { code: string, message: string }
        assert.equal(res.status, 400, rule)
        assert.equal(body.code, 'DRAGNET_BAD_CREDENTIAL')
        assert.match(body.message, new RegExp(rule))
      }
    } finally {
      await api.close()
    }
    assert.equal(A.roster.get(target.peerId), undefined)
    assert.ok(A.roster.get(B.peerId) != null, 'B stays a member')
    await waitFor(async () => {
      const rules = (await auditRules(A)).filter(e => e.verdict === 'reject').map(e => e.rule)
      return ['membership:too-few-signatures', 'membership:bad-signature', 'membership:expired', 'membership:not-root'].every(r => rules.includes(r))
    }, 'four audit entries naming why')
  })

  it('roster.deny refuses a member the roots admitted, and lifting it admits it again, without a restart', async () => {
    assert.ok(connected(A, C))
    A.reloadRoster([], [C.peerId])
    await waitFor(() => A.roster.get(C.peerId) == null && !connected(A, C), 'A dropped C')
    assert.equal(A.roster.known(C.peerId)?.status, 'denied')
    assert.ok(B.roster.get(C.peerId) != null, 'only A refuses C')
    await waitFor(async () => (await auditRules(A)).some(e => e.rule === 'roster:denied' && e.peer === C.peerId), 'A audits the denial')
    A.reloadRoster([], [])
    await waitFor(() => connected(A, C), 'A and C reconnected')
  })
})
