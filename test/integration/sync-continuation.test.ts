import assert from 'node:assert/strict'
import { malware } from '../../src/sim/stix-factory.js'
import { FederationFixture, waitFor, type Federation } from '../helpers/federation.js'

/*
 * A catch-up larger than `sync.maxIdsPerSession` takes several sessions; each one that stopped
 * at the id cap and moved records is followed at once by the next, not a sync interval later.
 */
describe('sync catch-up beyond one session', function () {
  this.timeout(180_000)
  const fx = new FederationFixture()
  let fed: Federation | undefined

  it('sessions cut at the id cap run back to back until the peer holds everything', async () => {
    const cap = 150
    const total = 600
    // No edge yet: B first meets A once A holds every record, so only sync can bring them.
    fed = await fx.start([{ name: 'A' }, { name: 'B' }], [], { config: { sync: { intervalMs: 3_600_000, maxIdsPerSession: cap } } })
    const [A, B] = fed.nodes
    for (let i = 0; i < total; i += 100) await A.publish(Array.from({ length: 100 }, (_, j) => malware(`cont-${i + j}`)), { tlp: 'green' })
    assert.equal(A.store.counts().records, total)
    B.peers!.learnAddrs(A.peerId, A.listenAddrs())
    // An hour-long interval: only the immediate continuation can move more than `cap` records.
    await waitFor(() => B.store.counts().records >= total, `B holds all ${total} records`, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}: B holds ${B.store.counts().records}; B's last session with A ${JSON.stringify(B.peers!.state(A.peerId))}; A's ${JSON.stringify(A.peers!.state(B.peerId))}`)
    })
    assert.equal(B.store.counts().records, total)
    await waitFor(() => B.peers!.state(A.peerId)?.lastSync != null && A.peers!.state(B.peerId)?.lastSync != null, 'a session summary on both sides', 60_000)
    const last = B.peers!.state(A.peerId)?.lastSync ?? A.peers!.state(B.peerId)?.lastSync
    assert.ok(last != null)
    assert.ok(last.recordsReceived + last.recordsSent <= cap, 'no session moves more than the cap')
  })
})
