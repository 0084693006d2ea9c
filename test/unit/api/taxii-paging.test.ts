import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../../src/api/server.js'
import type { DragnetNode } from '../../../src/node.js'
import { createRecord, type Tlp } from '../../../src/record/index.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import type { RecordWrite } from '../../../src/store/index.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'
import { bearer, READ_TOKEN, recordObjects, TAXII, WRITE_TOKEN } from './helpers.js'

/*
 * A TAXII 2.1 client written from the specification (section 3.4, pagination; 5.3, Get
 * Objects): it knows only URLs, headers and the envelope. It asks for a page, takes the objects,
 * and while `more` is true asks again with the `next` it was given and the same filters.
 */
interface Page { objects: Array<Record<string, any>>, first?: string, last?: string }

function limitOf (query: string): number {
  const m = /limit=(\d+)/.exec(query)
  return m != null ? Number(m[1]) : 100
}

async function pageThrough (app: FastifyInstance, collection: string, query: string, peers: string[], between?: (page: number) => Promise<void>): Promise<Page[]> {
  const pages: Page[] = []
  let next: string | undefined
  for (let n = 0; n < 10_000; n++) {
    const url = `/taxii2/dragnet/collections/${collection}/objects/?${query}${next != null ? `&next=${encodeURIComponent(next)}` : ''}`
    const res = await app.inject({ method: 'GET', url, headers: { accept: TAXII, ...bearer(READ_TOKEN) } })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['content-type'], TAXII)
    const env = JSON.parse(res.body) as { more?: boolean, next?: string, objects?: Array<Record<string, any>> }
    assert.ok((env.objects ?? []).length <= limitOf(query), 'a page never holds more than limit objects, markings and identities included')
    const objects = recordObjects(env.objects as Array<{ id: string }>, peers) as Array<Record<string, any>>
    pages.push({ objects, first: res.headers['x-taxii-date-added-first'] as string | undefined, last: res.headers['x-taxii-date-added-last'] as string | undefined })
    if (env.more !== true) return pages
    assert.equal(typeof env.next, 'string', 'more is true, so next is given')
    next = env.next
    await between?.(pages.length)
  }
  throw new Error('the server never said there is no more')
}

const key = (o: Record<string, any>): string => `${String(o.id)}@${String(o.modified)}`

