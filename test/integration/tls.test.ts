import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { get as httpGet } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { startApi, type RunningApi } from '../../src/api/server.js'
import { loadConfig } from '../../src/config/config.js'
import { isDragnetError } from '../../src/errors.js'
import type { DragnetNode } from '../../src/node.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { runCli, spawnCli, waitForOutput } from '../helpers/cli.js'
import { waitFor } from '../helpers/federation.js'
import { testNode } from '../helpers/node.js'
import { SseClient } from '../helpers/sse.js'
import { tempDir } from '../helpers/tmp.js'

const TOKEN = 'tls-admin-token-0123456789abcdef'

/** A self-signed certificate for localhost and 127.0.0.1, made here with openssl. */
function selfSigned (dir: string, name: string): { cert: string, key: string } {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key }
}

async function httpsGet (url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    // A fresh connection each time: a pooled one would keep the certificate it was opened with.
    const req = httpsRequest(url, { ca, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('api.tls: the API over HTTPS', function () {
  this.timeout(180_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let node: DragnetNode
  let api: RunningApi | undefined
  let files: { cert: string, key: string }

  beforeEach(async () => {
    tmp = await tempDir('dragnet-tls-')
    files = selfSigned(tmp.dir, 'node')
  })

  afterEach(async () => {
    await api?.close()
    api = undefined
    await node?.stop()
    await tmp.cleanup()
  })

  it('serves HTTPS only: the REST API and the event stream over TLS, nothing in clear text', async () => {
    node = await testNode({ dir: join(tmp.dir, 'data'), config: { api: { address: '127.0.0.1:0', tls: files } } })
    api = await startApi(node, '127.0.0.1:0', { token: TOKEN })
    assert.equal(api.scheme, 'https')
    const ca = readFileSync(files.cert, 'utf8')
    const health = await httpsGet(`https://${api.address}/health`, ca)
    assert.equal(health.status, 200)
    assert.equal(JSON.parse(health.body).ok, true)
    // The TAXII discovery names the https URL.
    const discovery = await httpsGet(`https://${api.address}/taxii2/`, ca, { authorization: `Bearer ${TOKEN}`, accept: 'application/taxii+json;version=2.1' })
    assert.match(JSON.parse(discovery.body).default, /^https:\/\/127\.0\.0\.1:\d+\/taxii2\/dragnet\/$/)
    // A client that does not trust the certificate is refused by its own TLS stack.
    await assert.rejects(httpsGet(`https://${api.address}/health`, readFileSync(selfSigned(tmp.dir, 'other').cert, 'utf8')), /self-signed|self signed|unable to verify/i)
    // Plain HTTP to the port gets no answer in clear text.
    const plain = await new Promise<string>((resolve) => {
      httpGet(`http://${api!.address}/health`, (res) => { resolve(`HTTP ${String(res.statusCode)}`) }).on('error', (err) => { resolve(err.message) })
    })
    assert.doesNotMatch(plain, /HTTP 200/)
    const stream = await SseClient.open(`https://${api.address}/api/stream`, {}, { ca })
    try {
      assert.equal(stream.status, 200)
      await node.publish([indicator({ kind: 'ipv4', value: '10.7.0.1', seed: 'tls' })], { tlp: 'green' })
      await stream.until(() => stream.events.length === 1, 10_000, 'an event over TLS')
    } finally {
      stream.close()
    }
  })

  it('reloads the certificate for new connections without a restart; a pair that does not load is refused and the old one stays', async () => {
    node = await testNode({ dir: join(tmp.dir, 'data'), config: { api: { address: '127.0.0.1:0', tls: files } } })
    api = await startApi(node, '127.0.0.1:0', { token: TOKEN })
    const first = readFileSync(files.cert, 'utf8')
    assert.equal((await httpsGet(`https://${api.address}/health`, first)).status, 200)
    // A renewed certificate written over the same files (as certbot or an operator would).
    const renewed = selfSigned(tmp.dir, 'renewed')
    await writeFile(files.cert, readFileSync(renewed.cert))
    await writeFile(files.key, readFileSync(renewed.key))
    await api.reloadTls()
    const second = readFileSync(files.cert, 'utf8')
    assert.equal((await httpsGet(`https://${api.address}/health`, second)).status, 200)
    await assert.rejects(httpsGet(`https://${api.address}/health`, first), /self-signed|self signed|unable to verify/i, 'the old certificate is no longer served')
    // A key that does not belong to the certificate: refused, and the renewed one stays.
    await writeFile(files.key, readFileSync(selfSigned(tmp.dir, 'stray').key))
    await assert.rejects(api.reloadTls(), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_CONFIG') && /not a PEM certificate and its private key/.test(err.message))
    assert.equal((await httpsGet(`https://${api.address}/health`, second)).status, 200)
  })

  it('refuses unreadable or mismatched certificate files with DRAGNET_BAD_CONFIG', async () => {
    node = await testNode({ dir: join(tmp.dir, 'data') })
    const other = selfSigned(tmp.dir, 'other')
    for (const [tls, pattern] of [
      [{ cert: join(tmp.dir, 'missing.crt'), key: files.key }, /api\.tls\.cert: cannot read .*ENOENT/],
      [{ cert: files.cert, key: other.key }, /not a PEM certificate and its private key/],
      [{ cert: files.key, key: files.key }, /not a PEM certificate/]
    ] as const) {
      const n = await testNode({ dir: join(tmp.dir, 'x' + Math.random().toString(36).slice(2)), config: { api: { address: '127.0.0.1:0', tls } } })
      try {
        await assert.rejects(startApi(n, '127.0.0.1:0', { token: TOKEN }), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_CONFIG') && pattern.test(err.message))
      } finally {
        await n.stop()
      }
    }
  })

  it('config: cert and key paths resolve against the config file, and --api keeps them', async () => {
    await writeFile(join(tmp.dir, 'node.yaml'), 'api: { address: 127.0.0.1:7799, tls: { cert: node.crt, key: node.key } }\n')
    const cfg = await loadConfig({ file: join(tmp.dir, 'node.yaml'), overrides: { api: '127.0.0.1:0' } })
    assert.equal(cfg.api, '127.0.0.1:0')
    assert.deepEqual(cfg.apiTls, { cert: files.cert, key: files.key })
    const plain = await loadConfig({ overrides: { api: '127.0.0.1:7798' } })
    assert.equal(plain.apiTls, null)
    await assert.rejects(loadConfig({ overrides: { api: { address: '127.0.0.1:1', tls: { cert: 'a' } } } }), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_CONFIG'))
  })

  it('dragnet start reloads api.tls on SIGHUP', async () => {
    const data = join(tmp.dir, 'hup')
    // Generous deadlines: each CLI start loads the whole program, slow on a loaded machine.
    assert.equal((await runCli(['init', '--data', data, '--name', 'BKA', '--country', 'DE'], { timeoutMs: 180_000 })).code, 0)
    await writeFile(join(data, 'config.yaml'), `api: { address: 127.0.0.1:0, tls: { cert: ${files.cert}, key: ${files.key} } }\nlisten: [/ip4/127.0.0.1/tcp/0]\n`)
    const child = spawnCli(['start', '--data', data])
    try {
      const out = await waitForOutput(child, o => o.includes('api     https://'), 120_000)
      const address = /api {5}https:\/\/(127\.0\.0\.1:\d+)/.exec(out)![1]
      const renewed = selfSigned(tmp.dir, 'renewed-hup')
      await writeFile(files.cert, readFileSync(renewed.cert))
      await writeFile(files.key, readFileSync(renewed.key))
      child.kill('SIGHUP')
      const ca = readFileSync(renewed.cert, 'utf8')
      await waitFor(async () => await httpsGet(`https://${address}/health`, ca).then(r => r.status === 200, () => false), 'the renewed certificate is served after SIGHUP', 60_000, 200)
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
    }
  })

  it('the CLI reaches a node serving HTTPS, trusting exactly its certificate', async () => {
    const data = join(tmp.dir, 'cli')
    assert.equal((await runCli(['init', '--data', data, '--name', 'BKA', '--country', 'DE'])).code, 0)
    await writeFile(join(data, 'config.yaml'), `api: { address: 127.0.0.1:0, tls: { cert: ${files.cert}, key: ${files.key} } }\nlisten: [/ip4/127.0.0.1/tcp/0]\n`)
    const child = spawnCli(['start', '--data', data])
    try {
      const out = await waitForOutput(child, o => o.includes('api     https://'))
      assert.match(out, /api {5}https:\/\/127\.0\.0\.1:\d+/)
      const check = await runCli(['status', '--data', data, '--check'])
      assert.equal(check.code, 0, check.stderr)
      const pub = await runCli(['publish', '--data', data, '-'], { input: JSON.stringify(indicator({ kind: 'domain', value: 'tls.example.org', seed: 'cli-tls' })) })
      assert.equal(pub.code, 0, pub.stderr)
      const st = JSON.parse((await runCli(['status', '--data', data, '--json'])).stdout)
      assert.equal(st.records, 1)
      assert.equal(st.running, true)
    } finally {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
    }
  })
})
