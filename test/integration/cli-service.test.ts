import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO, runCli, spawnCli, waitForOutput } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

describe('CLI for service managers: --version, status --check', function () {
  // Five CLI processes and a node start: minutes on a loaded machine.
  this.timeout(300_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }

  beforeEach(async () => { tmp = await tempDir('dragnet-service-') })
  afterEach(async () => { await tmp.cleanup() })

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.trim(), version)
    }
  })

  it('status --check: exit 1 with the reason while no node runs, 0 while one runs and is healthy', async () => {
    const data = join(tmp.dir, 'node')
    const init = await runCli(['init', '--data', data, '--name', 'BKA', '--country', 'DE'])
    assert.equal(init.code, 0, init.stderr)
    const stopped = await runCli(['status', '--data', data, '--check'])
    assert.equal(stopped.code, 1)
    assert.match(stopped.stderr, /DRAGNET_STOPPED: no node runs on/)
    const child = spawnCli(['start', '--data', data, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    try {
      await waitForOutput(child, out => out.includes('api     http://'))
      const running = await runCli(['status', '--data', data, '--check'])
      assert.equal(running.code, 0, running.stderr)
      assert.match(running.stdout, /^healthy: node pid \d+, API 127\.0\.0\.1:\d+/)
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
    }
    const after = await runCli(['status', '--data', data, '--check'])
    assert.equal(after.code, 1, 'a stopped node is unhealthy again')
  })
})
