import assert from 'node:assert/strict'
import { SyncIndexes } from '../../../src/sync/index.js'

/*
 * A purged id is counted like an id this node rejected (held, with nothing to send), but no
 * policy reload forgets it: a new policy may accept what the old one rejected, never a purged record.
 */

const ID = (n: number): string => '1220' + n.toString(16).padStart(64, '0')

describe('sync indexes: purged ids', () => {
  it('stay counted and are answered as declined, and a policy reload clears rejections only', () => {
    const idx = new SyncIndexes()
    idx.addRecord('green', 1000, ID(1))
    idx.addPurged('green', 1000, ID(1))
    idx.addRejected('green', 2000, ID(2))
    assert.equal(idx.size('green'), 2)
    assert.deepEqual(idx.phantom('peer', ID(1)), { scopes: ['green'], ts: 1000 })
    const cleared = idx.clearRejected()
    assert.deepEqual(cleared, [{ peer: '*', scope: 'green', ts: 2000, id: ID(2) }])
    assert.equal(idx.size('green'), 1)
    assert.equal(idx.holdsOrRejected('green', 1000, ID(1)), true)
    assert.deepEqual(idx.phantom('peer', ID(1)), { scopes: ['green'], ts: 1000 })
    assert.equal(idx.phantom('peer', ID(2)), undefined)
  })
})
