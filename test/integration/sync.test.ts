import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { compilePolicy } from '../../src/policy/index.js'
import type { AuditEntry } from '../../src/store/index.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { FederationFixture, seedFor, syncNow, waitConnected, waitFor, type Federation } from '../helpers/federation.js'

const SYNC = { sync: { intervalMs: 1500, maxRecordsPerBatch: 250 } }

async function publishMany (node: DragnetNode, n: number, tag: string, tlp: 'green' | 'clear' | 'amber' | 'red' = 'green', extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i += 200) {
    const objs = []
    for (let j = i; j < Math.min(n, i + 200); j++) objs.push({ ...indicator({ kind: 'domain', value: `${tag}-${j}.example.net`, seed: `${tag}-${j}` }), ...extra })
    for (const v of await node.publish(objs, { tlp })) {
      assert.equal(v.status, 'stored')
      ids.push(v.id)
    }
  }
  return ids
}

async function restart (fed: Federation, i: number, dir: string): Promise<DragnetNode> {
  const old = fed.nodes[i]
  const node = await DragnetNode.open({ dataDir: dir, config: old.config, log: silentLogger() })
  await node.start()
  fed.nodes[i] = node
  return node
}


async function holdsAll (node: DragnetNode, ids: string[]): Promise<boolean> {
  return (await node.store.hasMany(ids)).every(Boolean)
}

