import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../../src/config/config.js'
import { isDragnetError } from '../../../src/errors.js'
import { tempDir } from '../../helpers/tmp.js'

async function codeOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    if (isDragnetError(err)) return `${err.code}: ${err.message}`
    throw err
  }
}

describe('config', () => {
  it('defaults, then the file, then flags; paths in a file resolve against the file', async () => {
    const tmp = await tempDir()
    try {
      const file = join(tmp.dir, 'node.yaml')
      await writeFile(join(tmp.dir, 'roster.yaml'), '- { peerId: 12D3KooWAehvehVTQPWKTo3P9iNhJXg3SVcATvtiR9ymngeuJK1T, name: A, country: DE, role: bureau, addrs: [/ip4/127.0.0.1/tcp/4001] }\n')
      await writeFile(file, 'name: BKA\ncountry: DE\napi: 127.0.0.1:7801\nroster: roster.yaml\npolicy: policy.yaml\nsync: { intervalMs: 5000 }\n')
      const cfg = await loadConfig({ file, overrides: { api: '127.0.0.1:7802' } })
      assert.equal(cfg.name, 'BKA')
      assert.equal(cfg.api, '127.0.0.1:7802')
      assert.equal(cfg.sync.intervalMs, 5000)
      assert.equal(cfg.sync.maxRecordsPerBatch, 500, 'untouched defaults stay')
      assert.equal(cfg.roster[0].name, 'A')
      assert.equal(cfg.policy, join(tmp.dir, 'policy.yaml'))
    } finally {
      await tmp.cleanup()
    }
  })

  it('refuses bad values with the key that is wrong', async () => {
    assert.match(await codeOf(loadConfig({ overrides: { listen: ['/ip4/127.0.0.1/tcpp/1'] } })), /DRAGNET_BAD_CONFIG: .*listen.*not a multiaddr/)
    assert.match(await codeOf(loadConfig({ overrides: { api: 'localhost' } })), /DRAGNET_BAD_CONFIG: .*api/)
    assert.match(await codeOf(loadConfig({ overrides: { country: 'Germany' } })), /DRAGNET_BAD_CONFIG: .*country/)
    assert.match(await codeOf(loadConfig({ overrides: { sync: { intervalMs: -1 } } })), /DRAGNET_BAD_CONFIG: .*sync\.intervalMs/)
    assert.match(await codeOf(loadConfig({ overrides: { typo: 1 } })), /DRAGNET_BAD_CONFIG: .*typo/)
  })
})
