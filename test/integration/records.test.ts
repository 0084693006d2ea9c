import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildApi } from '../../src/api/server.js'
import { recordsExportOptions, recordsFileChunks, recordsWriter, exportPlan } from '../../src/api/export.js'
import { loadConfig } from '../../src/config/config.js'
import { initDataDir, NodeIdentity } from '../../src/identity/index.js'
import { importRecordsFile } from '../../src/import/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import type { Tlp } from '../../src/record/index.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { runCli } from '../helpers/cli.js'
import { seedFor, startFederation, waitConnected, waitFor } from '../helpers/federation.js'
import { testNode } from '../helpers/node.js'
import { tempDir } from '../helpers/tmp.js'

const WITHHOLD_INTERNAL = `
name: no-internal-to-france
rules:
  - id: internal-stays-home
    direction: outbound
    match:
      peer: { country: [FR] }
      labels: { any: [internal] }
    action: withhold
    reason: records labelled internal stay with German partners
`

function lastJson (out: string): any {
  const lines = out.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

/** Record ids in a records file (its record lines). */
async function idsIn (file: string): Promise<string[]> {
  const lines = (await readFile(file, 'utf8')).trim().split('\n')
  return lines.slice(1, -1).map(l => JSON.parse(l).id as string)
}

async function heldIds (dir: string): Promise<Set<string>> {
  const node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({}), log: silentLogger(), network: false })
  try {
    const out = new Set<string>()
    for await (const e of node.store.byArrival(0)) out.add(e.id)
    return out
  } finally {
    await node.stop()
  }
}

/**
 * Changes one base64 character of the envelope of the record on `line` (1-based, line 1 is the
 * header), at `offset` into the base64: 80 falls in the signature, 200 in the signed payload.
 */
async function tamper (file: string, line: number, copy: string, offset = 80): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n')
  const l = lines[line - 1]
  const at = l.indexOf('"envelope":"') + 12 + offset
  lines[line - 1] = l.slice(0, at) + (l[at] === 'A' ? 'B' : 'A') + l.slice(at + 1)
  await writeFile(copy, lines.join('\n'))
}

