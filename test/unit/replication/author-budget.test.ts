import assert from 'node:assert/strict'
import { AuthorBudgets } from '../../../src/replication/index.js'

describe('author budgets (replication/author-budget.ts)', () => {
  it('takes a burst, then the rate; a spent author does not spend another\'s budget', () => {
    let now = 0
    const b = new AuthorBudgets({ recordsPerSec: 10, burst: 5 }, () => now)
    for (let i = 0; i < 5; i++) assert.equal(b.take('flooder'), true, `burst record ${i}`)
    assert.equal(b.take('flooder'), false, 'past the burst: deferred')
    assert.equal(b.admits('flooder'), false)
    assert.equal(b.admits('honest'), true, 'an author never seen has its whole budget')
    for (let i = 0; i < 5; i++) assert.equal(b.take('honest'), true)
    now += 100
    assert.equal(b.admits('flooder'), true, 'a tenth of a second at 10/s refills one')
    assert.equal(b.take('flooder'), true)
    assert.equal(b.take('flooder'), false, 'a deferral spends nothing: no debt')
    now += 10_000
    let taken = 0
    while (b.take('flooder')) taken++
    assert.equal(taken, 5, 'a quiet spell refills up to the burst, no further')
  })

  it('refuses a budget that would take nothing', () => {
    assert.throws(() => new AuthorBudgets({ recordsPerSec: 0, burst: 5 }), TypeError)
    assert.throws(() => new AuthorBudgets({ recordsPerSec: 5, burst: 0 }), TypeError)
  })
})