describe('sync: anti-entropy between real nodes over TCP', function () {
  this.timeout(180_000)
  const fx = new FederationFixture()
  let fed: Federation | undefined

  it('a node offline while 2,000 records are published elsewhere catches up after restart', async () => {
    const edges: Array<[number, number]> = [[0, 1], [1, 2]]
    fed = await fx.start([{ name: 'A' }, { name: 'B' }, { name: 'C' }], edges, { config: SYNC })
    await waitConnected(fed.nodes, edges)
    const B = fed.nodes[1]
    await B.stop()
    const ids = await publishMany(fed.nodes[0], 2000, 'offline')
    const B2 = await restart(fed, 1, join(fx.dir, 'B'))
    B2.peers!.learnAddrs(fed.nodes[0].peerId, fed.nodes[0].listenAddrs())
    B2.peers!.learnAddrs(fed.nodes[2].peerId, fed.nodes[2].listenAddrs())
    const t0 = Date.now()
    await waitFor(async () => await holdsAll(B2, ids), 'B caught up on 2,000 records', 90_000, 100)
    // and C, behind B, gets them too — sync to B, then gossip onward
    await waitFor(async () => await holdsAll(fed!.nodes[2], ids), 'C caught up', 60_000, 100)
    const sources = await B2.store.getManyInfo(ids.slice(0, 50))
    assert.ok(sources.every(i => i?.source === 'sync'))
    console.log(`      caught up 2,000 records in ${Date.now() - t0} ms`)
  })

  it('a 6-node federation split in two halves that both publish converges after the split heals', async () => {
    // A ring, so each half is a path and the heal restores two bridges.
    const edges: Array<[number, number]> = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]]
    fed = await fx.start(['P0', 'P1', 'P2', 'P3', 'P4', 'P5'].map(name => ({ name })), edges, { config: SYNC })
    await waitConnected(fed.nodes, edges)
    const half = (i: number): number => (i < 3 ? 0 : 1)
    const bridges = edges.filter(([a, b]) => half(a) !== half(b))
    for (const [a, b] of bridges) {
      fed.nodes[a].peers!.block(fed.nodes[b].peerId)
      fed.nodes[b].peers!.block(fed.nodes[a].peerId)
    }
    await waitFor(() => bridges.every(([a, b]) => fed!.nodes[a].peers!.state(fed!.nodes[b].peerId)?.connected !== true), 'halves apart')
    const left = await publishMany(fed.nodes[1], 100, 'left')
    const right = await publishMany(fed.nodes[4], 100, 'right')
    await waitFor(async () => await holdsAll(fed!.nodes[0], left) && await holdsAll(fed!.nodes[5], right), 'each half has its own records')
    assert.equal(await fed.nodes[0].store.has(right[0]), false, 'the split holds')
    const healedAt = Date.now()
    for (const [a, b] of bridges) {
      fed.nodes[a].peers!.unblock(fed.nodes[b].peerId)
      fed.nodes[b].peers!.unblock(fed.nodes[a].peerId)
    }
    // The bridges redial on their backoff (up to limits.redialMaxMs): convergence counts from there.
    await waitConnected(fed.nodes, bridges, 30_000)
    const reconnectedAt = Date.now()
    const all = [...left, ...right]
    await waitFor(async () => {
      for (const n of fed!.nodes) if (!await holdsAll(n, all)) return false
      return true
    }, 'all six nodes hold all 200 records', 60_000, 100)
    const took = Date.now() - reconnectedAt
    console.log(`      converged ${Date.now() - healedAt} ms after the heal, ${took} ms after the bridges reconnected (sync interval ${SYNC.sync.intervalMs} ms)`)
    // One interval, not one interval per hop: the far nodes are 3 hops from a bridge.
    assert.ok(took < 3 * SYNC.sync.intervalMs + 3000, `took ${took} ms after the bridges reconnected`)
  })

  it('two identical replicas exchange no records and only a few hundred bytes', async () => {
    const edges: Array<[number, number]> = [[0, 1]]
    fed = await fx.start([{ name: 'A' }, { name: 'B' }], edges, { config: { sync: { intervalMs: 3_600_000 } } })
    await waitConnected(fed.nodes, edges)
    const [A, B] = fed.nodes
    const ids = await publishMany(A, 500, 'same')
    const idsB = await publishMany(B, 300, 'same-b', 'clear')
    // Both directions: a sync started while B's records are still on their way would move them.
    await waitFor(async () => await holdsAll(B, ids) && await holdsAll(A, idsB), 'gossip delivered both ways', 30_000)
    const initiator = A.peerId < B.peerId ? A : B
    const other = initiator === A ? B : A
    // The session opened on connect must be over first, or ours is refused as a second one.
    await waitFor(() => initiator.peers!.state(other.peerId)?.lastSync != null, 'the on-connect session ended', 30_000)
    const s = await syncNow(initiator, other.peerId)
    assert.equal(s.ok, true, s.error)
    assert.equal(s.recordsSent + s.recordsReceived, 0)
    assert.equal(s.roundTrips, 1)
    assert.ok(s.bytesSent + s.bytesReceived < 600, `${s.bytesSent + s.bytesReceived} bytes`)
    const shown = initiator.peers!.state(other.peerId)!.lastSync!
    assert.equal(shown.roundTrips, 1)
  })

  it('a node whose data dir was wiped and re-initialised with the same key re-syncs everything it is entitled to', async () => {
    const edges: Array<[number, number]> = [[0, 1], [0, 2], [1, 2]]
    fed = await fx.start([{ name: 'A' }, { name: 'B' }, { name: 'C' }], edges, { config: SYNC })
    await waitConnected(fed.nodes, edges)
    const [A, B, C] = fed.nodes
    const green = await publishMany(A, 300, 'w-green')
    const toB = (await A.publish([malware('for-b')], { tlp: 'amber', to: [B.peerId] }))[0] as any
    const toC = (await A.publish([malware('for-c')], { tlp: 'amber', to: [C.peerId] }))[0] as any
    const red = (await A.publish([malware('red-only')], { tlp: 'red' }))[0] as any
    const own = await publishMany(B, 50, 'b-own')
    await waitFor(async () => await holdsAll(B, [...green, toB.id]) && await holdsAll(C, own), 'B holds its share; C has B\'s records')
    const peerId = B.peerId
    await B.stop()
    await rm(join(fx.dir, 'B'), { recursive: true, force: true })
    await initDataDir(join(fx.dir, 'B'), { name: 'B', seed: seedFor('B') })
    const B2 = await restart(fed, 1, join(fx.dir, 'B'))
    assert.equal(B2.peerId, peerId)
    assert.equal(B2.store.counts().records, 0)
    B2.peers!.learnAddrs(A.peerId, A.listenAddrs())
    B2.peers!.learnAddrs(C.peerId, C.listenAddrs())
    await waitFor(async () => await holdsAll(B2, [...green, toB.id, ...own]), 'B re-synced everything it is entitled to (its own records included)', 60_000, 100)
    assert.equal(await B2.store.has(toC.id), false, 'not amber for C')
    assert.equal(await B2.store.has(red.id), false, 'not red')
    // Its own records came back, so its next seq continues after them.
    const [next] = await B2.publish([malware('after-wipe')], { tlp: 'green' })
    assert.equal((next as any).record.record.seq, 51)
  })

  it('a record withheld by outbound policy is never sent by sync either; declines settle the next round', async () => {
    const withholdInternal = compilePolicy({
      name: 'withhold-internal',
      defaults: { inbound: 'accept', outbound: 'send' },
      rules: [{ id: 'internal-stays-home', direction: 'outbound', match: { labels: { any: ['internal'] } }, action: 'withhold', reason: 'internal records stay with us' }]
    }, fx.dir)
    const edges: Array<[number, number]> = [[0, 1]]
    fed = await fx.start([{ name: 'A', policy: withholdInternal }, { name: 'B' }], edges, { config: { sync: { intervalMs: 3_600_000 } } })
    await waitConnected(fed.nodes, edges)
    const [A, B] = fed.nodes
    await B.stop()
    const shared = await publishMany(A, 100, 'shared')
    const internal = await publishMany(A, 40, 'internal', 'green', { labels: ['internal'] })
    const B2 = await restart(fed, 1, join(fx.dir, 'B'))
    B2.peers!.learnAddrs(A.peerId, A.listenAddrs())
    await waitFor(async () => await holdsAll(B2, shared), 'B synced the shareable records', 30_000, 100)
    // Outbound decisions reach the audit in batches: wait for the entry, then check nothing crossed.
    const withheld = (e: AuditEntry): boolean => e.verdict === 'withhold' && e.rule === 'internal-stays-home' && e.peer === B2.peerId && e.source === 'sync'
    await waitFor(async () => (await A.store.auditEntries({ record: internal[0] })).some(withheld), 'A audits the withholding from B (source sync)', 15_000, 50)
    for (const id of internal) assert.equal(await B2.store.has(id), false, 'withheld record crossed by sync')
    // The next session finds nothing to move: B counts the declined ids as known.
    const initiator = A.peerId < B2.peerId ? A : B2
    const other = initiator === A ? B2 : A
    const s = await syncNow(initiator, other.peerId)
    assert.equal(s.ok, true, s.error)
    assert.equal(s.recordsSent + s.recordsReceived, 0)
    assert.ok(s.bytesSent + s.bytesReceived < 600, `${s.bytesSent + s.bytesReceived} bytes`)
  })
})
