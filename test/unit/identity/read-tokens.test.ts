import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createReadToken, loadReadTokens, readTokensFile, revokeReadToken } from '../../../src/identity/read-tokens.js'
import { tempDir } from '../../helpers/tmp.js'

describe('read tokens file: concurrent writers', () => {
  let tmp: { dir: string, cleanup: () => Promise<void> }
  beforeEach(async () => { tmp = await tempDir('dragnet-read-tokens-') })
  afterEach(async () => { await tmp.cleanup() })

  it('twelve creates at once keep all twelve, and revokes at once remove exactly theirs', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `reader-${i}`)
    await Promise.all(names.map(n => createReadToken(tmp.dir, n, 'green')))
    assert.deepEqual((await loadReadTokens(tmp.dir)).map(t => t.name).sort(), [...names].sort())
    await Promise.all(names.slice(0, 6).map(n => revokeReadToken(tmp.dir, n)))
    assert.deepEqual((await loadReadTokens(tmp.dir)).map(t => t.name).sort(), names.slice(6).sort())
  })

  it('takes over a lock left by a process that died', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.pid'])
    assert.equal(dead.status, 0)
    await writeFile(`${readTokensFile(tmp.dir)}.lock`, String(dead.pid))
    await createReadToken(tmp.dir, 'after-crash', 'amber')
    assert.deepEqual((await loadReadTokens(tmp.dir)).map(t => t.name), ['after-crash'])
  })
})
