import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { startApi, type RunningApi } from '../../src/api/server.js'
import { encodeCursor } from '../../src/api/taxii-query.js'
import { loadConfig } from '../../src/config/config.js'
import { createReadToken, FILES } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import type { Tlp } from '../../src/record/index.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { testNode } from '../helpers/node.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * TAXII `next` cursors over real HTTP, as a SIEM holding a read token below RED pulls them: the
 * cursor names no arrival number (arrivals count the RED records too), an altered or forged one is
 * refused, and one issued before a restart still pages on after it.
 */

const TOKEN = 'admin-token-0123456789abcdef'
const TAXII = 'application/taxii+json;version=2.1'
const GREEN = 'tlp-green'

interface Answer { status: number, body: any }

async function get (api: RunningApi, path: string, token: string): Promise<Answer> {
  const [host, port] = [api.address.slice(0, api.address.lastIndexOf(':')), Number(api.address.slice(api.address.lastIndexOf(':') + 1))]
  return await new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers: { accept: TAXII, authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) })
      })
    })
    req.on('error', reject)
    req.setTimeout(15_000, () => req.destroy(new Error('no answer in time')))
    req.end()
  })
}

const objectsPath = (query: string): string => `/taxii2/dragnet/collections/${GREEN}/objects/?${query}`

async function reopen (dir: string): Promise<DragnetNode> {
  const config = await loadConfig({ overrides: { name: 'test', country: 'DE', role: 'bureau', ingest: { verifyWorkers: 0 } } })
  const node = await DragnetNode.open({ dataDir: dir, config, log: silentLogger(), network: false })
  await node.start()
  return node
}

describe('taxii: cursors for a reader below RED (raw HTTP)', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let node: DragnetNode
  let api: RunningApi
  let reader: string
  const greenIds = new Set<string>()

  before(async () => {
    tmp = await tempDir('dragnet-taxii-cursors-')
    node = await testNode({ dir: tmp.dir })
    // Green records with red ones between them: the arrival numbers of the green ones have gaps.
    for (let i = 0; i < 6; i++) {
      for (const tlp of ['green', 'red', 'red'] as Tlp[]) {
        const body = indicator({ kind: 'ipv4', value: `192.0.2.${i * 3 + (tlp === 'green' ? 0 : 1)}`, seed: `cursor-${tlp}-${i}-${Math.random()}` })
        const [v] = await node.publish([body], { tlp })
        assert.equal(v.status, 'stored')
        if (tlp === 'green') greenIds.add(String(body.id))
      }
    }
    reader = (await createReadToken(tmp.dir, 'siem', 'green')).token
    api = await startApi(node, '127.0.0.1:0', { token: TOKEN })
  })

  after(async () => {
    await api?.close()
    await node?.stop()
    await tmp?.cleanup()
  })

  it('pages every green object once; no next reveals an arrival number; the key file is private', async () => {
    const seen: string[] = []
    let next: string | undefined
    for (let n = 0; n < 20; n++) {
      const a = await get(api, objectsPath(`limit=1${next != null ? `&next=${encodeURIComponent(next)}` : ''}`), reader)
      assert.equal(a.status, 200, JSON.stringify(a.body))
      for (const o of a.body.objects ?? []) if (o.type === 'indicator') seen.push(o.id)
      if (a.body.more !== true) break
      next = a.body.next as string
      for (const text of [next, Buffer.from(next, 'base64url').toString('latin1')]) assert.doesNotMatch(text, /v1\.o\./, 'the cursor is not a plain position')
    }
    assert.deepEqual(new Set(seen), greenIds)
    assert.equal(seen.length, greenIds.size, 'each object once')
    assert.equal((await stat(join(tmp.dir, FILES.cursorKey))).mode & 0o777, 0o600)
  })

  it('two cursors for the same position differ, so equal positions cannot be matched up', async () => {
    const a = await get(api, objectsPath('limit=1'), reader)
    const b = await get(api, objectsPath('limit=1'), reader)
    assert.equal(a.body.more, true)
    assert.notEqual(a.body.next, b.body.next)
  })

  it('refuses an altered, truncated or forged plain cursor with DRAGNET_BAD_REQUEST, and stores nothing', async () => {
    const records = node.store.counts().records
    const first = await get(api, objectsPath('limit=1'), reader)
    const next = first.body.next as string
    const flipped = next.slice(0, 30) + (next[30] === 'A' ? 'B' : 'A') + next.slice(31)
    const forged = encodeCursor({ kind: 'o', tlp: 'green', position: 1 })
    for (const bad of [flipped, forged, next.slice(0, -4), 'x']) {
      const a = await get(api, objectsPath(`limit=1&next=${encodeURIComponent(bad)}`), reader)
      assert.equal(a.status, 400, bad)
      assert.equal(a.body.error_code, 'DRAGNET_BAD_REQUEST')
      assert.match(a.body.title, /next/)
    }
    // The admin gets plain cursors, and a sealed one is not one of those.
    const admin = await get(api, objectsPath('limit=1'), TOKEN)
    assert.match(Buffer.from(admin.body.next as string, 'base64url').toString('latin1'), /^v1\.o\.\d\.\d+$/)
    assert.equal((await get(api, objectsPath(`limit=1&next=${encodeURIComponent(next)}`), TOKEN)).status, 400)
    assert.equal(node.store.counts().records, records)
  })

  it('a cursor issued before a restart pages on after it', async () => {
    const first = await get(api, objectsPath('limit=2'), reader)
    const seen = (first.body.objects as Array<{ id: string, type: string }>).filter(o => o.type === 'indicator').map(o => o.id)
    let next = first.body.next as string
    await api.close()
    await node.stop()
    node = await reopen(tmp.dir)
    api = await startApi(node, '127.0.0.1:0', { token: TOKEN })
    for (let n = 0; n < 20 && next != null; n++) {
      const a = await get(api, objectsPath(`limit=2&next=${encodeURIComponent(next)}`), reader)
      assert.equal(a.status, 200, JSON.stringify(a.body))
      for (const o of a.body.objects ?? []) if (o.type === 'indicator') seen.push(o.id)
      next = a.body.more === true ? a.body.next : undefined
    }
    assert.deepEqual(new Set(seen), greenIds)
    assert.equal(seen.length, greenIds.size)
  })
})
