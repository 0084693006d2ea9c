import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startApi } from '../../src/api/server.js'
import { loadConfig } from '../../src/config/config.js'
import { ensureToken, initDataDir } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { TLP1, TLP2, TLP2_EXTENSION } from '../helpers/tlp-markings.js'

/*
 * The trust boundary on the way in (issue 10, items 5 and 7), through the real interfaces: raw
 * HTTP against a listening API, the CLI against a running node and against a stopped one, and
 * `dragnet import`. A record is never looser than the TLP marking on its body; input nested too
 * deep is refused with a 4xx before anything walks it.
 */

const RED = { ...indicator({ kind: 'ipv4', value: '203.0.113.66', seed: 'red-2.0' }), object_marking_refs: [TLP2.red] }
const STRICT = { ...malware('amber-strict-2.0'), object_marking_refs: [TLP2.amberStrict] }

/** A 35 KB body: a malware object whose custom property nests ~17,000 arrays deep. Built as text: JSON.stringify itself would overflow. */
function deepBody (): string {
  const n = 17_000
  return JSON.stringify(malware('deep')).slice(0, -1) + ',"x_deep":' + '['.repeat(n) + ']'.repeat(n) + '}'
}

/** An indicator whose pattern stacks 12,000 qualifiers on one observation. */
function stackedQualifiers (): Record<string, unknown> {
  return { ...indicator({ kind: 'ipv4', value: '198.51.100.1', seed: 'stacked' }), pattern: "[ipv4-addr:value = '198.51.100.1']" + ' REPEATS 2 TIMES'.repeat(12_000) }
}

