import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Admission } from '../../../src/replication/index.js'

/** Lets granted tickets' continuations run (grants resolve promises). */
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

interface Ticket { peer: string, n: number, release?: () => void, failed?: boolean }

const free = (t: Ticket): void => { assert.ok(t.release != null, 'ticket not granted'); t.release() }

/** Drives an Admission, recording every ticket and checking the share rule at each grant. */
function harness (capacity: number, chunk: number): { a: Admission, tickets: Ticket[], ask: (peer: string, n: number, signal?: AbortSignal) => Ticket, violations: string[] } {
  const a = new Admission({ capacity, chunk })
  const tickets: Ticket[] = []
  const violations: string[] = []
  const ask = (peer: string, n: number, signal?: AbortSignal): Ticket => {
    const t: Ticket = { peer, n }
    tickets.push(t)
    a.acquire(peer, n, signal).then((release) => {
      // Checked when granted: the peer within its share (of the peers now holding or waiting) and the total within capacity.
      const s = a.stats()
      if (s.inFlight > capacity) violations.push(`total ${s.inFlight} > ${capacity}`)
      if (a.inFlightOf(peer) > a.shareOf(peer)) violations.push(`${peer} holds ${a.inFlightOf(peer)} > share ${a.shareOf(peer)}`)
      t.release = release
    }, () => { t.failed = true })
    return t
  }
  return { a, tickets, ask, violations }
}

describe('replication: fair admission in front of ingest', () => {
  it('a flooder holds at most the capacity alone, and at most its share once another peer shows up', async () => {
    const { a, ask } = harness(256, 64)
    const flood = Array.from({ length: 10 }, () => ask('flooder', 64))
    await settle()
    assert.equal(flood.filter(t => t.release != null).length, 4, 'alone, the flooder fills the capacity')
    const honest = ask('honest', 1)
    await settle()
    assert.equal(honest.release, undefined, 'no room until something is released')
    flood[0].release!()
    await settle()
    assert.ok(honest.release != null, 'the first release goes to the peer holding nothing')
    assert.equal(a.inFlightOf('flooder'), 192)
    flood[1].release!()
    await settle()
    assert.equal(a.inFlightOf('flooder'), 128, 'over its share of two peers (128), the flooder waits')
    assert.equal(a.stats().waiting, 6)
    free(honest)
    await settle()
    assert.equal(a.inFlightOf('flooder'), 256, 'alone again, its share grows back')
  })

  it('an aborted wait is withdrawn and leaves no trace', async () => {
    const { a, ask } = harness(64, 64)
    const first = ask('p', 64)
    await settle()
    const ac = new AbortController()
    const waiting = ask('q', 10, ac.signal)
    await settle()
    ac.abort(new Error('stream closed'))
    await settle()
    assert.equal(waiting.failed, true)
    first.release!()
    first.release!()
    await settle()
    assert.deepEqual(a.stats(), { inFlight: 0, waiting: 0, peers: 0 }, 'a double release counts once; nothing left behind')
    await assert.rejects(a.acquire('p', 65), TypeError)
  })

  it('property: never over capacity, no peer over its share, an idle peer is admitted by the next release, everyone is served in the end', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('ask' as const), peer: fc.integer({ min: 0, max: 4 }), n: fc.integer({ min: 1, max: 16 }) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() })
    )
    await fc.assert(fc.asyncProperty(fc.integer({ min: 16, max: 96 }), fc.array(op, { maxLength: 120 }), async (capacity, ops) => {
      const { a, tickets, ask, violations } = harness(capacity, 16)
      // peer 9 floods: it always has more asked than it can hold
      for (let i = 0; i < Math.ceil(capacity / 16) + 4; i++) ask('p9', 16)
      await settle()
      for (const o of ops) {
        if (o.kind === 'ask') {
          const peer = `p${o.peer}`
          const idleWaiters = (): Ticket[] => tickets.filter(x => x.release == null && x.failed !== true && a.inFlightOf(x.peer) === 0)
          const alone = a.inFlightOf(peer) === 0 && idleWaiters().length === 0 && !tickets.some(x => x.peer === peer && x.release == null)
          const t = ask(peer, o.n)
          await settle()
          if (alone) {
            // Holding nothing and the only such waiter: admitted once its own size is released, whoever floods.
            let released = 0
            while (t.release == null) {
              const held = tickets.find(x => x.release != null)
              assert.ok(held != null, 'waiting with nothing held anywhere')
              released += held.n
              held.release!()
              tickets.splice(tickets.indexOf(held), 1)
              await settle()
            }
            assert.ok(released < t.n + 16, `an idle peer waited for ${released} records to be released (asked ${t.n})`)
          }
        } else {
          const held = tickets.filter(t => t.release != null)
          if (held.length === 0) continue
          const t = held[o.pick % held.length]
          t.release!()
          tickets.splice(tickets.indexOf(t), 1)
          await settle()
        }
      }
      // Drain: releasing whatever is held serves every waiter.
      for (let guard = 0; guard < 10_000 && tickets.length > 0; guard++) {
        const t = tickets.find(x => x.release != null)
        assert.ok(t != null, `waiters left with nothing held: ${JSON.stringify(a.stats())}`)
        t.release!()
        tickets.splice(tickets.indexOf(t), 1)
        await settle()
      }
      assert.deepEqual(violations, [])
      assert.deepEqual(a.stats(), { inFlight: 0, waiting: 0, peers: 0 })
    }), { seed: 11, numRuns: 150 })
  })
})
