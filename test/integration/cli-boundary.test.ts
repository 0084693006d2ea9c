import assert from 'node:assert/strict'
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { runCli, spawnCli, waitForOutput } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * The CLI as a careless operator meets it: a mistyped --data, a directory made by hand with
 * 0755, read tokens created and revoked while the node runs, a lookup that matches everything.
 */

/** Every path under `dir` with its mode, directories and files apart. */
async function modes (dir: string): Promise<Array<{ path: string, mode: number, dir: boolean }>> {
  const out: Array<{ path: string, mode: number, dir: boolean }> = []
  const st = await stat(dir)
  out.push({ path: dir, mode: st.mode & 0o777, dir: true })
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await modes(p))
    else out.push({ path: p, mode: (await stat(p)).mode & 0o777, dir: false })
  }
  return out
}

function assertPrivate (entries: Array<{ path: string, mode: number, dir: boolean }>, except: string[] = []): void {
  for (const e of entries) {
    if (except.some(x => e.path.endsWith(x))) continue
    assert.equal(e.mode, e.dir ? 0o700 : 0o600, `${e.path} is ${e.mode.toString(8)}`)
  }
}

describe('CLI: the boundary around a node', function () {
  this.timeout(240_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => { tmp = await tempDir() })
  afterEach(async () => { await tmp.cleanup() })

  it('only init and start create a node: every other command refuses a dir with no node key (DRAGNET_NO_NODE)', async () => {
    const input = join(tmp.dir, 'in.json')
    await writeFile(input, JSON.stringify(malware('x')))
    const missing = join(tmp.dir, 'typo')
    const empty = join(tmp.dir, 'empty')
    await mkdir(empty)
    const commands: string[][] = [
      ['publish', input], ['get', '1220' + '0'.repeat(64)], ['lookup', '192.0.2.1'], ['status'], ['status', '--json'], ['peers'],
      ['audit'], ['export'], ['export', '--out', join(tmp.dir, 'out.json')], ['import', input],
      ['token', 'list'], ['token', 'create', '--name', 'siem', '--max-tlp', 'green'], ['token', 'revoke', 'siem']
    ]
    // Every command on a missing dir; a few on an existing empty one (four processes at a time).
    const runs = [...commands.map(c => [missing, c] as const), ...[['lookup', '192.0.2.1'], ['status'], ['token', 'list']].map(c => [empty, c] as const)]
    for (let i = 0; i < runs.length; i += 4) {
      await Promise.all(runs.slice(i, i + 4).map(async ([dir, cmd]) => {
        const r = await runCli([...cmd, '--data', dir])
        assert.notEqual(r.code, 0, `${cmd.join(' ')} on ${dir}`)
        assert.match(r.stderr, /DRAGNET_NO_NODE/, `${cmd.join(' ')}: ${r.stderr}`)
        assert.ok(r.stderr.includes(dir), 'names the directory')
        assert.match(r.stderr, /dragnet init --data/, 'names the init command')
        assert.equal(r.stdout, '')
      }))
    }
    await assert.rejects(stat(missing), 'nothing created for a mistyped --data')
    assert.deepEqual(await readdir(empty), [], 'nothing created in an empty dir')
    await assert.rejects(stat(join(tmp.dir, 'out.json')), 'no export file left behind')
    // DRAGNET_DATA names the directory the same way.
    const env = await runCli(['lookup', '192.0.2.1'], { env: { DRAGNET_DATA: missing } })
    assert.match(env.stderr, /DRAGNET_NO_NODE/)
    // init, then every command works.
    assert.equal((await runCli(['init', '--data', missing])).code, 0)
    assert.equal((await runCli(['lookup', '192.0.2.1', '--data', missing])).code, 0)
  })

  it('keeps the data dir 0700 and its files 0600, LevelDB\'s included, fixing a dir made with 0755', async () => {
    const data = join(tmp.dir, 'node')
    await mkdir(data, { mode: 0o755 })
    await chmod(data, 0o755)
    const init = await runCli(['init', '--data', data])
    assert.equal(init.code, 0, init.stderr)
    assertPrivate(await modes(data))
    for (const f of ['node.key', 'node.json', 'api-token']) assert.equal((await stat(join(data, f))).mode & 0o777, 0o600, f)

    // A node runs, stores records (through its API), stops, starts again (LevelDB makes new
    // log, manifest and table files each time): all of it private.
    await writeFile(join(data, 'config.yaml'), 'api: 127.0.0.1:0\nlisten: [/ip4/127.0.0.1/tcp/0]\n')
    const run = async (): Promise<void> => {
      const child = spawnCli(['start', '--data', data])
      try {
        await waitForOutput(child, out => out.includes('api     http://'))
        const pub = await runCli(['publish', '--data', data, '--tlp', 'red', '-'], { input: JSON.stringify(Array.from({ length: 50 }, (_, i) => malware(`m${i}-${Date.now()}`))) })
        assert.equal(pub.code, 0, pub.stderr)
      } finally {
        child.kill('SIGTERM')
        await new Promise(resolve => child.on('exit', resolve))
      }
    }
    await run()
    // An older dragnet (or a copy made by hand) left a readable file and directory behind.
    const store = join(data, 'store')
    const ldb = (await readdir(store)).find(f => /^(CURRENT|MANIFEST-)/.test(f))!
    await chmod(join(store, ldb), 0o644)
    await chmod(store, 0o755)
    await chmod(data, 0o755)
    await run()
    const entries = await modes(data)
    assert.ok(entries.some(e => /\.(log|ldb)$/.test(e.path)), 'LevelDB files are there')
    assertPrivate(entries, ['config.yaml'])
  })

  it('token create | list | revoke, with the node running: a reader sees up to its ceiling, a revoked token is refused at once', async () => {
    const data = join(tmp.dir, 'node')
    assert.equal((await runCli(['init', '--data', data])).code, 0)
    for (const tlp of ['clear', 'green', 'amber', 'red']) {
      assert.equal((await runCli(['publish', '--data', data, '--tlp', tlp, '-'], { input: JSON.stringify(malware(`at-${tlp}`)) })).code, 0)
    }
    // Created with the node stopped...
    const created = await runCli(['token', 'create', '--data', data, '--name', 'siem', '--max-tlp', 'green'])
    assert.equal(created.code, 0, created.stderr)
    const siem = created.stdout.trim().split('\n').pop()!
    assert.match(siem, /^[A-Za-z0-9_-]{32,}$/)
    const file = await readFile(join(data, 'read-tokens.json'), 'utf8')
    assert.ok(!file.includes(siem), 'stored hashed')
    assert.equal((await stat(join(data, 'read-tokens.json'))).mode & 0o777, 0o600)
    const dup = await runCli(['token', 'create', '--data', data, '--name', 'siem', '--max-tlp', 'red'])
    assert.notEqual(dup.code, 0)
    const badTlp = await runCli(['token', 'create', '--data', data, '--name', 'x', '--max-tlp', 'purple'])
    assert.match(badTlp.stderr, /DRAGNET_BAD_TLP/)

    await writeFile(join(data, 'config.yaml'), 'api: 127.0.0.1:0\nlisten: [/ip4/127.0.0.1/tcp/0]\n')
    const child = spawnCli(['start', '--data', data])
    try {
      await waitForOutput(child, out => out.includes('api     http://'))
      const runtime = JSON.parse(await readFile(join(data, 'runtime.json'), 'utf8'))
      const tlpsSeen = async (token: string): Promise<number | string[]> => {
        const r = await fetch(`http://${String(runtime.api)}/api/records`, { headers: { authorization: `Bearer ${token}` } })
        if (r.status !== 200) return r.status
        return ((await r.json()) as any).records.map((x: any) => x.tlp).sort()
      }
      assert.deepEqual(await tlpsSeen(siem), ['clear', 'green'])
      // ...and one created while it runs counts at once.
      const soc = (await runCli(['token', 'create', '--data', data, '--name', 'soc', '--max-tlp', 'amber'])).stdout.trim().split('\n').pop()!
      assert.deepEqual(await tlpsSeen(soc), ['amber', 'clear', 'green'])
      const list = JSON.parse((await runCli(['token', 'list', '--data', data, '--json'])).stdout)
      assert.deepEqual(list.map((t: any) => [t.name, t.maxTlp]), [['siem', 'green'], ['soc', 'amber']])
      assert.ok(!JSON.stringify(list).includes(siem))
      const human = await runCli(['token', 'list', '--data', data])
      assert.match(human.stdout, /siem\s+green/)
      const revoked = await runCli(['token', 'revoke', '--data', data, 'siem'])
      assert.equal(revoked.code, 0, revoked.stderr)
      assert.equal(await tlpsSeen(siem), 403, 'refused from the next request on')
      assert.deepEqual(await tlpsSeen(soc), ['amber', 'clear', 'green'])
      const again = await runCli(['token', 'revoke', '--data', data, 'siem'])
      assert.match(again.stderr, /DRAGNET_NOT_FOUND/)
      // The CLI itself uses the node's API token: it sees everything.
      const status = JSON.parse((await runCli(['status', '--data', data, '--json'])).stdout)
      assert.equal(status.records, 4)
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.on('exit', resolve))
    }
  })

  it('lookup --limit and --cursor page through everything exactly once, offline and through a running node; domains find subdomains', async () => {
    const data = join(tmp.dir, 'node')
    assert.equal((await runCli(['init', '--data', data])).code, 0)
    const objects = [
      ...Array.from({ length: 23 }, (_, i) => indicator({ kind: 'ipv4', value: `10.${i}.${i * 7 % 256}.${i + 1}` })),
      indicator({ kind: 'domain', value: 'example.com' }), indicator({ kind: 'domain', value: 'x.y.example.com' }), indicator({ kind: 'domain', value: 'notexample.com' })
    ]
    assert.equal((await runCli(['publish', '--data', data, '-'], { input: JSON.stringify(objects) })).code, 0)
    const page = async (args: string[]): Promise<any> => {
      const r = await runCli(['lookup', '--data', data, ...args])
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout)
    }
    const walk = async (): Promise<string[]> => {
      const ids: string[] = []
      let next: string | undefined
      do {
        const p = await page(['0.0.0.0/0', '--limit', '10', ...(next != null ? ['--cursor', next] : [])])
        assert.ok(p.records.length <= 10)
        ids.push(...p.records.map((r: any) => r.id))
        next = p.next
      } while (next != null)
      return ids
    }
    const offline = await walk()
    assert.equal(offline.length, 23)
    assert.equal(new Set(offline).size, 23)
    assert.deepEqual((await page(['example.com'])).records.map((r: any) => r.body.name).sort(), ['domain example.com', 'domain x.y.example.com'])
    assert.deepEqual((await page(['example.com', '--exact'])).records.map((r: any) => r.body.name), ['domain example.com'])
    assert.notEqual((await runCli(['lookup', '--data', data, '0.0.0.0/0', '--limit', '0'])).code, 0)
    assert.match((await runCli(['lookup', '--data', data, '0.0.0.0/0', '--cursor', 'bogus'])).stderr, /DRAGNET_BAD_REQUEST/)

    await writeFile(join(data, 'config.yaml'), 'api: 127.0.0.1:0\nlisten: [/ip4/127.0.0.1/tcp/0]\n')
    const child = spawnCli(['start', '--data', data])
    try {
      await waitForOutput(child, out => out.includes('api     http://'))
      assert.deepEqual((await walk()).sort(), [...offline].sort())
      assert.equal((await page(['x.y.example.com'])).records.length, 1)
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.on('exit', resolve))
    }
  })
})
