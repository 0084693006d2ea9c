import assert from 'node:assert/strict'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir } from '../../src/identity/index.js'
import type { Stored } from '../../src/ingest/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { createRecord } from '../../src/record/index.js'
import { malware, indicator } from '../../src/sim/stix-factory.js'
import { identityFor, seedFor, startFederation, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { RawPeer } from '../helpers/raw-peer.js'
import { tempDir } from '../helpers/tmp.js'

async function publishOne (node: DragnetNode, obj: Record<string, any>, tlp: 'clear' | 'green' | 'amber' | 'amber+strict' | 'red' = 'green', to?: string[]): Promise<Stored> {
  const [v] = await node.publish([obj as any], { tlp, ...(to != null ? { to } : {}) })
  assert.equal(v.status, 'stored', JSON.stringify(v))
  return v as Stored
}

async function has (node: DragnetNode, id: string): Promise<boolean> {
  return await node.store.has(id)
}

describe('network: gossip over TCP', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let fed: Federation | undefined
  const extras: Array<{ stop: () => Promise<void> }> = []

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => {
    for (const e of extras.splice(0)) await e.stop().catch(() => {})
    await fed?.stop()
    fed = undefined
    await tmp.cleanup()
  })

  it('a record published on A reaches C across the line A—B—C', async () => {
    const edges: Array<[number, number]> = [[0, 1], [1, 2]]
    fed = await startFederation(tmp.dir, [{ name: 'A' }, { name: 'B' }, { name: 'C' }], edges)
    await waitConnected(fed.nodes, edges)
    const v = await publishOne(fed.nodes[0], indicator({ kind: 'domain', value: 'c2.line.example' }))
    await waitFor(async () => await has(fed!.nodes[2], v.id), 'C holds the record')
    const onC = await fed.nodes[2].store.getInfo(v.id)
    assert.equal(onC?.from, fed.nodes[1].peerId, 'C got it from B')
    assert.equal(onC?.source, 'gossip')
  })

  it('a record reaches every node of a 6-node ring, wherever it is published', async () => {
    const edges: Array<[number, number]> = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]]
    fed = await startFederation(tmp.dir, ['R0', 'R1', 'R2', 'R3', 'R4', 'R5'].map(name => ({ name })), edges)
    await waitConnected(fed.nodes, edges)
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push((await publishOne(fed.nodes[i], malware(`ring-${i}`))).id)
    await waitFor(async () => {
      for (const n of fed!.nodes) for (const id of ids) if (!await has(n, id)) return false
      return true
    }, 'every ring node holds all 6 records')
    for (const n of fed.nodes) assert.equal(n.store.counts().records, 6)
  })

  it('refuses a non-roster peer in both directions; it never receives a record', async () => {
    const edges: Array<[number, number]> = [[0, 1]]
    fed = await startFederation(tmp.dir, [{ name: 'A' }, { name: 'B' }], edges)
    await waitConnected(fed.nodes, edges)
    const A = fed.nodes[0]
    const outsiderId = await identityFor('outsider')
    const outsider = await RawPeer.start(outsiderId)
    extras.push(outsider)
    // Inbound: the outsider dials A. Over TCP the dial may "succeed" until A's gater closes it.
    await outsider.dial(A.listenAddrs()).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(A.libp2p!.getConnections().filter(c => c.remotePeer.toString() === outsiderId.peerId).length, 0, 'A keeps no connection to the outsider')
    await assert.rejects(outsider.sendRecords(A.listenAddrs(), []), 'no protocol stream to A')
    // Outbound: A dialling the outsider is refused before any traffic.
    await assert.rejects(A.libp2p!.dial(multiaddr(`${outsider.addrs()[0]}`), { signal: AbortSignal.timeout(5000) }))
    await assert.rejects(A.libp2p!.dial(outsider.libp2p.peerId, { signal: AbortSignal.timeout(5000) }), /gater|denied|blocked/i)
    const v = await publishOne(A, malware('not-for-outsiders'))
    await waitFor(async () => await has(fed!.nodes[1], v.id), 'B has it')
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(outsider.frames.length, 0)
    assert.equal(outsider.sawBytes(v.record.sig), false)
  })

  it('a forged record from a roster peer is stored nowhere and the sender is cut off', async () => {
    const mallory = await identityFor('mallory')
    const edges: Array<[number, number]> = [[0, 1]]
    fed = await startFederation(tmp.dir, [{ name: 'A' }, { name: 'B' }], edges, { extraRoster: [{ peerId: mallory.peerId, name: 'mallory' }] })
    await waitConnected(fed.nodes, edges)
    const B = fed.nodes[1]
    const m = await RawPeer.start(mallory)
    extras.push(m)
    const genuine = createRecord(mallory, { seq: 1, ts: Date.now(), tlp: 'green', body: malware('forged') as any })
    const forged = genuine.bytes.slice()
    forged[forged.length - 10] ^= 1
    await m.sendRecords(B.listenAddrs(), [forged])
    await waitFor(() => (B.peers!.state(mallory.peerId)?.penalties ?? 0) > 0, 'B penalised mallory')
    const st = B.peers!.state(mallory.peerId)!
    assert.match(st.lastPenalty!.reason, /DRAGNET_BAD_SIGNATURE|signature/)
    await waitFor(() => B.libp2p!.getConnections().every(c => c.remotePeer.toString() !== mallory.peerId), 'mallory disconnected')
    for (const n of fed.nodes) assert.equal(n.store.counts().records, 0)
    // While the cool-down lasts even a valid record cannot get in: the gater refuses mallory.
    await m.sendRecords(B.listenAddrs(), [genuine.bytes]).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(await has(B, genuine.id), false)
    await waitFor(async () => (await B.store.auditEntries({ peer: mallory.peerId })).some(e => e.code === 'DRAGNET_BAD_SIGNATURE'), 'B audits the bad signature', 15_000, 50)
  })

  it('a red record never leaves its author (a spy that keeps everything sees nothing); amber reaches exactly its recipients', async () => {
    const spyId = await identityFor('spy')
    // A at the centre: B, C, D are its direct peers; E hangs off B.
    const edges: Array<[number, number]> = [[0, 1], [0, 2], [0, 3], [1, 4]]
    fed = await startFederation(tmp.dir, ['A', 'B', 'C', 'D', 'E'].map(name => ({ name })), edges, { extraRoster: [{ peerId: spyId.peerId, name: 'spy' }] })
    await waitConnected(fed.nodes, edges)
    const [A, B, C, D, E] = fed.nodes
    const spy = await RawPeer.start(spyId)
    extras.push(spy)
    await spy.dial(A.listenAddrs())
    await waitFor(() => A.peers!.state(spyId.peerId)?.connected === true, 'A connected to the spy')
    await new Promise(resolve => setTimeout(resolve, 300))

    const red = await publishOne(A, indicator({ kind: 'ipv4', value: '203.0.113.66', seed: 'red' }), 'red')
    const amber = await publishOne(A, indicator({ kind: 'ipv4', value: '203.0.113.67', seed: 'amber' }), 'amber', [B.peerId, C.peerId])
    const green = await publishOne(A, indicator({ kind: 'ipv4', value: '203.0.113.68', seed: 'green' }), 'green')
    await waitFor(async () => await has(E, green.id) && await has(D, green.id) && spy.sawBytes(green.record.sig), 'green everywhere, spy included')
    await waitFor(async () => await has(B, amber.id) && await has(C, amber.id), 'amber at its recipients')
    await new Promise(resolve => setTimeout(resolve, 500))

    for (const n of [B, C, D, E]) assert.equal(await has(n, red.id), false, `${n.roster.self.name} must not hold the red record`)
    assert.equal(spy.sawBytes(red.record.sig), false, 'the spy never saw the red record')
    assert.equal(spy.sawBytes(Buffer.from(red.id.slice(4), 'hex')), false, 'nor its id')
    assert.equal(await has(D, amber.id), false, 'D is not a recipient')
    assert.equal(await has(E, amber.id), false, 'B never relays amber')
    assert.equal(spy.sawBytes(amber.record.sig), false, 'the spy is not a recipient')
    // Outbound decisions reach the audit in batches.
    await waitFor(async () => (await A.store.auditEntries({ record: amber.id })).some(e => e.verdict === 'withhold' && e.peer === D.peerId && e.rule.startsWith('tlp-floor:')), 'the withholding from D is audited with its rule', 15_000, 50)
  })

  it('a restarted node keeps its identity and records, rejoins, and receives new records', async () => {
    const edges: Array<[number, number]> = [[0, 1], [1, 2], [2, 0]]
    fed = await startFederation(tmp.dir, [{ name: 'A' }, { name: 'B' }, { name: 'C' }], edges)
    await waitConnected(fed.nodes, edges)
    const [A, B] = fed.nodes
    const first = await publishOne(A, malware('before-restart'))
    await waitFor(async () => await has(B, first.id), 'B has the first record')
    const peerId = B.peerId
    const config = B.config
    await B.stop()
    const during = await publishOne(A, malware('while-B-is-down'))
    await waitFor(async () => await has(fed!.nodes[2], during.id), 'C still gets records while B is down')
    const B2 = await DragnetNode.open({ dataDir: join(tmp.dir, 'B'), config, log: silentLogger() })
    await B2.start()
    fed.nodes[1] = B2
    assert.equal(B2.peerId, peerId)
    assert.equal(await has(B2, first.id), true)
    B2.peers!.learnAddrs(A.peerId, A.listenAddrs())
    await waitFor(() => B2.peers!.state(A.peerId)?.connected === true, 'B rejoined A')
    await new Promise(resolve => setTimeout(resolve, 300))
    const after = await publishOne(A, malware('after-restart'))
    await waitFor(async () => await has(B2, after.id), 'B receives new records after rejoining')
  })

  it('with a pre-shared key, members with the key connect and share; a member with another key cannot', async () => {
    const { generateKey } = await import('@libp2p/pnet')
    const { writeFile } = await import('node:fs/promises')
    const mk = async (name: string): Promise<string> => {
      const k = new Uint8Array(95)
      generateKey(k)
      const f = join(tmp.dir, name)
      await writeFile(f, k)
      return f
    }
    const shared = await mk('federation.psk')
    const other = await mk('other.psk')
    const edges: Array<[number, number]> = [[0, 1], [0, 2]]
    fed = await startFederation(tmp.dir, [{ name: 'A', config: { psk: shared } }, { name: 'B', config: { psk: shared } }, { name: 'C', config: { psk: other } }], edges)
    await waitFor(() => fed!.nodes[0].peers!.state(fed!.nodes[1].peerId)?.connected === true, 'A and B connect')
    const v = await publishOne(fed.nodes[0], malware('private-network'))
    await waitFor(async () => await has(fed!.nodes[1], v.id), 'B has it')
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.notEqual(fed.nodes[0].peers!.state(fed.nodes[2].peerId)?.connected, true, 'a member with another key never connects')
    assert.equal(await has(fed.nodes[2], v.id), false)
  })

  it('init, start and a roster read from a file give the same federation (config keys listen/api/roster/policy)', async () => {
    const a = await identityFor('cfgA')
    const b = await identityFor('cfgB')
    await initDataDir(join(tmp.dir, 'cfgA'), { name: 'cfgA', seed: seedFor('cfgA') })
    const cfg = await loadConfig({ overrides: { listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', roster: [{ peerId: b.peerId, name: 'cfgB', country: 'FR', role: 'contributor', addrs: ['/ip4/127.0.0.1/tcp/9'] }] } })
    const node = await DragnetNode.open({ dataDir: join(tmp.dir, 'cfgA'), config: cfg, log: silentLogger() })
    await node.start()
    extras.push(node)
    assert.equal(node.peerId, a.peerId)
    assert.equal(node.roster.get(b.peerId)?.role, 'contributor')
    assert.ok(node.listenAddrs()[0].startsWith('/ip4/127.0.0.1/tcp/'))
  })
})
