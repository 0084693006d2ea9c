import assert from 'node:assert/strict'
import fc from 'fast-check'
import { FairQueue } from '../../../src/replication/index.js'

interface Item { author: string, n: number }

describe('replication: the send queue authors share fairly', () => {
  it('one honest record goes in the next frame behind thousands of a flooder\'s', () => {
    const q = new FairQueue<Item>()
    for (let i = 0; i < 5000; i++) q.push({ author: 'flooder', n: i })
    q.push({ author: 'honest', n: 0 })
    const frame = q.take(256, () => true)
    assert.equal(frame.length, 256)
    assert.ok(frame.some(x => x.author === 'honest'))
    const own = frame.filter(x => x.author === 'flooder').map(x => x.n)
    assert.deepEqual(own, Array.from({ length: 255 }, (_, i) => i), 'each author\'s own order is kept')
    assert.equal(q.length, 5000 - 255)
  })

  it('a full queue turns away the author filling it, not the others, and never grows past twice its cap', () => {
    const q = new FairQueue<Item>()
    for (let i = 0; i < 100; i++) q.push({ author: 'flooder', n: i })
    assert.equal(q.admits('flooder', 100), false)
    assert.equal(q.admits('honest', 100), true)
    for (let i = 0; i < 49; i++) q.push({ author: 'honest', n: i })
    assert.equal(q.admits('honest', 100), true, 'below its share of 50')
    q.push({ author: 'honest', n: 49 })
    assert.equal(q.admits('honest', 100), false, 'at its share')
    for (let i = 0; i < 50; i++) q.push({ author: `a${i}`, n: 0 })
    assert.equal(q.admits('another', 100), false, 'twice the cap: nobody')
    assert.equal(q.remove(x => x.author === 'flooder').length, 100)
    assert.equal(q.admits('flooder', 100), true)
  })

  it('property: frames respect max and fits, keep each author\'s order, give every waiting author its quota, lose nothing', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 300 }), fc.integer({ min: 1, max: 64 }), fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(1e9)), (authors, max, maxBytes) => {
      const q = new FairQueue<Item>()
      authors.forEach((a, n) => { q.push({ author: `p${a}`, n }) })
      const out: Item[] = []
      const queued = new Map<string, number>()
      for (const a of authors) queued.set(`p${a}`, (queued.get(`p${a}`) ?? 0) + 1)
      while (q.length > 0) {
        const waiting = new Set([...q].map(x => x.author))
        let bytes = 0
        const frame = q.take(max, (x) => { bytes += 1 + (x.n % 3); return bytes <= maxBytes })
        assert.ok(frame.length >= 1 && frame.length <= max)
        const quota = Math.max(1, Math.floor(max / waiting.size))
        const sizes = frame.reduce((b, x) => b + 1 + (x.n % 3), 0)
        if (frame.length > 1) assert.ok(sizes <= maxBytes)
        if (bytes <= maxBytes && waiting.size <= max) {
          // Not cut short by bytes: every waiting author got its quota (or all it had queued).
          for (const a of waiting) {
            const had = queued.get(a)!
            assert.ok(frame.filter(x => x.author === a).length >= Math.min(had, quota), `author ${a} got less than its quota`)
          }
        }
        for (const x of frame) queued.set(x.author, queued.get(x.author)! - 1)
        out.push(...frame)
      }
      assert.equal(out.length, authors.length)
      for (const a of new Set(authors)) {
        const mine = out.filter(x => x.author === `p${a}`).map(x => x.n)
        assert.deepEqual(mine, [...mine].sort((x, y) => x - y))
      }
    }), { seed: 11, numRuns: 300 })
  })
})
