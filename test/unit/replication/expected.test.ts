import assert from 'node:assert/strict'
import { ExpectedIds } from '../../../src/replication/index.js'

describe('replication: ids one path expects, which the other leaves alone', () => {
  it('an expectation names its path until its deadline, then lapses by itself', () => {
    let now = 1000
    const e = new ExpectedIds(10, () => now)
    e.expect('a', 'gossip', 1500)
    assert.equal(e.expectedBy('a'), 'gossip')
    assert.equal(e.expectedBy('b'), undefined)
    now = 1500
    assert.equal(e.expectedBy('a'), undefined, 'lapsed at its deadline: the other path may fetch it')
    assert.equal(e.size, 0)
  })

  it('settle ends one path\'s expectation only, or any with no path named; a later expect replaces', () => {
    const e = new ExpectedIds(10, () => 0)
    e.expect('a', 'sync', 100)
    e.settle('a', 'gossip')
    assert.equal(e.expectedBy('a'), 'sync', 'gossip giving up does not end what sync asked for')
    e.settle('a', 'sync')
    assert.equal(e.expectedBy('a'), undefined)
    e.expect('b', 'sync', 100)
    e.expect('b', 'gossip', 200)
    assert.equal(e.expectedBy('b'), 'gossip')
    e.settle('b')
    assert.equal(e.expectedBy('b'), undefined, 'arrived: whatever path waited, the wait is over')
  })

  it('is bounded: beyond its capacity the oldest expectation is forgotten first', () => {
    const e = new ExpectedIds(3, () => 0)
    for (const id of ['a', 'b', 'c', 'd']) e.expect(id, 'gossip', 10)
    assert.equal(e.size, 3)
    assert.equal(e.expectedBy('a'), undefined)
    assert.equal(e.expectedBy('d'), 'gossip')
  })
})
