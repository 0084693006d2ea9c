import assert from 'node:assert/strict'
import { readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir } from '../../src/identity/index.js'
import { parseImport, runImport } from '../../src/import/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { runCli } from '../helpers/cli.js'
import { requireSharedData } from '../helpers/shared-data.js'
import { checkProvenance, stix2Parse, stix2Python, type Level } from '../helpers/stix-provenance.js'
import { tempDir } from '../helpers/tmp.js'

function jsonFiles (dir: string): string[] {
  return readdirSync(dir).sort().flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return jsonFiles(path)
    return name.endsWith('.json') ? [path] : []
  })
}

interface Held { tlp: Level, body: Record<string, any> }

/** Current objects of a data dir no process holds: STIX id → the TLP and body of its newest version. */
async function held (dir: string): Promise<Map<string, Held>> {
  const node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({}), log: silentLogger(), network: false })
  try {
    const out = new Map<string, Held>()
    for await (const e of node.store.byArrival(0)) {
      const rec = (await node.store.getRecord(e.id))!
      const r = rec.record.record
      const prev = out.get(r.body.id)
      // Of several records of one version, the first to arrive stands for all (as export does).
      if (prev == null || String(r.body.modified ?? '') > String(prev.body.modified ?? '')) out.set(r.body.id, { tlp: r.tlp, body: r.body })
    }
    // Current objects only, as export writes them: a revoked or expired newest version leaves.
    for (const [id, h] of out) if (h.body.revoked === true || (typeof h.body.valid_until === 'string' && Date.parse(h.body.valid_until) <= Date.now())) out.delete(id)
    return out
  } finally {
    await node.stop()
  }
}

describe('provenance: every shared STIX example leaves with its TLP and author, and comes back the same', function () {
  this.timeout(300_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let files: string[]
  let a: string
  let b: string
  let exported: string

  before(async function () {
    files = jsonFiles(join(requireSharedData(this), 'stix'))
    tmp = await tempDir('dragnet-provenance-')
    a = join(tmp.dir, 'a')
    b = join(tmp.dir, 'b')
    exported = join(tmp.dir, 'export.json')
    await initDataDir(a, { name: 'BKA', country: 'DE', role: 'bureau' })
    await initDataDir(b, { name: 'ANSSI', country: 'FR', role: 'bureau' })
  })
  after(async () => { await tmp?.cleanup() })

  it('imports every example, exports one bundle that passes the spec-level check, and re-imports it with the same objects and TLPs', async () => {
    // The import the CLI runs, in this process (a CLI start per file would cost more than the rest).
    const node = await DragnetNode.open({ dataDir: a, config: await loadConfig({ overrides: { name: 'BKA', country: 'DE' } }), log: silentLogger(), network: false })
    try {
      await node.start()
      for (const f of files) {
        const parsed = parseImport(await readFile(f, 'utf8'), { name: f })
        const s = await runImport(parsed, { publish: async (objects, tlp) => await node.publish(objects, { tlp, source: 'import', skipExisting: true }) })
        // The three artifacts with invalid base64 in the SCO examples are refused (see shared-data.test.ts).
        assert.equal(s.records.rejected, f.endsWith('sco-examples-bundle.json') ? 3 : 0, `${f}: ${JSON.stringify(s.examples)}`)
      }
    } finally {
      await node.stop()
    }
    const before = await held(a)
    assert.ok(before.size > 2000, `${before.size} objects held`)
    const ex = await runCli(['export', '--data', a, '--out', exported])
    assert.equal(ex.code, 0, ex.stderr)
    const bundle = JSON.parse(await readFile(exported, 'utf8'))
    const peerId = JSON.parse(await readFile(join(a, 'node.json'), 'utf8')).peerId
    // A creator an example names but does not contain (interop-objectmarking-test.json) stays unresolved: dragnet never rewrites one.
    const dangling = new Set([...before.values()].map(h => h.body.created_by_ref).filter(c => c != null && !before.has(c)))
    assert.ok(dangling.size <= 2, `dangling creators in the examples: ${[...dangling].join(', ')}`)
    const records = checkProvenance(bundle.objects, { tlpOf: o => before.get(o.id)?.tlp, members: [{ peerId, name: 'BKA', country: 'DE', role: 'bureau' }], elsewhere: dangling })
    assert.ok(records.length > 2000)
    assert.equal(bundle.objects.filter((o: any) => before.has(o.id)).length, before.size, 'every current object exported once')
    // Some examples carry TLP markings of their own: those records are not green.
    assert.ok(new Set([...before.values()].map(h => h.tlp)).size > 1, 'more than one TLP among the examples')

    const back = await runCli(['import', '--data', b, '--json', '--no-progress', exported])
    assert.equal(back.code, 0, back.stderr)
    const after = await held(b)
    for (const [id, h] of before) {
      const got = after.get(id)
      assert.ok(got != null, `${id} came back`)
      assert.equal(got.tlp, h.tlp, `${id}: same TLP`)
      const served = bundle.objects.find((o: any) => o.id === id)
      assert.deepEqual(got.body, served, `${id}: the object as exported`)
      // Apart from what export adds, the object is the one signed by the first member.
      const content = (o: Record<string, any>): Record<string, any> => Object.fromEntries(Object.entries(o).filter(([k]) => !['object_marking_refs', 'created_by_ref', 'granular_markings'].includes(k)))
      assert.deepEqual(content(got.body), content(h.body), `${id}: same content`)
    }
  })

  it('the OASIS stix2 library parses the exported bundle (skipped visibly without it)', async function () {
    const py = stix2Python()
    if (py == null) {
      console.log('    (skipped: the OASIS stix2 Python library is not importable; set DRAGNET_STIX2_PYTHON / DRAGNET_STIX2_PYTHONPATH)')
      this.skip()
    }
    assert.equal(stix2Parse(py, [exported]), '')
  })
})
