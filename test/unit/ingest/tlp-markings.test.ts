import assert from 'node:assert/strict'
import { NodeIdentity } from '../../../src/identity/index.js'
import type { Rejected, Stored, Verdict } from '../../../src/ingest/index.js'
import type { DragnetNode } from '../../../src/node.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'
import { TLP2_EXTENSION } from '../../../src/stix/index.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'
import { TLP1, TLP2 } from '../../helpers/tlp-markings.js'

function stored (v: Verdict): Stored {
  assert.equal(v.status, 'stored', v.status === 'rejected' ? `${v.code}: ${v.reason}` : v.status)
  return v as Stored
}

function conflict (v: Verdict, given: string, marked: string): Rejected {
  assert.equal(v.status, 'rejected')
  const r = v as Rejected
  assert.equal(r.code, 'DRAGNET_TLP_CONFLICT', r.reason)
  assert.ok(r.reason.includes(`TLP ${given}`) && r.reason.includes(`TLP ${marked}`), `names both levels: ${r.reason}`)
  return r
}

const marked = (seed: string, refs: string[]): Record<string, unknown> => ({ ...malware(seed), object_marking_refs: refs })

describe('ingest: publish takes the TLP from markings', function () {
  this.timeout(30_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let node: DragnetNode
  let peer: NodeIdentity

  beforeEach(async () => {
    tmp = await tempDir()
    peer = await NodeIdentity.generate()
    node = await testNode({ dir: tmp.dir, config: { roster: [{ peerId: peer.peerId, name: 'peer', country: 'FR', role: 'bureau', addrs: [] }] } })
  })
  afterEach(async () => {
    await node.stop()
    await tmp.cleanup()
  })

  it('without a TLP, the strictest marking decides (TLP 1.0, TLP 2.0, granular); unmarked is green', async () => {
    const vs = await node.publish([
      marked('red2', [TLP2.red]),
      marked('strict', [TLP2.green, TLP2.amberStrict]),
      marked('amber1', [TLP1.amber]),
      marked('white', [TLP1.white]),
      { ...malware('granular'), granular_markings: [{ marking_ref: TLP2.red, selectors: ['name'] }] },
      malware('plain')
    ], {})
    assert.deepEqual(vs.map(v => stored(v).record.record.tlp), ['red', 'amber+strict', 'amber', 'clear', 'red', 'green'])
  })

  it('refuses a TLP looser than the marking with DRAGNET_TLP_CONFLICT and stores nothing; a stricter one stands', async () => {
    const before = node.store.counts().records
    const vs = await node.publish([marked('c1', [TLP2.red]), marked('c2', [TLP2.amberStrict]), { ...malware('c3'), granular_markings: [{ marking_ref: TLP1.red, selectors: ['name'] }] }], { tlp: 'green' })
    conflict(vs[0], 'green', 'red')
    const strict = conflict(vs[1], 'green', 'amber+strict')
    assert.equal(strict.details?.markingRef, TLP2.amberStrict)
    assert.equal(conflict(vs[2], 'green', 'red').details?.property, 'granular_markings[0]')
    conflict((await node.publish([marked('c4', [TLP2.amberStrict])], { tlp: 'amber', to: [peer.peerId] }))[0], 'amber', 'amber+strict')
    assert.equal(node.store.counts().records, before)

    assert.equal(stored((await node.publish([marked('s1', [TLP2.green])], { tlp: 'red' }))[0]).record.record.tlp, 'red')
    assert.equal(stored((await node.publish([marked('s2', [TLP2.amber])], { tlp: 'amber+strict' }))[0]).record.record.tlp, 'amber+strict')
    assert.equal(stored((await node.publish([marked('s3', [TLP2.red])], { tlp: 'red' }))[0]).record.record.tlp, 'red')
  })

  it('resolves TLP marking definitions published in the same bundle', async () => {
    const local = 'marking-definition--3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a'
    const def = { type: 'marking-definition', spec_version: '2.1', id: local, created: '2026-01-01T00:00:00.000Z', name: 'TLP:AMBER+STRICT', extensions: { [TLP2_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: 'amber+strict' } } }
    const obj = { ...indicator({ kind: 'domain', value: 'bundle-local.example' }), object_marking_refs: [local] }
    const [d, o] = await node.publish([def, obj], {})
    stored(d)
    assert.equal(stored(o).record.record.tlp, 'amber+strict')
    conflict((await node.publish([def, { ...obj, modified: '2026-02-01T00:00:00.000Z' }], { tlp: 'amber' }))[1], 'amber', 'amber+strict')
  })

  it('an amber marking carries a recipient list without a TLP given; an unmarked object cannot', async () => {
    const [a] = await node.publish([marked('to', [TLP2.amber])], { to: [peer.peerId] })
    assert.deepEqual(stored(a).record.record.to, [peer.peerId])
    assert.equal(stored(a).record.record.tlp, 'amber')
    const [b] = await node.publish([malware('to-plain')], { to: [peer.peerId] })
    assert.equal(b.status === 'rejected' ? b.code : b.status, 'DRAGNET_BAD_RECIPIENT')
  })
})
