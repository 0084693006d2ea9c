import assert from 'node:assert/strict'
import { join } from 'node:path'
import fc from 'fast-check'
import { Level } from 'level'
import { loadConfig } from '../../../src/config/config.js'
import { silentLogger } from '../../../src/log.js'
import { DragnetNode } from '../../../src/node.js'
import type { Tlp } from '../../../src/record/index.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { classifyValue, type Observable } from '../../../src/stix/index.js'
import { lookupPage, type LookupHit } from '../../../src/store/queries.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

/*
 * Bounded lookups: a page holds at most `limit` records and a cursor continues after it, so
 * paging through a lookup visits every matching current record exactly once. The expectation
 * is computed here from the published values with plain integer arithmetic, not by the index.
 */

const TLPS: Tlp[] = ['clear', 'green', 'amber', 'amber+strict', 'red']

function ipv4 (text: string): { addr: number, prefix: number } {
  const [a, p] = text.split('/')
  const addr = a.split('.').reduce((n, o) => n * 256 + Number(o), 0)
  return { addr, prefix: p == null ? 32 : Number(p) }
}

function masked (addr: number, prefix: number): number {
  return prefix === 0 ? 0 : Number((BigInt(addr) >> BigInt(32 - prefix)) << BigInt(32 - prefix))
}

/** Does a value of a record answer a lookup of `query`: inside it, or a network containing it. */
function answers (value: string, query: string): boolean {
  const v = ipv4(value)
  const q = ipv4(query)
  if (v.prefix >= q.prefix) return masked(v.addr, q.prefix) === q.addr
  return masked(q.addr, v.prefix) === v.addr
}

function ipIndicator (seed: string, values: string[], modified = '2026-01-01T00:00:00.000Z'): Record<string, unknown> {
  const base = indicator({ kind: 'ipv4', value: '10.0.0.1', seed, modified })
  return { ...base, pattern: values.map(v => `[ipv4-addr:value = '${v}']`).join(' OR ') }
}

async function pageAll (node: DragnetNode, o: Observable, opts: { limit: number, subdomains?: boolean, tlps?: Set<Tlp> }): Promise<{ hits: LookupHit[], pages: number }> {
  const hits: LookupHit[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await lookupPage(node.store, o, { ...opts, ...(cursor != null ? { cursor } : {}) })
    assert.ok(page.records.length <= opts.limit, `a page of ${page.records.length} over the limit ${opts.limit}`)
    hits.push(...page.records)
    cursor = page.next
    pages++
    assert.ok(pages < 1000, 'paging ends')
  } while (cursor != null)
  return { hits, pages }
}

