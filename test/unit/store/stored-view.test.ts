import assert from 'node:assert/strict'
import { compilePolicy } from '../../../src/policy/index.js'
import { parseDecodedRecord, scopesOf } from '../../../src/record/index.js'
import { indicator } from '../../../src/sim/stix-factory.js'
import { StoredRecordView } from '../../../src/store/reads.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'
import { IDS, M } from '../policy/helpers.js'

/*
 * Sync serves records from the store through a StoredRecordView: what the outbound decision
 * needs, read without parsing the body unless a rule or feedback looks at it. Decisions and
 * scopes must be exactly those of the fully parsed record.
 */
describe('StoredRecordView (serving stored records without parsing their bodies)', function () {
  const roster = [M.fr, M.us].map(m => ({ ...m, addrs: [] }))
  const labelsPolicy = compilePolicy({
    name: 'labels',
    rules: [
      { id: 'no-test-to-us', direction: 'outbound', match: { labels: { any: ['test'] }, peer: { country: ['US'] } }, action: 'withhold', reason: 'test data stays in Europe' }
    ]
  }, '.')

  async function published (dir: string, policy = labelsPolicy) {
    const node = await testNode({ dir, config: { roster }, policy })
    const ind = indicator({ kind: 'ipv4', value: '198.51.100.7', labels: ['test'] })
    const sighting = { type: 'sighting', spec_version: '2.1', id: 'sighting--6b0e5d2e-1c52-4c7e-9b51-1d1b0c0e7a01', created: '2026-01-02T00:00:00.000Z', modified: '2026-01-02T00:00:00.000Z', sighting_of_ref: ind.id }
    const verdicts = [
      ...await node.publish([ind], { tlp: 'green' }),
      ...await node.publish([indicator({ kind: 'domain', value: 'evil.example' })], { tlp: 'clear' }),
      ...await node.publish([indicator({ kind: 'ipv4', value: '203.0.113.9' })], { tlp: 'amber', to: [IDS.fr] }),
      ...await node.publish([indicator({ kind: 'ipv4', value: '203.0.113.10' })], { tlp: 'red' }),
      ...await node.publish([sighting], { tlp: 'green' })
    ]
    for (const v of verdicts) assert.equal(v.status, 'stored', JSON.stringify(v))
    return { node, ids: verdicts.map(v => v.id!) }
  }

  it('reads the same fields, scopes and outbound decisions as the parsed record', async function () {
    const tmp = await tempDir()
    const { node, ids } = await published(tmp.dir)
    try {
      const stored = await node.store.getManyStored([...ids, `1220${'0'.repeat(64)}`])
      assert.equal(stored[ids.length], undefined, 'an id the store does not hold')
      for (let i = 0; i < ids.length; i++) {
        const st = stored[i]!
        const view = new StoredRecordView(ids[i], st.info, st.bytes)
        const signed = parseDecodedRecord(st.bytes, ids[i])
        const r = signed.record
        assert.deepEqual({ author: view.author, seq: view.seq, ts: view.ts, tlp: view.tlp, to: view.to, type: view.type, stixId: view.stixId },
          { author: r.author, seq: r.seq, ts: r.ts, tlp: r.tlp, to: r.to, type: r.body.type, stixId: r.body.id })
        assert.deepEqual(scopesOf(view), scopesOf(r))
        assert.deepEqual(view.body, r.body)
        for (const peer of [IDS.fr, IDS.us]) {
          const decide = node.outboundTo(peer)
          const fromView = node.policy.outbound(node.ingest.subjectOf(new StoredRecordView(ids[i], st.info, st.bytes)), { self: node.roster.self, peer: node.roster.get(peer)!, author: node.roster.entryOf(r.author, r.ts), now: Date.now(), peerOnRoster: true })
          assert.deepEqual(fromView, decide(signed), `record ${i} to ${peer}`)
        }
      }
      // The label rule is decisive for the test-labelled indicator to the US member only.
      const st = stored[0]!
      assert.equal(node.outboundTo(IDS.us)(parseDecodedRecord(st.bytes, ids[0])).rule, 'no-test-to-us')
    } finally {
      await node.stop()
      await tmp.cleanup()
    }
  })

  it('decides without parsing the body when no rule reads it', async function () {
    const tmp = await tempDir()
    const { node, ids } = await published(tmp.dir, compilePolicy({ name: 'tlp-only', rules: [{ id: 'no-clear-to-us', direction: 'outbound', match: { tlp: ['clear'], peer: { country: ['US'] } }, action: 'withhold' }] }, '.'))
    try {
      const [green, clear] = await node.store.getManyStored(ids.slice(0, 2))
      // Bodies made unparsable (bytes after the header, before the tail): a decision that parsed them would throw.
      const broken = (bytes: Uint8Array): Uint8Array => {
        const b = Buffer.from(bytes)
        const at = b.indexOf('"body":{') + 8
        b[at] = 0x00
        return b
      }
      const ctx = (peer: string) => ({ self: node.roster.self, peer: node.roster.get(peer)!, author: node.roster.self, now: Date.now(), peerOnRoster: true })
      const g = new StoredRecordView(ids[0], green!.info, broken(green!.bytes))
      const c = new StoredRecordView(ids[1], clear!.info, broken(clear!.bytes))
      assert.equal(node.policy.outbound(node.ingest.subjectOf(g), ctx(IDS.us)).verdict, 'send')
      assert.equal(node.policy.outbound(node.ingest.subjectOf(c), ctx(IDS.us)).rule, 'no-clear-to-us')
      assert.deepEqual(scopesOf(g), ['green'])
      assert.throws(() => g.body, SyntaxError)
    } finally {
      await node.stop()
      await tmp.cleanup()
    }
  })
})
