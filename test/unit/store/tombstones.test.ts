import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { TombstoneIndex } from '../../../src/store/tombstones.js'

/*
 * Tombstones are never dropped, so the in-memory part of "was this id purged?" must not be a set
 * of every id: a Bloom filter answers most "no"s, and only its "maybe"s reach the disk.
 */

const idOf = (s: string): string => '1220' + createHash('sha256').update(s).digest('hex')

describe('store: the tombstone index', () => {
  it('is exact, and asks the disk only for the Bloom filter\'s maybes', async () => {
    const disk = new Set<string>()
    const stixDisk = new Set<string>()
    let asked = 0
    const index = new TombstoneIndex({
      ids: async (ids) => { asked += ids.length; return ids.map(id => disk.has(id)) },
      stixId: async (s) => { asked++; return stixDisk.has(s) }
    })
    for (let i = 0; i < 20_000; i++) {
      const t = { id: idOf(`purged-${i}`), stixId: `indicator--${i}` }
      disk.add(t.id)
      stixDisk.add(t.stixId)
      index.note(t, false)
    }
    assert.equal(index.count, 20_000)
    const purged = Array.from({ length: 20_000 }, (_, i) => idOf(`purged-${i}`))
    assert.ok((await index.has(purged)).every(Boolean), 'every purged id is found')
    asked = 0
    const others = Array.from({ length: 20_000 }, (_, i) => idOf(`kept-${i}`))
    assert.ok((await index.has(others)).every(x => !x), 'no other id is taken for purged')
    assert.ok(asked < 20_000 * 0.05, `only the filter's false positives reach the disk (${asked} of 20000)`)
    assert.equal(await index.hasStixId('indicator--7'), true)
    assert.equal(await index.hasStixId('indicator--kept'), false)
  })

  it('remembers a fresh tombstone without a disk read', async () => {
    let asked = 0
    const index = new TombstoneIndex({ ids: async (ids) => { asked += ids.length; return ids.map(() => false) }, stixId: async () => { asked++; return false } })
    index.note({ id: idOf('new'), stixId: 'malware--1' }, true)
    assert.deepEqual(await index.has([idOf('new')]), [true])
    assert.equal(await index.hasStixId('malware--1'), true)
    assert.equal(asked, 0)
  })
})