describe('trust boundary on the way in: TLP markings and depth limits', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }

  before(async () => { tmp = await tempDir() })
  after(async () => { await tmp.cleanup() })

  describe('a running node: raw HTTP and the CLI through its API', () => {
    let dir: string
    let node: DragnetNode
    let base: string
    let token: string

    before(async () => {
      dir = join(tmp.dir, 'running')
      await initDataDir(dir, { name: 'running', country: 'DE' })
      token = await ensureToken(dir)
      node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({ overrides: { ingest: { verifyWorkers: 0 } } }), log: silentLogger(), network: false })
      await node.start({ api: async n => await startApi(n, '127.0.0.1:0', { token }) })
      base = `http://${String((await node.status()).api)}`
    })
    after(async () => { await node.stop() })

    const post = async (body: string, query = ''): Promise<{ status: number, body: any }> => {
      const res = await fetch(`${base}/api/records${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body })
      return { status: res.status, body: await res.json() }
    }
    const recordTlp = async (id: string): Promise<string> => ((await (await fetch(`${base}/api/records/${id}`)).json()) as { tlp: string }).tlp

    it('POST /api/records: without tlp the marking decides; a looser tlp is 422 DRAGNET_TLP_CONFLICT naming both levels', async () => {
      const before = node.store.counts().records
      const conflict = await post(JSON.stringify(RED), '?tlp=green')
      assert.equal(conflict.status, 422)
      assert.equal(conflict.body.code, 'DRAGNET_TLP_CONFLICT')
      assert.match(conflict.body.message, /TLP green.*TLP red/)
      const wrapped = await post(JSON.stringify({ stix: STRICT, tlp: 'amber' }))
      assert.equal(wrapped.body.code, 'DRAGNET_TLP_CONFLICT')
      assert.equal(node.store.counts().records, before, 'nothing stored')

      const red = await post(JSON.stringify(RED))
      assert.equal(red.status, 201, JSON.stringify(red.body))
      assert.equal(await recordTlp(red.body.results[0].id), 'red')
      const strict = await post(JSON.stringify({ stix: STRICT }))
      assert.equal(await recordTlp(strict.body.results[0].id), 'amber+strict')
      const stricter = await post(JSON.stringify({ ...STRICT, modified: '2026-03-01T00:00:00.000Z' }), '?tlp=red')
      assert.equal(await recordTlp(stricter.body.results[0].id), 'red', 'a stricter TLP than the marking stands')
      const plain = await post(JSON.stringify(malware('unmarked')))
      assert.equal(await recordTlp(plain.body.results[0].id), 'green')
    })

    it('POST /api/records: a 35 KB deeply nested body is 400 DRAGNET_TOO_DEEP, 12,000 stacked qualifiers 400 DRAGNET_BAD_PATTERN', async () => {
      const before = node.store.counts().records
      const deep = deepBody()
      assert.ok(deep.length > 34_000 && deep.length < 40_000)
      const cases: Array<[string, string]> = [
        [deep, 'DRAGNET_TOO_DEEP'],
        ['['.repeat(17_500) + ']'.repeat(17_500), 'DRAGNET_TOO_DEEP'],
        ['{"stix":' + '{"a":'.repeat(6000) + '1' + '}'.repeat(6000) + '}', 'DRAGNET_TOO_DEEP'],
        [JSON.stringify({ ...malware('forty'), x_nested: JSON.parse('['.repeat(40) + ']'.repeat(40)) }), 'DRAGNET_TOO_DEEP'],
        [JSON.stringify(stackedQualifiers()), 'DRAGNET_BAD_PATTERN'],
        [JSON.stringify({ ...indicator({ kind: 'ipv4', value: '198.51.100.2', seed: 'parens' }), pattern: '('.repeat(5000) + "[ipv4-addr:value = '198.51.100.2']" + ')'.repeat(5000) }), 'DRAGNET_BAD_PATTERN']
      ]
      for (const [body, code] of cases) {
        const r = await post(body)
        assert.equal(r.status, 400, `${code}: ${JSON.stringify(r.body).slice(0, 200)}`)
        assert.equal(r.body.code, code)
        assert.doesNotMatch(r.body.message, /call stack/i)
      }
      assert.equal(node.store.counts().records, before, 'nothing stored')
      assert.equal((await fetch(`${base}/health`)).status, 200, 'the node still answers')
    })

    it('dragnet publish through the running node: the marking decides, --tlp looser is refused', async () => {
      const file = join(tmp.dir, 'red-running.json')
      await writeFile(file, JSON.stringify({ ...RED, id: 'indicator--5b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e' }))
      const refused = await runCli(['publish', '--data', dir, '--tlp', 'green', file])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /DRAGNET_TLP_CONFLICT: .*TLP green.*TLP red/)
      const ok = await runCli(['publish', '--data', dir, file])
      assert.equal(ok.code, 0, ok.stderr)
      assert.equal(await recordTlp(ok.stdout.trim()), 'red')
    })
  })

  describe('the CLI on a stopped node', () => {
    let data: string
    before(async () => {
      data = join(tmp.dir, 'offline')
      assert.equal((await runCli(['init', '--data', data])).code, 0)
    })
    const tlpOf = async (id: string): Promise<string> => JSON.parse((await runCli(['get', '--data', data, id])).stdout).tlp

    it('publish: no --tlp takes the marking, a looser --tlp fails with DRAGNET_TLP_CONFLICT, a stricter one stands', async () => {
      const file = join(tmp.dir, 'strict.json')
      await writeFile(file, JSON.stringify(STRICT))
      const refused = await runCli(['publish', '--data', data, '--tlp', 'amber', file])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /DRAGNET_TLP_CONFLICT: .*TLP amber.*TLP amber\+strict/)
      const ok = await runCli(['publish', '--data', data, file])
      assert.equal(ok.code, 0, ok.stderr)
      assert.equal(await tlpOf(ok.stdout.trim()), 'amber+strict')
    })

    it('publish and import refuse a deeply nested file with DRAGNET_TOO_DEEP', async () => {
      const file = join(tmp.dir, 'deep.json')
      await writeFile(file, deepBody())
      for (const args of [['publish', '--data', data, file], ['import', '--data', data, file]]) {
        const r = await runCli(args)
        assert.equal(r.code, 1, args[0])
        assert.match(r.stderr, /^error: DRAGNET_TOO_DEEP: /m, args[0])
      }
    })

    it('import: TLP 2.0, granular and bundle-local markings decide; --tlp looser refuses those objects', async () => {
      const local = 'marking-definition--2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d'
      const bundle = {
        type: 'bundle',
        id: 'bundle--2a3b4c5d-6e7f-4a8b-9c0d-000000000001',
        objects: [
          indicator({ kind: 'domain', value: 'imported-local.example', seed: 'imp-local' }),
          { ...indicator({ kind: 'domain', value: 'imported-red.example', seed: 'imp-red' }), object_marking_refs: [TLP2.red] },
          { ...malware('imp-granular'), granular_markings: [{ marking_ref: TLP1.red, selectors: ['name'] }] },
          { ...malware('imp-plain') },
          { ...malware('imp-local'), object_marking_refs: [local] },
          { type: 'marking-definition', spec_version: '2.1', id: local, created: '2026-01-01T00:00:00.000Z', name: 'TLP:AMBER+STRICT', extensions: { [TLP2_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: 'amber+strict' } } }
        ]
      }
      // The local definition comes last: the importer must know it before it publishes the object.
      bundle.objects[0] = { ...bundle.objects[0], object_marking_refs: [TLP2.amber] }
      const file = join(tmp.dir, 'marked-bundle.json')
      await writeFile(file, JSON.stringify(bundle))
      const loose = await runCli(['import', '--data', data, '--json', '--tlp', 'green', file])
      assert.equal(loose.code, 1)
      const refused = JSON.parse(loose.stdout)
      assert.equal(refused.skipped['rejected:DRAGNET_TLP_CONFLICT'], 4, loose.stdout)
      assert.deepEqual(refused.tlp, { green: 2 })

      const r = await runCli(['import', '--data', data, '--json', file])
      assert.equal(r.code, 0, r.stderr)
      const s = JSON.parse(r.stdout)
      assert.deepEqual(s.tlp, { amber: 1, red: 2, 'amber+strict': 1 })
    })
  })
})