describe('records files: evidence that verifies offline, and exchange between members that never connect', function () {
  this.timeout(180_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  const dirs = { a: '', b: '', c: '' }
  const ids = { a: '', b: '', c: '' }
  let roster: string
  const pub: Record<string, string> = {}

  // Publishing is not what is tested here: it runs in this process, on the member's data dir.
  const publish = async (dir: string, items: Array<[string, Record<string, unknown>, Tlp, string?]>): Promise<void> => {
    const node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({ file: join(dir, 'config.yaml') }), log: silentLogger(), network: false })
    try {
      await node.start()
      for (const [name, obj, tlp, to] of items) {
        const [v] = await node.publish([obj], { tlp, ...(to != null ? { to: [to] } : {}) })
        assert.equal(v.status, 'stored', JSON.stringify(v))
        pub[name] = v.id!
      }
    } finally {
      await node.stop()
    }
  }

  before(async () => {
    tmp = await tempDir('dragnet-records-')
    const members = [['a', 'BKA', 'DE', 'bureau'], ['b', 'ANSSI', 'FR', 'bureau'], ['c', 'ACME', 'US', 'contributor']] as const
    for (const [k, name, country, role] of members) {
      dirs[k] = join(tmp.dir, k)
      await initDataDir(dirs[k], { name, country, role, seed: seedFor(`records-${name}`), force: true })
      ids[k] = (await NodeIdentity.fromSeed(seedFor(`records-${name}`))).peerId
    }
    roster = join(tmp.dir, 'roster.yaml')
    await writeFile(roster, members.map(([k, name, country, role]) => `- { peerId: ${ids[k]}, name: ${name}, country: ${country}, role: ${role} }`).join('\n') + '\n')
    await writeFile(join(tmp.dir, 'policy.yaml'), WITHHOLD_INTERNAL)
    for (const [k, name, country, role] of members) {
      await writeFile(join(dirs[k], 'config.yaml'), `name: ${name}\ncountry: ${country}\nrole: ${role}\nroster: ../roster.yaml\n${k === 'a' ? 'policy: ../policy.yaml\n' : ''}`)
    }
    await publish(dirs.a, [
      ['g1', indicator({ kind: 'domain', value: 'shared.example' }), 'green'],
      ['g2', indicator({ kind: 'domain', value: 'internal.example', labels: ['internal'] }), 'green'],
      ['a1', indicator({ kind: 'domain', value: 'amber-to-anssi.example' }), 'amber', ids.b],
      ['a2', indicator({ kind: 'domain', value: 'amber-to-acme.example' }), 'amber', ids.c],
      ['r1', indicator({ kind: 'domain', value: 'red.example' }), 'red']
    ])
    await publish(dirs.b, [['g3', indicator({ kind: 'ipv4', value: '198.51.100.77' }), 'green']])
  })
  after(async () => { await tmp?.cleanup() })

  it('an evidence bundle verifies offline and names its author; a tampered copy fails naming the record', async () => {
    const ev = join(tmp.dir, 'evidence.jsonl')
    const ex = await runCli(['export', '--data', dirs.a, '--format', 'records', '--id', `${pub.g1},${pub.a1}`, '--out', ev])
    assert.equal(ex.code, 0, ex.stderr)
    assert.deepEqual(await idsIn(ev), [pub.g1, pub.a1])
    // No node, no data dir: the file and a roster are all it takes.
    const bad = join(tmp.dir, 'evidence-tampered.jsonl')
    await tamper(ev, 3, bad)
    const [ok, asJson, r] = await Promise.all([runCli(['verify', '--roster', roster, ev]), runCli(['verify', '--json', '--roster', roster, ev]), runCli(['verify', '--roster', roster, bad])])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, new RegExp(`ok +line 2 +${pub.g1} +green indicator .* signed by BKA \\(DE, bureau\\) ${ids.a}`))
    assert.match(ok.stdout, /closing +ok: 2 records/)
    const json = JSON.parse(asJson.stdout)
    assert.equal(json.ok, true)
    assert.deepEqual(json.results.map((r: any) => [r.id, r.authorName, r.tlp]), [[pub.g1, 'BKA (DE, bureau)', 'green'], [pub.a1, 'BKA (DE, bureau)', 'amber']])

    assert.equal(r.code, 1)
    assert.match(r.stdout, new RegExp(`FAIL +line 3 +${pub.a1} +DRAGNET_BAD_SIGNATURE`))
    assert.match(r.stdout, new RegExp(`ok +line 2 +${pub.g1}`), 'the untouched record still verifies')
    assert.match(r.stderr, new RegExp(`1 record failed: line 3 record ${pub.a1}`))
    assert.match(r.stderr, /the file as a whole does not verify/)
  })

  it('two members that never connect converge by files; what policy withholds from a member is not in its file', async () => {
    const ab = join(tmp.dir, 'a-for-b.jsonl')
    const ex = await runCli(['export', '--data', dirs.a, '--format', 'records', '--for', ids.b, '--out', ab])
    assert.equal(ex.code, 0, ex.stderr)
    assert.deepEqual(new Set(await idsIn(ab)), new Set([pub.g1, pub.a1]), 'green and B\'s amber only')
    assert.match(ex.stderr, /exported 2 records for .*withheld 3 \((?=.*tlp-floor:red 1)(?=.*tlp-floor:amber-recipient 1)(?=.*internal-stays-home 1)/)

    // Format detected from the file; ingested as received, not re-signed.
    const im = await runCli(['import', '--data', dirs.b, '--json', ab])
    assert.equal(im.code, 0, im.stderr)
    const s = lastJson(im.stdout)
    assert.deepEqual([s.format, s.values, s.records.stored, s.exporter], ['records', 2, 2, ids.a])
    assert.deepEqual(s.tlp, { green: 1, amber: 1 })
    const ba = join(tmp.dir, 'b-for-a.jsonl')
    // One at a time: the store takes one process.
    const get = await runCli(['get', '--data', dirs.b, pub.a1])
    const audit = await runCli(['audit', '--data', dirs.b, '--record', pub.g1])
    const exB = await runCli(['export', '--data', dirs.b, '--format', 'records', '--for', ids.a, '--out', ba])
    const got = JSON.parse(get.stdout)
    assert.equal(got.author, ids.a, 'still signed by its author')
    assert.deepEqual([got.local.source, got.local.from], ['import', ids.a])
    assert.match(audit.stdout, /inbound +accept .*\(import\)/)
    assert.equal(exB.code, 0, exB.stderr)
    assert.deepEqual(new Set(await idsIn(ba)), new Set([pub.g3, pub.g1]), 'B relays green, never A\'s amber')
    const back = lastJson((await runCli(['import', '--data', dirs.a, '--format', 'records', '--json', ba])).stdout)
    assert.deepEqual([back.records.stored, back.records.duplicate], [1, 1])

    assert.deepEqual(await heldIds(dirs.b), new Set([pub.g1, pub.a1, pub.g3]))
    assert.deepEqual(await heldIds(dirs.a), new Set([pub.g1, pub.g2, pub.a1, pub.a2, pub.r1, pub.g3]))
    const why = (await runCli(['audit', '--data', dirs.a, '--record', pub.g2, '--peer', ids.b])).stdout
    assert.match(why, /outbound withhold by internal-stays-home \(export\)/)
  })

  it('refuses a file written for another member, a tampered file, and bad options, storing nothing', async () => {
    const ac = join(tmp.dir, 'a-for-c.jsonl')
    assert.equal((await runCli(['export', '--data', dirs.a, '--format', 'records', '--for', ids.c, '--out', ac])).code, 0)
    // g3 is B's: A holds it since the exchange above, and green is relayed.
    assert.deepEqual(new Set(await idsIn(ac)), new Set([pub.g1, pub.g2, pub.a2, pub.g3]))
    const before = await heldIds(dirs.c)
    const bad = join(tmp.dir, 'a-for-c-tampered.jsonl')
    await tamper(ac, 3, bad, 200)
    const imports = [
      [[join(tmp.dir, 'a-for-b.jsonl')], /DRAGNET_BAD_RECIPIENT: this records file was written for/],
      [['--format', 'records', bad], /DRAGNET_BAD_RECORDS_FILE: nothing imported/],
      [['--tlp', 'red', ac], /DRAGNET_BAD_REQUEST/],
      [['--column', '2', ac], /DRAGNET_BAD_REQUEST/]
    ] as const
    // Each one at a time: the store takes one process.
    for (const [args, error] of imports) {
      const r = await runCli(['import', '--data', dirs.c, ...args])
      assert.equal(r.code, 1, args.join(' '))
      assert.match(r.stderr, error)
    }
    assert.deepEqual(await heldIds(dirs.c), before, 'nothing stored')
    const stranger = (await NodeIdentity.generate()).peerId
    const exports = [['--format', 'records', '--raw'], ['--for', ids.b], ['--format', 'records', '--for', 'not-a-peer'], ['--format', 'records', '--id', 'xyz'], ['--format', 'records', '--for', stranger]]
    // Refused before the store is opened (a member not on the roster: once it is), so side by side.
    for (const r of await Promise.all(exports.map(async args => await runCli(['export', '--data', dirs.a, ...args])))) {
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /^error: DRAGNET_(BAD_REQUEST|BAD_RECIPIENT): /m)
    }
    // The good file then imports.
    const ok = lastJson((await runCli(['import', '--data', dirs.c, '--json', ac])).stdout)
    assert.equal(ok.records.stored, 4)
  })

  it('records imported into a running node spread by gossip like any other; amber is not relayed', async () => {
    const fed = await startFederation(join(tmp.dir, 'fed'), [{ name: 'B' }, { name: 'C' }], [[0, 1]], { transport: 'memory', extraRoster: [{ peerId: (await NodeIdentity.fromSeed(seedFor('A'))).peerId, name: 'A' }] })
    const a = await testNode({ dir: join(tmp.dir, 'fed-a'), name: 'A', seed: seedFor('A'), config: { roster: fed.nodes.map((n, i) => ({ peerId: n.peerId, name: ['B', 'C'][i], country: 'DE', role: 'bureau', addrs: [] })) } })
    try {
      const [b, c] = fed.nodes
      await waitConnected(fed.nodes, [[0, 1]])
      const green = indicator({ kind: 'domain', value: 'spread.example' })
      const amber = indicator({ kind: 'domain', value: 'amber-spread.example' })
      const [g] = await a.publish([green], { tlp: 'green' })
      const [am] = await a.publish([amber], { tlp: 'amber' })
      // A writes B's file; B's API takes it in, as `dragnet import` on B's machine does.
      const req = { format: 'records', for: b.peerId }
      const file = join(tmp.dir, 'fed-a-for-b.jsonl')
      const chunks: Buffer[] = []
      for await (const ch of recordsFileChunks(a.store, recordsWriter(a, req), recordsExportOptions(a, exportPlan(req), req))) chunks.push(ch)
      await writeFile(file, Buffer.concat(chunks))
      const app = await buildApi(b, { token: 'tok-0123456789abcdef' })
      try {
        const { createReadStream } = await import('node:fs')
        const s = await importRecordsFile(() => createReadStream(file), {
          self: b.peerId,
          receive: async (envelopes, from) => {
            const r = await app.inject({ method: 'POST', url: '/api/records/signed', headers: { authorization: 'Bearer tok-0123456789abcdef' }, payload: { from, envelopes: envelopes.map(e => Buffer.from(e).toString('base64')) } })
            assert.ok(r.statusCode === 201 || r.statusCode === 207, r.body)
            return JSON.parse(r.body).results
          }
        })
        assert.equal(s.records.stored, 2)
      } finally {
        await app.close()
      }
      await waitFor(async () => await c.store.has(g.id!), 'C gets the green record by gossip')
      assert.equal(await c.store.has(am.id!), false, 'amber goes only from its author')
      await waitFor(async () => (await b.store.auditEntries({ record: am.id!, peer: c.peerId })).some(e => e.rule === 'tlp-floor:amber-relay'), 'B audits why C did not get the amber record')
      assert.equal((await b.store.getInfo(g.id!))!.source, 'import')
    } finally {
      await a.stop()
      await fed.stop()
    }
  })
})