describe('store: bounded lookups with a cursor', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let node: DragnetNode
  /** record id → the IPv4 values and networks its current version names */
  const current = new Map<string, string[]>()

  before(async () => {
    tmp = await tempDir()
    node = await testNode({ dir: join(tmp.dir, 'n') })
    // 60 indicators naming one to three addresses or networks in 10.0.0.0/16, some of them
    // twice (one record, several keys), some replaced by a newer version naming other values.
    const rnd = fc.sample(fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(32, 32, 32, 24, 28, 20)), { minLength: 1, maxLength: 3 }), { numRuns: 60, seed: 42 })
    for (const [i, spec] of rnd.entries()) {
      const values = [...new Set(spec.map(([c, d, p]) => {
        const addr = masked(ipv4(`10.0.${c}.${d}`).addr, p)
        return `10.0.${(addr >> 8) & 255}.${addr & 255}${p === 32 ? '' : '/' + String(p)}`
      }))]
      const tlp = TLPS[i % 5]
      const [v] = await node.publish([ipIndicator(`ip-${i}`, values)], { tlp })
      assert.equal(v.status, 'stored', JSON.stringify(v))
      if (i % 7 === 3) {
        // A newer version names something else: only it is current.
        const newer = [`10.0.${i % 16}.${(i * 5) % 256}`]
        const [v2] = await node.publish([ipIndicator(`ip-${i}`, newer, '2026-02-01T00:00:00.000Z')], { tlp })
        assert.equal(v2.status, 'stored')
        current.set((v2 as { id: string }).id, newer)
      } else {
        current.set((v as { id: string }).id, values)
      }
    }
  })

  after(async () => {
    await node.stop()
    await tmp.cleanup()
  })

  it('pages through every current match exactly once, whatever the limit (property)', async () => {
    const query = fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 8, 16, 18, 20, 22, 24, 28, 32))
      .map(([c, d, p]) => {
        const addr = masked(ipv4(`10.0.${c}.${d}`).addr, p)
        return `${(addr >>> 24) & 255}.${(addr >> 16) & 255}.${(addr >> 8) & 255}.${addr & 255}/${p}`
      })
    await fc.assert(fc.asyncProperty(query, fc.integer({ min: 1, max: 9 }), async (q, limit) => {
      const o = classifyValue(q)!
      const { hits } = await pageAll(node, o, { limit })
      const ids = hits.map(h => h.id)
      assert.equal(new Set(ids).size, ids.length, `${q}: a record came twice`)
      const expected = [...current].filter(([, values]) => values.some(v => answers(v, q))).map(([id]) => id)
      assert.deepEqual([...ids].sort(), expected.sort(), `${q} limit ${limit}`)
    }), { numRuns: 25, seed: 7 })
  })

  it('0.0.0.0/0 answers at most the limit, and a cursor that pages through everything once', async () => {
    const o = classifyValue('0.0.0.0/0')!
    const first = await lookupPage(node.store, o, { limit: 10 })
    assert.equal(first.records.length, 10)
    assert.equal(typeof first.next, 'string')
    const { hits, pages } = await pageAll(node, o, { limit: 10 })
    assert.equal(hits.length, current.size)
    assert.equal(pages, Math.ceil(current.size / 10))
    const all = await lookupPage(node.store, o)
    assert.equal(all.records.length, current.size, 'the default limit (1000) holds them all')
    assert.equal(all.next, undefined)
  })

  it('filters by TLP inside the page, so a reader\'s pages are full too', async () => {
    const o = classifyValue('10.0.0.0/16')!
    const tlps = new Set<Tlp>(['clear', 'green'])
    const { hits } = await pageAll(node, o, { limit: 4, tlps })
    assert.ok(hits.length > 0)
    assert.ok(hits.every(h => tlps.has(h.tlp as Tlp)))
    const everything = await pageAll(node, o, { limit: 1000 })
    assert.equal(hits.length, everything.hits.filter(h => tlps.has(h.tlp as Tlp)).length)
  })

  it('refuses a cursor it did not issue, or one of another lookup', async () => {
    const a = await lookupPage(node.store, classifyValue('10.0.0.0/16')!, { limit: 1 })
    await assert.rejects(lookupPage(node.store, classifyValue('10.0.0.0/16')!, { cursor: 'nonsense!' }), /DRAGNET|cursor/)
    await assert.rejects(lookupPage(node.store, classifyValue('10.0.0.0/17')!, { cursor: a.next! }), (err: any) => err.code === 'DRAGNET_BAD_REQUEST')
    await assert.rejects(lookupPage(node.store, classifyValue('10.0.0.0/16')!, { cursor: a.next!, tlps: new Set<Tlp>(['clear']) }), (err: any) => err.code === 'DRAGNET_BAD_REQUEST')
  })
})

describe('store: domain lookups find subdomains through the reversed-label index', function () {
  this.timeout(60_000)

  it('example.com finds x.y.example.com, not notexample.com or example.com.evil.net; exact finds the name alone', async () => {
    const tmp = await tempDir()
    const node = await testNode({ dir: join(tmp.dir, 'n') })
    try {
      const names = ['example.com', 'x.y.example.com', 'a.example.com', 'example.org', 'notexample.com', 'example.com.evil.net', 'com.example']
      for (const n of names) {
        const [v] = await node.publish([indicator({ kind: 'domain', value: n })], { tlp: 'green' })
        assert.equal(v.status, 'stored')
      }
      const found = async (value: string, subdomains: boolean, limit = 1000): Promise<string[]> =>
        (await pageAll(node, classifyValue(value)!, { limit, subdomains })).hits.map(h => h.body.name as string).sort()
      assert.deepEqual(await found('example.com', true), ['domain a.example.com', 'domain example.com', 'domain x.y.example.com'])
      assert.deepEqual(await found('EXAMPLE.COM.', true, 1), ['domain a.example.com', 'domain example.com', 'domain x.y.example.com'])
      assert.deepEqual(await found('example.com', false), ['domain example.com'])
      assert.deepEqual(await found('y.example.com', true), ['domain x.y.example.com'])

      // A store written before the domain index (format 4 and older: domains under `obs:domain!`
      // only): the index is built when it opens.
      await node.stop()
      const db = new Level<string, string>(join(tmp.dir, 'n', 'store'))
      await db.open()
      for await (const k of db.keys({ gte: 'dom:', lt: 'dom;' })) {
        const [reversed, id] = k.slice('dom:'.length).split('.!')
        await db.put(`obs:domain!${reversed.split('.').reverse().join('.')}!${id}`, '')
        await db.del(k)
      }
      await db.del('meta:domainIndex')
      await db.put('meta:format', '4')
      await db.close()
      const again = await DragnetNode.open({ dataDir: join(tmp.dir, 'n'), config: await loadConfig({ overrides: { ingest: { verifyWorkers: 0 } } }), log: silentLogger(), network: false })
      await again.start()
      try {
        const page = await lookupPage(again.store, classifyValue('example.com')!, {})
        assert.equal(page.records.length, 3)
      } finally {
        await again.stop()
      }
    } finally {
      await tmp.cleanup()
    }
  })
})