describe('taxii: a spec client pages through 10,000 objects that share date_added', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let node: DragnetNode
  let app: FastifyInstance
  let green: string
  let amber: string
  const expectedGreen = new Set<string>()
  const batchAddedAt: number[] = []
  const V1 = '2026-01-01T00:00:00.000Z'
  const V2 = '2026-01-02T00:00:00.000Z'

  before(async () => {
    tmp = await tempDir('dragnet-taxii-paging-')
    node = await testNode({ dir: tmp.dir })
    // Ten batches of 1000 green records, each batch stored at one instant (one date_added for
    // 1000 objects), with 150 amber records mixed into every batch. Objects 0-99 get a second
    // version in batch 2: only that one is "last".
    let seq = 0
    const rec = (body: Record<string, unknown>, tlp: Tlp, newOwner: boolean): RecordWrite => ({
      record: createRecord(node.identity, { seq: ++seq, ts: Date.now(), tlp, body: body as any }),
      source: 'local',
      modified: String(body.modified),
      revoked: false,
      observables: [],
      newOwner
    })
    for (let b = 0; b < 10; b++) {
      const writes: RecordWrite[] = []
      for (let i = b * 1000; i < (b + 1) * 1000; i++) {
        const modified = b === 2 && i < 2100 ? V2 : V1
        const n = b === 2 && i < 2100 ? i - 2000 : i
        const body = indicator({ kind: 'ipv4', value: `10.0.${n >> 8}.${n & 255}`, seed: `paging-${n}`, created: V1, modified })
        writes.push(rec(body, 'green', modified === V1))
        if (i % 1000 < 150) writes.push(rec(indicator({ kind: 'ipv4', value: `10.1.${i >> 8}.${i & 255}`, seed: `amber-${i}` }), 'amber', true))
      }
      const infos = await node.store.write(writes)
      batchAddedAt.push(infos[0].addedAt)
      // Distinct instants per batch, so added_after can name a batch boundary.
      while (Date.now() <= infos[0].addedAt) await new Promise(resolve => setTimeout(resolve, 1))
    }
    for (let n = 0; n < 10_000; n++) {
      if (n >= 2000 && n < 2100) continue
      expectedGreen.add(`indicator--${indicatorUuid(n)}@${n < 100 ? V2 : V1}`)
    }
    app = await buildApi(node, { token: WRITE_TOKEN, readTokens: [READ_TOKEN] })
    const cols = JSON.parse((await app.inject({ url: '/taxii2/dragnet/collections/', headers: { accept: TAXII, ...bearer(READ_TOKEN) } })).body).collections
    green = cols.find((c: any) => c.title === 'TLP:GREEN').id
    amber = cols.find((c: any) => c.title === 'TLP:AMBER').id
  })

  function indicatorUuid (n: number): string {
    return String(indicator({ kind: 'ipv4', value: '0.0.0.0', seed: `paging-${n}` }).id).slice('indicator--'.length)
  }

  after(async () => {
    await app?.close()
    await node?.stop()
    await tmp?.cleanup()
  })

  it('with ties in date_added: every object exactly once, in date_added order, while new objects arrive', async () => {
    assert.equal(expectedGreen.size, 9900)
    const added: string[] = []
    const pages = await pageThrough(app, green, 'limit=333', [node.peerId], async (page) => {
      // Publishing while the client pages: new objects come after everything already listed.
      if (page === 7) {
        const objs = Array.from({ length: 25 }, (_, i) => indicator({ kind: 'ipv4', value: `10.2.0.${i}`, seed: `late-${i}` }))
        const vs = await node.publish(objs, { tlp: 'green' })
        for (let i = 0; i < objs.length; i++) {
          assert.equal(vs[i].status, 'stored')
          added.push(key(objs[i]))
        }
      }
    })
    const seen = pages.flatMap(p => p.objects.map(key))
    assert.equal(new Set(seen).size, seen.length, 'no object twice')
    assert.deepEqual(new Set(seen), new Set([...expectedGreen, ...added]), 'no object missing, nothing else')
    assert.ok(pages.length >= 30, `${pages.length} pages of at most 333`)
    for (const p of pages) assert.ok(p.objects.length <= 333)
    // Pages follow date_added: each starts no earlier than the previous one ended, and ties
    // straddle page boundaries (1000 objects share each instant, pages hold 333).
    let straddles = 0
    for (let i = 1; i < pages.length; i++) {
      if (pages[i].first == null) continue
      assert.ok(pages[i].first! >= pages[i - 1].last!, `page ${i} starts before page ${i - 1} ends`)
      if (pages[i].first === pages[i - 1].last) straddles++
    }
    assert.ok(straddles >= 10, `ties across page boundaries: ${straddles}`)
  })

  it('the manifest pages the same way, its date_added never decreasing', async () => {
    let next: string | undefined
    const entries: Array<{ id: string, date_added: string, version: string }> = []
    do {
      const res = await app.inject({ url: `/taxii2/dragnet/collections/${amber}/manifest/?limit=250${next != null ? `&next=${next}` : ''}`, headers: { accept: TAXII, ...bearer(READ_TOKEN) } })
      const m = JSON.parse(res.body)
      assert.ok(m.objects.length <= 250)
      // Manifest entries carry ids only: the member's location and located-at relationship go by type.
      entries.push(...recordObjects(m.objects as Array<{ id: string }>, [node.peerId]).filter(e => !/^(location|relationship)--/.test(e.id)) as typeof entries)
      next = m.more === true ? m.next : undefined
    } while (next != null)
    assert.equal(entries.length, 1500)
    assert.equal(new Set(entries.map(e => e.id)).size, 1500)
    for (let i = 1; i < entries.length; i++) assert.ok(entries[i].date_added >= entries[i - 1].date_added)
    assert.equal(new Set(entries.map(e => e.date_added)).size, 10, 'ten instants for 1500 objects')
  })

  it('added_after with next (as clients such as OpenCTI send both) resumes exactly after a batch', async () => {
    const after = new Date(batchAddedAt[4]).toISOString()
    const pages = await pageThrough(app, amber, `limit=100&added_after=${after}`, [node.peerId])
    const seen = pages.flatMap(p => p.objects.map(o => String(o.id)))
    assert.equal(seen.length, 750, 'batches 6 to 10, 150 amber objects each')
    assert.equal(new Set(seen).size, 750)
  })
})
