import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { validate } from 'dockerfile-utils'
import { parse as parseYaml } from 'yaml'
import { indicator } from '../../src/sim/stix-factory.js'
import { CLI_ARGS, REPO, runCli } from '../helpers/cli.js'
import { freePorts, tempDir } from '../helpers/tmp.js'

/*
 * docker build is not available on these machines, nor a systemd we may install units into. So:
 * the Dockerfile goes through a Dockerfile linter and structural checks, and the systemd unit's
 * and the compose file's commands are run here as they are written, with only the paths of the
 * installation (and the compose service names) mapped to this checkout and a temp dir.
 */

const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8')
const CLI = [process.execPath, ...CLI_ARGS]
// The enroll script expands $DRAGNET unquoted: the checkout's path must hold no spaces.
const CLI_SHELL = CLI.join(' ')

interface Instruction { keyword: string, args: string }

function instructions (text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ')
  return joined.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#')).map(l => {
    const sp = l.indexOf(' ')
    return { keyword: l.slice(0, sp).toUpperCase(), args: l.slice(sp + 1).trim() }
  })
}

/** Spawns a command line; resolves once `ready` holds on its output. */
async function startProcess (argv: string[], env: Record<string, string>, ready: (out: string) => boolean, ms = 120_000): Promise<{ child: ChildProcess, out: () => string }> {
  const child = spawn(argv[0], argv.slice(1), { cwd: REPO, env: { ...process.env, DRAGNET_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d) => { out += String(d) })
  child.stderr!.on('data', (d) => { out += String(d) })
  const deadline = Date.now() + ms
  while (!ready(out)) {
    if (child.exitCode != null) throw new Error(`${argv.join(' ')} exited ${child.exitCode}: ${out}`)
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${argv.join(' ')} not ready: ${out}`) }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return { child, out: () => out }
}

async function stopProcess (child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode != null) return child.exitCode
  const exited = new Promise<number | null>(resolve => child.once('exit', (code) => { resolve(code) }))
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, ms)
  const code = await exited
  clearTimeout(timer)
  return code
}

async function waitFor<T> (fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

describe('packaging: Dockerfile, systemd unit, compose federation', function () {
  this.timeout(600_000)

  describe('Dockerfile', () => {
    const ins = instructions(dockerfile)
    const stages = ins.filter(i => i.keyword === 'FROM')
    const finalStage = ins.slice(ins.lastIndexOf(stages[stages.length - 1]))

    it('passes the Dockerfile linter (dockerfile-utils), which does find faults', () => {
      assert.deepEqual(validate(dockerfile).map(d => `${d.range.start.line + 1}: ${d.message}`), [])
      // The linter is live: a broken file gets diagnostics.
      assert.ok(validate('FROM node:20\nEXPOSE port\nHEALTHCHECK CMD\nWORKDIR relative\n').length >= 2)
    })

    it('is multi-stage, runs as a non-root user, declares the data volume and a health check by status --check', () => {
      assert.ok(stages.length >= 2, 'a build stage and a runtime stage')
      assert.ok(ins.some(i => i.keyword === 'COPY' && /--from=build\b/.test(i.args)), 'the runtime stage copies from the build stage')
      const user = finalStage.filter(i => i.keyword === 'USER').at(-1)
      assert.ok(user != null && !/^(root|0)(:|$)/.test(user.args), `final USER is not root (${user?.args ?? 'none'})`)
      const volume = finalStage.find(i => i.keyword === 'VOLUME')
      assert.ok(volume?.args.includes('/var/lib/dragnet'))
      const env = finalStage.filter(i => i.keyword === 'ENV').map(i => i.args).join(' ')
      assert.match(env, /DRAGNET_DATA=\/var\/lib\/dragnet/, 'the CLI (and the health check) find the volume by default')
      const health = finalStage.find(i => i.keyword === 'HEALTHCHECK')
      assert.match(health?.args ?? '', /CMD \["dragnet", "status", "--check"\]/)
      assert.match(finalStage.find(i => i.keyword === 'ENTRYPOINT')?.args ?? '', /\["dragnet"\]/)
    })

    it('copies only what exists in the checkout', () => {
      for (const i of ins.filter(i => i.keyword === 'COPY' && !i.args.includes('--from='))) {
        const parts = i.args.split(/\s+/)
        for (const src of parts.slice(0, -1)) assert.ok(existsSync(join(REPO, src)), `COPY ${src}: not in the checkout`)
      }
    })
  })

  it('systemd unit: verifies, is sandboxed, and its ExecStart and ExecReload run a healthy node that stops cleanly', async function () {
    const unit = readFileSync(join(REPO, 'contrib', 'systemd', 'dragnet.service'), 'utf8')
    const values = (key: string): string[] => unit.split('\n').filter(l => l.startsWith(key + '=')).map(l => l.slice(key.length + 1))
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['PrivateDevices', 'yes'], ['CapabilityBoundingSet', ''], ['StateDirectory', 'dragnet'], ['UMask', '0077'], ['User', 'dragnet']]) {
      assert.deepEqual(values(k), [v], `${k}=${v}`)
    }
    assert.ok(values('SystemCallFilter').length > 0 && values('RestrictAddressFamilies').length > 0)
    const verify = spawnSync('systemd-analyze', ['verify', join(REPO, 'contrib', 'systemd', 'dragnet.service')], { encoding: 'utf8' })
    if (verify.error == null) assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`)
    else console.log('      (systemd-analyze not installed: unit not verified by systemd)')

    const tmp = await tempDir('dragnet-systemd-')
    try {
      const data = join(tmp.dir, 'var-lib-dragnet')
      const etc = join(tmp.dir, 'etc-dragnet')
      // The example config, with free ports and the checkout's policies; roster and key beside it.
      const cfg = (await readFile(join(REPO, 'contrib', 'systemd', 'config.yaml'), 'utf8'))
        .replace('/ip4/0.0.0.0/tcp/4001', '/ip4/127.0.0.1/tcp/0').replace('127.0.0.1:7700', '127.0.0.1:0')
        .replace('/opt/dragnet/config/policies', join(REPO, 'config', 'policies'))
      await runCli(['init', '--data', etc, '--name', 'x']).then(r => { assert.equal(r.code, 0, r.stderr) })
      await writeFile(join(etc, 'config.yaml'), cfg)
      await writeFile(join(etc, 'roster.yaml'), '[]\n')
      assert.equal((await runCli(['psk', join(etc, 'swarm.key')])).code, 0)
      const map = (s: string): string => s.replaceAll('/var/lib/dragnet', data).replaceAll('/etc/dragnet', etc)
      const env = Object.fromEntries(values('Environment').map(e => map(e).split('=') as [string, string]))
      const exec = values('ExecStart')[0].split(/\s+/)
      assert.deepEqual(exec.slice(0, 2), ['/usr/bin/node', '/opt/dragnet/dist/src/cli/main.js'])
      const argv = [...CLI, ...exec.slice(2).map(map)]
      // At info level the node logs its policy reload: at the tests' usual `warn` the wait below
      // could only time out (30 s lost on every run, and the reload never checked).
      const node = await startProcess(argv, { ...env, DRAGNET_LOG_LEVEL: 'info' }, out => out.includes('api     http://'))
      try {
        assert.match(node.out(), /policy {2}eu-bureau/)
        // DRAGNET_DATA from the unit's Environment= is what a bare `dragnet status --check` uses.
        const check = await runCli(['status', '--check'], { env })
        assert.equal(check.code, 0, check.stderr + check.stdout)
        // ExecReload: SIGHUP reloads the policy and the node stays healthy.
        assert.deepEqual(values('ExecReload'), ['/bin/kill -HUP $MAINPID'])
        node.child.kill('SIGHUP')
        await waitFor(async () => /policy reloaded/.test(node.out()) ? true : undefined, 60_000, 'the policy reload')
        assert.equal((await runCli(['status', '--check'], { env })).code, 0)
      } finally {
        const timeout = Number(values('TimeoutStopSec')[0]) * 1000
        const started = Date.now()
        const code = await stopProcess(node.child, timeout)
        assert.equal(code, 0, 'SIGTERM (KillSignal) stops the node cleanly')
        assert.ok(Date.now() - started < timeout)
      }
    } finally {
      await tmp.cleanup()
    }
  })

  it('compose: the enroll script and the three members\' commands, run locally, make a federation that shares a record', async function () {
    const compose = parseYaml(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { entrypoint?: string[], command?: string[], healthcheck?: { test: string[] }, depends_on?: Record<string, unknown> }> }
    const services = compose.services
    assert.deepEqual(Object.keys(services).sort(), ['acme', 'anssi', 'bka', 'enroll'])
    const tmp = await tempDir('dragnet-compose-')
    const children: ChildProcess[] = []
    try {
      const fed = join(tmp.dir, 'fed')
      const map = (s: string): string => s.replaceAll('/var/lib/dragnet', fed).replace('/opt/dragnet/', REPO + '/')
      const hosts = { HOST_BKA: 'localhost', HOST_ANSSI: 'localhost', HOST_ACME: 'localhost' }
      // enroll: its entrypoint, with the checkout's CLI and policies.
      const enroll = services.enroll.entrypoint!.map(map)
      const r = spawnSync(enroll[0], enroll.slice(1), { cwd: REPO, encoding: 'utf8', env: { ...process.env, FED: fed, DRAGNET: CLI_SHELL, POLICIES: join(REPO, 'config', 'policies'), ...hosts }, timeout: 300_000 })
      assert.equal(r.status, 0, r.stderr + r.stdout)
      const members = ['bka', 'anssi', 'acme']
      // The compose file's fixed ports (47401-47403 between members, 47411-47413 for the APIs) are
      // the containers' own; here all three share this machine with other runs: free ports instead.
      const ports = new Map((await freePorts(6)).map((p, i) => [47401 + Math.floor(i / 3) * 10 + i % 3, p]))
      const mapPorts = (s: string): string => s.replace(/\b474[01][123]\b/g, p => String(ports.get(Number(p)) ?? p))
      for (const f of [join(fed, 'roster.yaml'), ...members.map(m => join(fed, m, 'config.yaml'))]) {
        const text = await readFile(f, 'utf8')
        assert.equal([...text.matchAll(/\b474[01][123]\b/g)].length, f.endsWith('roster.yaml') ? 3 : 2, `${f}: the compose ports`)
        await writeFile(f, mapPorts(text))
      }
      for (const m of members) {
        assert.ok(services[m].depends_on?.enroll != null, `${m} waits for enroll`)
        const cmd = services[m].command!.map(map)
        assert.equal(cmd[0], 'start')
        const p = await startProcess([...CLI, ...cmd], {}, out => out.includes('api     http://'))
        children.push(p.child)
      }
      const roster = readFileSync(join(fed, 'roster.yaml'), 'utf8')
      assert.equal(roster.trim().split('\n').length, 3)
      // Each service's health check, as compose runs it.
      for (const m of members) {
        const test = services[m].healthcheck!.test
        assert.deepEqual(test.slice(0, 2), ['CMD', 'dragnet'])
        const check = await runCli(test.slice(2).map(map))
        assert.equal(check.code, 0, `${m}: ${check.stderr}`)
      }
      const token = (m: string): string => readFileSync(join(fed, m, 'api-token'), 'utf8').trim()
      const api = (m: string): string => `http://127.0.0.1:${ports.get(47411 + members.indexOf(m))!}`
      const obj = indicator({ kind: 'ipv4', value: '185.220.101.77', seed: 'compose-federation' })
      const res = await fetch(`${api('bka')}/api/records?tlp=green`, { method: 'POST', headers: { authorization: `Bearer ${token('bka')}`, 'content-type': 'application/json' }, body: JSON.stringify(obj) })
      assert.equal(res.status, 201, await res.text())
      for (const m of ['anssi', 'acme']) {
        await waitFor(async () => {
          const l = await fetch(`${api(m)}/api/lookup?value=185.220.101.77`, { headers: { authorization: `Bearer ${token(m)}` } })
          const body = await l.json() as { records: unknown[] }
          return body.records.length === 1 ? true : undefined
        }, 60_000, `the record on ${m} (${JSON.stringify(await (await fetch(`${api(m)}/api/peers`, { headers: { authorization: `Bearer ${token(m)}` } })).json().catch(() => undefined))})`)
      }
      const status = await (await fetch(`${api('anssi')}/api/status`, { headers: { authorization: `Bearer ${token('anssi')}` } })).json() as { policy: string, peers: { connected: number } }
      assert.equal(status.policy, 'strict-bureau')
      assert.equal(status.peers.connected, 2)
    } finally {
      for (const c of children) await stopProcess(c, 30_000)
      await tmp.cleanup()
    }
  })
})
