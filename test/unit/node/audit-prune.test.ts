import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { malware } from '../../../src/sim/stix-factory.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

describe('node: audit retention', function () {
  this.timeout(60_000)

  it('prunes the audit log on a timer, not only when withheld entries are flushed', async () => {
    const tmp = await tempDir()
    // Every published record writes an "accept" audit entry in its own batch; nothing is withheld.
    const node = await testNode({ dir: tmp.dir, config: { audit: { maxEntries: 100, pruneIntervalMs: 100 } } })
    try {
      for (let i = 0; i < 3; i++) {
        const vs = await node.publish(Array.from({ length: 60 }, (_, j) => malware(`a-${i}-${j}`)), { tlp: 'green' })
        assert.ok(vs.every(v => v.status === 'stored'))
      }
      const deadline = Date.now() + 10_000
      while (node.store.counts().audit > 100) {
        assert.ok(Date.now() < deadline, `still ${node.store.counts().audit} audit entries`)
        await sleep(50)
      }
      const entries = await node.store.auditEntries({ limit: 1000 })
      assert.equal(entries.length, 100, 'the newest 100 are kept')
      assert.equal(node.store.counts().records, 180)
    } finally {
      await node.stop()
      await tmp.cleanup()
    }
  })
})
