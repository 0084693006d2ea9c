import assert from 'node:assert/strict'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { loadPolicy } from '../../src/policy/index.js'
import type { Tlp } from '../../src/record/index.js'
import { indicator } from '../../src/sim/stix-factory.js'
import type { AuditEntry } from '../../src/store/index.js'
import { REPO, runCli } from '../helpers/cli.js'
import { startFederation, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * Four real nodes over TCP on 127.0.0.1, every member peering with every other:
 *
 *   EU      DE  bureau       eu-bureau.yaml
 *   US      US  bureau       strict-bureau.yaml
 *   GB      GB  bureau       vendor-intake.yaml
 *   VENDOR  US  contributor  no policy file (accept and send what the TLP floor allows)
 *
 * GB stands outside the EU on purpose. Policy is decided edge by edge: an EU node running
 * vendor-intake.yaml (which has no personal-data rule) would pass the EU bureau's e-mail
 * indicator on to the US, and the records would legitimately end up there.
 */
const NAMES = ['EU', 'US', 'GB', 'VENDOR'] as const
type Name = typeof NAMES[number]

const policyFile = (name: string): string => join(REPO, 'config', 'policies', `${name}.yaml`)

interface Why {
  /** the node whose audit log explains the non-delivery */
  at: Name
  verdict: 'withhold' | 'reject'
  rule: string
}

interface Case {
  key: string
  author: Name
  tlp: Tlp
  to?: Name[]
  body: Record<string, unknown>
  /** every member that ends up holding the record (the author included) */
  holders: Name[]
  /** for every member that does not: who stopped it and by which rule */
  why: Partial<Record<Name, Why>>
}

const ioc = (seed: string, kind: 'domain' | 'ipv4' | 'email' | 'url', value: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  indicator({ kind, value, seed: `policy-test:${seed}`, labels: ['policy-test'], ...extra }) as Record<string, unknown>

/*
 * The expectations, worked out by hand from the four policies' rules (first match wins, after
 * the fixed TLP floor). "→" is one edge; a record that one node withholds can still arrive over
 * another path when every node on that path may pass it on.
 */
const CASES: Case[] = [
  {
    // EU → everyone: eu-bureau has no outbound rule for a plain green indicator (default send);
    // US takes it under accept-bureaus, GB and VENDOR under their accept defaults.
    key: 'eu-green',
    author: 'EU',
    tlp: 'green',
    body: ioc('eu-green', 'domain', 'brokenbones.ru'),
    holders: ['EU', 'US', 'GB', 'VENDOR'],
    why: {}
  },
  {
    // An e-mail address is personal data: eu-bureau's no-personal-data-outside-eu withholds it
    // from every peer outside the `eu` group — US, GB and VENDOR (US) alike — so only EU has it.
    key: 'eu-personal',
    author: 'EU',
    tlp: 'green',
    body: ioc('eu-personal', 'email', 'billing-dept@brokenbones.ru'),
    holders: ['EU'],
    why: {
      US: { at: 'EU', verdict: 'withhold', rule: 'no-personal-data-outside-eu' },
      GB: { at: 'EU', verdict: 'withhold', rule: 'no-personal-data-outside-eu' },
      VENDOR: { at: 'EU', verdict: 'withhold', rule: 'no-personal-data-outside-eu' }
    }
  },
  {
    // Expired on arrival: eu-bureau's no-expired-forwarding withholds it from everyone.
    key: 'eu-expired',
    author: 'EU',
    tlp: 'green',
    body: ioc('eu-expired', 'domain', 'accalamh.aspone.cz', { created: '2026-01-01T00:00:00.000Z', validUntil: '2026-02-01T00:00:00.000Z' }),
    holders: ['EU'],
    why: {
      US: { at: 'EU', verdict: 'withhold', rule: 'no-expired-forwarding' },
      GB: { at: 'EU', verdict: 'withhold', rule: 'no-expired-forwarding' },
      VENDOR: { at: 'EU', verdict: 'withhold', rule: 'no-expired-forwarding' }
    }
  },
  {
    // Amber without a list goes to the author's direct peers (floor), but eu-bureau's
    // contributors-clear-green-only keeps it from VENDOR. US (accept-bureaus) and GB (default
    // accept) take it; neither may relay amber.
    key: 'eu-amber',
    author: 'EU',
    tlp: 'amber',
    body: ioc('eu-amber', 'domain', 'awbrs.com.au'),
    holders: ['EU', 'US', 'GB'],
    why: {
      VENDOR: { at: 'EU', verdict: 'withhold', rule: 'contributors-clear-green-only' }
    }
  },
  {
    // Red never leaves its author (floor).
    key: 'eu-red',
    author: 'EU',
    tlp: 'red',
    body: ioc('eu-red', 'ipv4', '66.210.228.178'),
    holders: ['EU'],
    why: {
      US: { at: 'EU', verdict: 'withhold', rule: 'tlp-floor:red' },
      GB: { at: 'EU', verdict: 'withhold', rule: 'tlp-floor:red' },
      VENDOR: { at: 'EU', verdict: 'withhold', rule: 'tlp-floor:red' }
    }
  },
  {
    // strict-bureau sends to `partners` only (EU: a DE bureau) and withholds from GB and VENDOR
    // by default:outbound. But EU (default send) relays green on to GB and VENDOR, and they
    // accept it, so everyone holds it — GB and VENDOR from someone other than US.
    key: 'us-green',
    author: 'US',
    tlp: 'green',
    body: ioc('us-green', 'domain', 'exbonus.mrbasic.com'),
    holders: ['US', 'EU', 'GB', 'VENDOR'],
    why: {}
  },
  {
    // strict-bureau's clear-indicators-to-roster sends public indicators to everyone.
    key: 'us-clear',
    author: 'US',
    tlp: 'clear',
    body: ioc('us-clear', 'ipv4', '201.137.231.132'),
    holders: ['US', 'EU', 'GB', 'VENDOR'],
    why: {}
  },
  {
    // Amber addressed to EU only: the floor keeps it from GB and VENDOR (amber-recipient at US),
    // and EU may not relay amber (amber-relay) either.
    key: 'us-amber-to-eu',
    author: 'US',
    tlp: 'amber',
    to: ['EU'],
    body: ioc('us-amber', 'domain', 'tradeboard.mefound.com'),
    holders: ['US', 'EU'],
    why: {
      GB: { at: 'US', verdict: 'withhold', rule: 'tlp-floor:amber-recipient' },
      VENDOR: { at: 'US', verdict: 'withhold', rule: 'tlp-floor:amber-recipient' }
    }
  },
  {
    // A plain green record from the vendor-intake bureau: US takes bureau records (accept-bureaus).
    key: 'gb-green',
    author: 'GB',
    tlp: 'green',
    body: ioc('gb-green', 'domain', 'host2.azaronline.com'),
    holders: ['GB', 'EU', 'US', 'VENDOR'],
    why: {}
  },
  {
    // Confidence 85: EU has no confidence rule, US accepts contributor indicators from 70
    // (accept-confident-contributor-intel), GB from 50. Everyone holds it.
    key: 'vendor-high',
    author: 'VENDOR',
    tlp: 'green',
    body: ioc('vendor-high', 'domain', 'excel-office.com', { confidence: 85 }),
    holders: ['VENDOR', 'EU', 'US', 'GB'],
    why: {}
  },
  {
    // Confidence 60: GB's bar is 50 (accepts), US's is 70 (no accept rule matches, so
    // default:inbound rejects), EU has none (accepts). EU relays it to US, which rejects again.
    key: 'vendor-mid',
    author: 'VENDOR',
    tlp: 'green',
    body: ioc('vendor-mid', 'domain', 'dvr.petcp.com', { confidence: 60 }),
    holders: ['VENDOR', 'EU', 'GB'],
    why: {
      US: { at: 'US', verdict: 'reject', rule: 'default:inbound' }
    }
  },
  {
    // Confidence 30: GB rejects (contributor-confidence), US rejects (default:inbound), EU keeps it.
    key: 'vendor-low',
    author: 'VENDOR',
    tlp: 'green',
    body: ioc('vendor-low', 'domain', 'mail.efx.net.nz', { confidence: 30 }),
    holders: ['VENDOR', 'EU'],
    why: {
      US: { at: 'US', verdict: 'reject', rule: 'default:inbound' },
      GB: { at: 'GB', verdict: 'reject', rule: 'contributor-confidence' }
    }
  },
  {
    // 8.8.8.8 is a public resolver (warninglists/public-resolvers.json): every bureau rejects it,
    // each by its own rule, though the confidence (90) clears every bar.
    key: 'vendor-benign',
    author: 'VENDOR',
    tlp: 'green',
    body: ioc('vendor-benign', 'ipv4', '8.8.8.8', { confidence: 90 }),
    holders: ['VENDOR'],
    why: {
      EU: { at: 'EU', verdict: 'reject', rule: 'contributor-benign-values' },
      US: { at: 'US', verdict: 'reject', rule: 'reject-benign-values' },
      GB: { at: 'GB', verdict: 'reject', rule: 'contributor-benign-values' }
    }
  }
]

/** Why some deliveries happened: the accepting node's audit names the rule that let them in. */
const ACCEPTED_BY: Array<{ key: string, at: Name, rule: string }> = [
  { key: 'vendor-high', at: 'US', rule: 'accept-confident-contributor-intel' },
  { key: 'eu-green', at: 'US', rule: 'accept-bureaus' },
  { key: 'vendor-mid', at: 'GB', rule: 'default:inbound' }
]

function parseAudit (out: string): AuditEntry[] {
  const body = JSON.parse(out) as { entries: AuditEntry[] }
  assert.ok(Array.isArray(body.entries), out)
  return body.entries
}

describe('policy: three bureaus with different example policies and a vendor, over TCP', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let fed: Federation | undefined
  let node: DragnetNode | undefined

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => {
    await fed?.stop()
    fed = undefined
    await node?.stop().catch(() => {})
    node = undefined
    await tmp.cleanup()
  })

  it('every record ends up exactly where the policies say, and `dragnet audit` names the rule for every non-delivery', async () => {
    // The table must say, for every member that does not hold a record, why not.
    for (const c of CASES) {
      for (const n of NAMES) assert.equal(c.holders.includes(n), c.why[n] == null, `case ${c.key}: ${n} must be a holder or have a reason`)
    }

    const edges: Array<[number, number]> = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    fed = await startFederation(tmp.dir, [
      { name: 'EU', country: 'DE', role: 'bureau', policy: await loadPolicy(policyFile('eu-bureau')) },
      { name: 'US', country: 'US', role: 'bureau', policy: await loadPolicy(policyFile('strict-bureau')) },
      { name: 'GB', country: 'GB', role: 'bureau', policy: await loadPolicy(policyFile('vendor-intake')) },
      { name: 'VENDOR', country: 'US', role: 'contributor' }
    ], edges)
    const f = fed
    const byName = (n: Name): DragnetNode => f.byName.get(n)!
    await waitConnected(f.nodes, edges)
    // Withholding red and amber is audited by gossip when the record is stored (sync never even
    // names them to a peer outside their audience), so every gossip session must exist first.
    await waitFor(() => f.nodes.every(n => n.gossip!.peerSummary().length === NAMES.length - 1), 'gossip sessions on every edge', 10_000)

    const ids = new Map<string, string>()
    for (const c of CASES) {
      const to = c.to?.map(n => byName(n).peerId)
      const [v] = await byName(c.author).publish([c.body], { tlp: c.tlp, ...(to != null ? { to } : {}) })
      assert.equal(v.status, 'stored', `${c.key}: ${JSON.stringify(v)}`)
      ids.set(c.key, v.id!)
    }
    const idOf = (key: string): string => ids.get(key)!

    const holds = async (n: Name, key: string): Promise<boolean> => await byName(n).store.has(idOf(key))
    await waitFor(async () => {
      for (const c of CASES) for (const n of c.holders) if (!await holds(n, c.key)) return false
      return true
    }, 'every expected delivery', 20_000, 50)
    // Deliveries are done; a full anti-entropy round on every edge must not bring anything more.
    for (const [a, b] of edges) {
      const [x, y] = f.nodes[a].peerId < f.nodes[b].peerId ? [f.nodes[a], f.nodes[b]] : [f.nodes[b], f.nodes[a]]
      // The node may be running a session of its own with that peer (DRAGNET_CONFLICT): try again.
      await waitFor(async () => {
        try {
          return (await x.sync!.syncNow(y.peerId)).ok
        } catch (err: any) {
          if (err.code === 'DRAGNET_CONFLICT') return false
          throw err
        }
      }, `a completed sync session on ${a}—${b}`, 15_000, 100)
    }
    await new Promise(resolve => setTimeout(resolve, 300))
    for (const c of CASES) {
      for (const n of NAMES) assert.equal(await holds(n, c.key), c.holders.includes(n), `${c.key} on ${n}`)
    }
    // us-green reached GB and VENDOR only through a relay: US itself withheld it from them.
    for (const n of ['GB', 'VENDOR'] as const) {
      const info = await byName(n).store.getInfo(idOf('us-green'))
      assert.notEqual(info?.from, byName('US').peerId, `${n} got us-green from someone other than US`)
    }
    const peerIds = new Map(NAMES.map(n => [n, byName(n).peerId]))

    // The audit is persisted; stop the nodes so the CLI can open the stores (LevelDB lock).
    await f.stop()
    fed = undefined
    const dataOf = (n: Name): string => join(tmp.dir, n)

    // The whole log of every node that withheld or rejected something, in one CLI run each.
    const auditNodes = [...new Set(CASES.flatMap(c => Object.values(c.why).map(w => w.at)))]
    const logs = new Map<Name, AuditEntry[]>()
    await Promise.all(auditNodes.map(async (n) => {
      const r = await runCli(['audit', '--data', dataOf(n), '--limit', '10000', '--json'])
      assert.equal(r.code, 0, r.stderr)
      logs.set(n, parseAudit(r.stdout))
    }))

    for (const c of CASES) {
      for (const [n, w] of Object.entries(c.why) as Array<[Name, Why]>) {
        const entries = logs.get(w.at)!.filter(e => e.record === idOf(c.key) && e.verdict === w.verdict)
        // A withholding names the peer it kept the record from; a rejection names whoever handed it over.
        const match = entries.filter(e => w.verdict === 'reject' || e.peer === peerIds.get(n))
        assert.ok(match.some(e => e.rule === w.rule && e.reason !== ''),
          `${c.key} not on ${n}: expected ${w.at}'s audit to ${w.verdict} with ${w.rule}; got ${JSON.stringify(entries.map(e => [e.verdict, e.rule, e.peer]))}`)
        // and a node that rejected a record never took it in on another delivery
        if (w.verdict === 'reject') assert.ok(!logs.get(w.at)!.some(e => e.record === idOf(c.key) && e.verdict === 'accept'), `${c.key}: ${w.at} rejected it but also accepted it`)
      }
    }
    for (const a of ACCEPTED_BY) {
      const log = logs.get(a.at)
      assert.ok(log != null, `${a.at}'s audit was read`)
      assert.ok(log.some(e => e.record === idOf(a.key) && e.verdict === 'accept' && e.rule === a.rule), `${a.key} accepted by ${a.at} under ${a.rule}`)
    }
    // us-green: US withheld it from GB by its default, though GB got it through EU.
    assert.ok(logs.get('US')!.some(e => e.record === idOf('us-green') && e.peer === peerIds.get('GB') && e.verdict === 'withhold' && e.rule === 'default:outbound'))
    // us-amber-to-eu: EU, not its author, refused to relay it.
    assert.ok(logs.get('EU')!.some(e => e.record === idOf('us-amber-to-eu') && e.peer === peerIds.get('GB') && e.rule === 'tlp-floor:amber-relay'))

    // The operator's two questions, asked the way an operator asks them.
    const [whyNot, whyRejected] = await Promise.all([
      // "why did US not get eu-personal?"
      runCli(['audit', '--data', dataOf('EU'), '--record', idOf('eu-personal'), '--peer', peerIds.get('US')!, '--json']),
      // "why was vendor-low rejected?"
      runCli(['audit', '--data', dataOf('GB'), '--record', idOf('vendor-low'), '--json'])
    ])
    assert.equal(whyNot.code, 0, whyNot.stderr)
    const notEntries = parseAudit(whyNot.stdout)
    assert.ok(notEntries.length > 0 && notEntries.every(e => e.record === idOf('eu-personal') && e.peer === peerIds.get('US')), whyNot.stdout)
    assert.deepEqual([...new Set(notEntries.map(e => `${e.verdict} ${e.rule}`))], ['withhold no-personal-data-outside-eu'])
    assert.equal(whyRejected.code, 0, whyRejected.stderr)
    const rejEntries = parseAudit(whyRejected.stdout)
    assert.ok(rejEntries.length > 0 && rejEntries.every(e => e.record === idOf('vendor-low')), whyRejected.stdout)
    assert.deepEqual([...new Set(rejEntries.map(e => `${e.verdict} ${e.rule}`))], ['reject contributor-confidence'])
    assert.match(rejEntries[0].reason, /confidence of 50 or more/)
  })

  it('a policy reload that does not load is refused and the old policy stays in force; a good one replaces it', async () => {
    const file = join(tmp.dir, 'policy.yaml')
    await copyFile(policyFile('observer'), file)
    const dataDir = join(tmp.dir, 'node')
    await initDataDir(dataDir, { name: 'OBS', country: 'CH', role: 'observer', force: true })
    const config = await loadConfig({ overrides: { name: 'OBS', country: 'CH', role: 'observer', policy: file, ingest: { verifyWorkers: 0 } } })
    node = await DragnetNode.open({ dataDir, config, log: silentLogger(), network: false })
    await node.start()
    const before = node.policy
    assert.equal(before.name, 'observer')

    // Broken YAML: refused with the line, and the running policy is the very same object.
    await writeFile(file, 'name: observer\nrules:\n  - id: x\n    direction: [inbound\n')
    await assert.rejects(node.reloadPolicy(), (err: any) => err.code === 'DRAGNET_BAD_POLICY' && /line \d+/.test(err.message))
    assert.equal(node.policy, before)

    // Valid YAML, invalid policy: the error points at the rule and the field.
    await writeFile(file, [
      'name: observer-v2',
      'defaults: { inbound: accept, outbound: withhold }',
      'rules:',
      '  - id: drop-everything',
      '    direction: inbound',
      '    match: { tlp: [green] }',
      '    action: drop',
      '    reason: not an action'
    ].join('\n') + '\n')
    await assert.rejects(node.reloadPolicy(), (err: any) => err.code === 'DRAGNET_BAD_POLICY' && err.message.includes('rules[0] (id "drop-everything").action'))
    assert.equal(node.policy, before)

    // So is an empty file (no policy at all).
    await writeFile(file, '')
    await assert.rejects(node.reloadPolicy(), (err: any) => err.code === 'DRAGNET_BAD_POLICY')
    assert.equal(node.policy, before)

    // A good file replaces the policy without a restart.
    // observer.yaml with its commented-out relay rule switched on
    const text = (await readFile(policyFile('observer'), 'utf8')).replace('name: observer', 'name: observer-relaying').replace(/^ {2}# /gm, '  ')
    await writeFile(file, text)
    const next = await node.reloadPolicy()
    assert.equal(node.policy, next)
    assert.equal(next.name, 'observer-relaying')
    assert.deepEqual(next.rules.map(r => r.id), ['expired-indicators', 'relay-clear-to-bureaus'])
  })
})
