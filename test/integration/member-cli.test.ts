import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { initDataDir } from '../../src/identity/index.js'
import { runCli } from '../helpers/cli.js'
import { identityFor, seedFor } from '../helpers/federation.js'
import { tempDir } from '../helpers/tmp.js'

/* The README's membership commands, run as written (offline: no node runs on the dirs). */
describe('CLI: dragnet member', function () {
  this.timeout(240_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  before(async () => { tmp = await tempDir() })
  after(async () => { await tmp.cleanup() })

  it('issue → sign → publish → list; a non-root cannot issue; k-1 signatures are refused on publish', async () => {
    const names = ['cli-root-a', 'cli-root-b', 'cli-member']
    const ids = await Promise.all(names.map(identityFor))
    const dirs = names.map(n => join(tmp.dir, n))
    for (let i = 0; i < names.length; i++) {
      await initDataDir(dirs[i], { name: names[i], country: 'DE', seed: seedFor(names[i]), force: true })
      await writeFile(join(dirs[i], 'config.yaml'), `federation: { roots: [${ids[0].peerId}, ${ids[1].peerId}], threshold: 2 }\n`)
    }
    const cred = join(tmp.dir, 'member.cred.json')
    const notRoot = await runCli(['member', 'issue', '--data', dirs[2], '--peer', ids[2].peerId, '--name', 'M', '--country', 'it', '--role', 'contributor', '--out', cred])
    assert.notEqual(notRoot.code, 0)
    assert.match(notRoot.stderr, /DRAGNET_BAD_CREDENTIAL: .*not one of the federation.roots/)
    const issued = await runCli(['member', 'issue', '--data', dirs[0], '--peer', ids[2].peerId, '--name', 'M', '--country', 'it', '--role', 'contributor', '--days', '30', '--out', cred])
    assert.equal(issued.code, 0, issued.stderr)
    assert.match(issued.stdout, /not complete yet: .*1 valid root signature\(s\), the federation needs 2/)
    const early = await runCli(['member', 'publish', '--data', dirs[2], cred])
    assert.notEqual(early.code, 0)
    assert.match(early.stderr, /DRAGNET_BAD_CREDENTIAL: .*membership:too-few-signatures/)
    const signed = await runCli(['member', 'sign', '--data', dirs[1], cred])
    assert.equal(signed.code, 0, signed.stderr)
    assert.match(signed.stdout, /complete: 2 signature\(s\)/)
    const published = await runCli(['member', 'publish', '--data', dirs[0], cred])
    assert.equal(published.code, 0, published.stderr)
    assert.match(published.stdout, /accepted \(credential [0-9a-f]{64}\)/)
    const listed = await runCli(['member', 'list', '--data', dirs[0], '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const m = (JSON.parse(listed.stdout) as Array<{ peerId: string, name: string, country: string, role: string, status: string, source: string, connected: boolean }>).find(r => r.peerId === ids[2].peerId)
    assert.deepEqual(m && { name: m.name, country: m.country, role: m.role, status: m.status, source: m.source, connected: m.connected }, { name: 'M', country: 'IT', role: 'contributor', status: 'member', source: 'credential', connected: false })
  })
})
