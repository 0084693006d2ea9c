import assert from 'node:assert/strict'
import { startApi, type RunningApi } from '../../src/api/server.js'
import { memberIdentityId } from '../../src/api/provenance.js'
import { createReadToken } from '../../src/identity/index.js'
import type { DragnetNode } from '../../src/node.js'
import type { PushEvent } from '../../src/push/events.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { TLP2_MARKING_IDS } from '../../src/stix/index.js'
import { testNode } from '../helpers/node.js'
import { SseClient } from '../helpers/sse.js'
import { tempDir } from '../helpers/tmp.js'

const TOKEN = 'stream-admin-token-0123456789abcdef'

function ind (i: number, tag = 's'): Record<string, unknown> {
  return indicator({ kind: 'ipv4', value: `10.9.${(i >> 8) & 255}.${i & 255}`, seed: `${tag}-${i}` })
}

function records (c: SseClient): PushEvent[] {
  return c.events.filter(e => e.event === 'record').map(e => JSON.parse(e.data) as PushEvent)
}

describe('GET /api/stream: server-sent events of stored records', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let node: DragnetNode
  let api: RunningApi
  let base: string
  const open: SseClient[] = []

  async function connect (path = '/api/stream', headers: Record<string, string> = {}): Promise<SseClient> {
    const c = await SseClient.open(base + path, headers)
    open.push(c)
    return c
  }

  beforeEach(async () => {
    tmp = await tempDir('dragnet-stream-')
    node = await testNode({ dir: tmp.dir, name: 'BKA', config: { stream: { keepAliveMs: 200, maxClients: 5 }, http: { idleTimeoutMs: 500 } } })
    api = await startApi(node, '127.0.0.1:0', { token: TOKEN })
    base = `http://${api.address}`
  })

  afterEach(async () => {
    for (const c of open.splice(0)) c.close()
    await api.close()
    await node.stop()
    await tmp.cleanup()
  })

  it('sends each record stored after connecting, id = arrival number, with its TLP marking and author identity', async () => {
    const c = await connect()
    assert.equal(c.status, 200)
    assert.match(String(c.headers['content-type']), /^text\/event-stream/)
    const before = node.store.counts().arrival
    await node.publish([ind(1), ind(2)], { tlp: 'amber' })
    await c.until(() => records(c).length === 2, 10_000, 'two records')
    const got = records(c)
    assert.deepEqual(c.events.map(e => e.id), [String(before + 1), String(before + 2)])
    assert.deepEqual(got.map(e => e.arrival), [before + 1, before + 2])
    for (const e of got) {
      assert.equal(e.tlp, 'amber')
      assert.equal(e.author, node.peerId)
      assert.deepEqual(e.object.object_marking_refs, [TLP2_MARKING_IDS.amber])
      assert.equal(e.object.created_by_ref, memberIdentityId(node.peerId))
      assert.ok(e.provenance.some(o => o.id === TLP2_MARKING_IDS.amber), 'the marking definition travels with the event')
      assert.ok(e.provenance.some(o => o.id === memberIdentityId(node.peerId) && o.name === 'BKA'), 'the author identity travels with the event')
    }
  })

  it('a client that disconnects and resumes with Last-Event-ID receives every record exactly once, while records keep coming', async () => {
    const total = 300
    let c = await connect('/api/stream?lastEventId=0')
    const received: PushEvent[] = []
    const publishing = (async () => {
      for (let i = 0; i < total; i += 10) {
        await node.publish(Array.from({ length: 10 }, (_, j) => ind(i + j, 'resume')), { tlp: 'green' })
        await new Promise(resolve => setImmediate(resolve))
      }
    })()
    // Drop and resume several times at arbitrary points, as a flaky network would.
    for (let round = 0; round < 6; round++) {
      const have = received.length
      await c.until(() => records(c).length > 0 || node.store.counts().arrival === total, 20_000, 'an event')
      await new Promise(resolve => setTimeout(resolve, 5 + round * 7))
      c.close()
      await c.done()
      received.push(...records(c))
      const last = received.length > have ? String(received[received.length - 1].arrival) : c.lastId ?? String(received.at(-1)?.arrival ?? 0)
      c = await connect('/api/stream', { 'last-event-id': last })
      assert.equal(c.status, 200)
    }
    await publishing
    await c.until(() => received.length + records(c).length >= total, 30_000, 'every record')
    received.push(...records(c))
    const arrivals = received.map(e => e.arrival)
    assert.equal(arrivals.length, total, 'no record twice')
    assert.deepEqual(arrivals, Array.from({ length: total }, (_, i) => i + 1), 'every record, in arrival order, no gap')
    assert.equal(new Set(received.map(e => e.id)).size, total)
  })

  it('never sends a reader a record above its TLP ceiling, whatever its tlp parameter asks for', async () => {
    const green = (await createReadToken(node.dataDir, 'siem', 'green')).token
    const reader = await connect('/api/stream', { authorization: `Bearer ${green}` })
    const asking = await connect('/api/stream?tlp=green,amber,red', { authorization: `Bearer ${green}` })
    assert.equal(reader.status, 200)
    const admin = await connect('/api/stream', { authorization: `Bearer ${TOKEN}` })
    await node.publish([ind(1)], { tlp: 'red' })
    await node.publish([ind(2)], { tlp: 'amber' })
    await node.publish([ind(3)], { tlp: 'clear' })
    await node.publish([ind(4)], { tlp: 'green' })
    await admin.until(() => records(admin).length === 4, 10_000, 'four records for the admin')
    await reader.until(() => records(reader).length === 2, 10_000, 'two records for the reader')
    await asking.until(() => records(asking).length === 1, 10_000, 'one record for the reader asking for more')
    assert.deepEqual(records(reader).map(e => e.tlp), ['clear', 'green'])
    assert.deepEqual(records(asking).map(e => e.tlp), ['green'], 'tlp narrows within the ceiling, never widens it')
    assert.deepEqual(records(admin).map(e => e.tlp), ['red', 'amber', 'clear', 'green'])
    // Arrival numbers count every record: a reader gets them sealed, never in the clear.
    assert.deepEqual(records(admin).map(e => e.arrival), [1, 2, 3, 4])
    for (const e of reader.events) assert.doesNotMatch(String(e.id), /^\d+$/)
    assert.ok(records(reader).every(e => !('arrival' in e)))
    assert.ok(!reader.comments.some(c => /\d/.test(c)), 'no arrival number in the opening comment either')
    // It resumes with its sealed id, exactly once, within the same ceiling.
    reader.close()
    await node.publish([ind(5)], { tlp: 'red' })
    await node.publish([ind(6)], { tlp: 'clear' })
    const resumed = await connect('/api/stream', { authorization: `Bearer ${green}`, 'last-event-id': reader.lastId! })
    assert.equal(resumed.status, 200)
    await resumed.until(() => records(resumed).length === 1, 10_000, 'the record after the sealed id')
    assert.equal(records(resumed)[0].tlp, 'clear')
    assert.equal(records(resumed)[0].object.id, ind(6).id)
    // A plain arrival number (or anything this node did not seal) is refused.
    const plain = await connect('/api/stream', { authorization: `Bearer ${green}`, 'last-event-id': '2' })
    await plain.waitEnded()
    assert.equal(plain.status, 400)
    assert.equal(JSON.parse(plain.body).code, 'DRAGNET_BAD_REQUEST')
  })

  it('filters by type and author', async () => {
    const byType = await connect('/api/stream?type=malware')
    const byAuthor = await connect('/api/stream?author=12D3KooWNotThisNodeNotThisNodeNotThisNode0000')
    const mine = await connect(`/api/stream?author=${node.peerId}&type=indicator`)
    await node.publish([ind(1), malware('m1'), ind(2)], { tlp: 'green' })
    await byType.until(() => records(byType).length === 1, 10_000, 'the malware')
    await mine.until(() => records(mine).length === 2, 10_000, 'the indicators')
    assert.equal(records(byType)[0].type, 'malware')
    assert.deepEqual(records(mine).map(e => e.type), ['indicator', 'indicator'])
    assert.equal(records(byAuthor).length, 0)
  })

  it('refuses a malformed or foreign Last-Event-ID and a bad TLP with a clear error', async () => {
    for (const [headers, path, code] of [
      [{ 'last-event-id': 'abc' }, '/api/stream', 'DRAGNET_BAD_REQUEST'],
      [{ 'last-event-id': '-1' }, '/api/stream', 'DRAGNET_BAD_REQUEST'],
      [{ 'last-event-id': '99999' }, '/api/stream', 'DRAGNET_BAD_REQUEST'],
      [{}, '/api/stream?tlp=purple', 'DRAGNET_BAD_TLP']
    ] as const) {
      const c = await connect(path, headers)
      await c.waitEnded()
      assert.equal(c.status, 400, JSON.stringify(headers) + path)
      assert.equal(JSON.parse(c.body).code, code)
    }
  })

  it('needs a credential when the API needs one for reads, and refuses a wrong one', async () => {
    const wrong = await connect('/api/stream', { authorization: 'Bearer not-a-token-of-this-node' })
    await wrong.waitEnded()
    assert.equal(wrong.status, 403)
    assert.equal(JSON.parse(wrong.body).code, 'DRAGNET_FORBIDDEN')
  })

  it('outlives the idle timeout with keep-alive comments, and caps the open streams', async () => {
    const c = await connect()
    await c.until(() => c.comments.filter(x => x === 'keep-alive').length >= 4, 10_000, 'keep-alive comments')
    assert.equal(c.ended, false, 'a quiet stream stays open past http.idleTimeoutMs')
    for (let i = 0; i < 4; i++) await connect()
    const sixth = await connect()
    await sixth.waitEnded()
    assert.equal(sixth.status, 503)
    assert.equal(JSON.parse(sixth.body).code, 'DRAGNET_BUSY')
    await node.publish([ind(7)], { tlp: 'green' })
    await c.until(() => records(c).length === 1, 10_000, 'a record after the quiet time')
  })

  it('ends every stream when the API closes (node stop)', async () => {
    const a = await connect()
    const b = await connect('/api/stream?lastEventId=0')
    const started = Date.now()
    await api.close()
    await a.waitEnded()
    await b.waitEnded()
    assert.ok(Date.now() - started < node.config.http.closeGraceMs + 1000, 'closed at once, not cut after the grace period')
    api = await startApi(node, '127.0.0.1:0', { token: TOKEN })
  })
})
