import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { initDataDir } from '../../src/identity/index.js'
import type { DragnetNode } from '../../src/node.js'
import { Rng } from '../../src/sim/random.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { checkConsistency } from '../../src/store/check.js'
import { Store } from '../../src/store/index.js'
import { spawnCli } from '../helpers/cli.js'
import { identityFor, seedFor, startFederation, waitFor, type Federation } from '../helpers/federation.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * Crash safety with the node in its own process: member A runs the built CLI (`dragnet start`)
 * and is SIGKILLed 20 times at seeded random points while it ingests over its API, receives
 * gossip from member B, or syncs what B published while A was down. B runs in this process and
 * stays up. After every kill, with A down, A's store is opened and checked: consistent in every
 * index (store/check.ts), every record A acknowledged (201 from POST /api/records) is there, A's
 * own seqs run 1..n with one record each (so a restart never reused one), and neither side holds
 * an equivocation. After every restart, sync refills what was in flight: A ends up holding
 * every record B published, before it is killed again.
 */

const KILLS = 20
/** records per sync RECORDS frame, small so that a kill lands between frames */
const SYNC_BATCH = 20
const debug = (s: string): void => { if (process.env.DRAGNET_TEST_DEBUG != null) console.error(s) }
const PHASES = ['ingest', 'gossip', 'sync'] as const
type Phase = typeof PHASES[number]

interface RunningA { child: ChildProcess, api: string, token: string }

describe('crashes: 20 SIGKILLs during ingest, gossip and sync (node in a child process)', function () {
  // About a minute on an idle two-core machine, most of it 21 node start-ups (each ~1.5 s of CPU);
  // several minutes on a machine loaded ten times over.
  this.timeout(600_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let fed: Federation
  let b: DragnetNode
  let aId: string
  let aDir: string
  const rng = new Rng('crash-test-11')
  /** record ids A acknowledged, with the seq floor they must sit above (A's max seq before that restart) */
  const acked = new Map<string, number>()
  const fromB = new Set<string>()
  let bCounter = 0
  let aCounter = 0
  let ownSeqs = 0
  let child: ChildProcess | undefined
  let syncCut = 0

  before(async () => {
    tmp = await tempDir('dragnet-crash-')
    const a = await identityFor('crash-a')
    aId = a.peerId
    fed = await startFederation(tmp.dir, [{ name: 'crash-b' }], [], { extraRoster: [{ peerId: aId, name: 'crash-a' }], config: { sync: { maxRecordsPerBatch: SYNC_BATCH } } })
    b = fed.nodes[0]
    aDir = join(tmp.dir, 'crash-a')
    await initDataDir(aDir, { name: 'crash-a', country: 'DE', role: 'bureau', seed: seedFor('crash-a'), force: true })
    await writeFile(join(aDir, 'config.json'), JSON.stringify({
      name: 'crash-a',
      country: 'DE',
      role: 'bureau',
      roster: [{ peerId: b.peerId, name: 'crash-b', country: 'DE', role: 'bureau', addrs: b.listenAddrs() }],
      ingest: { verifyWorkers: 0 },
      sync: { intervalMs: 1000, maxRecordsPerBatch: SYNC_BATCH },
      limits: { redialMinMs: 100, redialMaxMs: 1000 },
      log: { level: 'warn' }
    }))
  })

  after(async () => {
    if (child != null && child.exitCode == null) await kill(child)
    await fed?.stop()
    await tmp?.cleanup()
  })

  async function kill (c: ChildProcess): Promise<void> {
    if (c.exitCode != null || c.signalCode != null) return
    const exited = new Promise(resolve => c.once('exit', resolve))
    c.kill('SIGKILL')
    await exited
  }

  /** Starts A; resolves once its API answers (or with undefined when it dies first). */
  function startA (): { child: ChildProcess, ready: Promise<RunningA | undefined> } {
    const c = spawnCli(['start', '--data', aDir, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0'])
    let out = ''
    let err = ''
    c.stderr!.on('data', d => { err += String(d) })
    const ready = new Promise<RunningA | undefined>((resolve, reject) => {
      c.stdout!.on('data', d => {
        out += String(d)
        const m = /api\s+http:\/\/(\S+)/.exec(out)
        if (m != null) {
          readFile(join(aDir, 'api-token'), 'utf8').then(t => { resolve({ child: c, api: m[1], token: t.trim() }) }, reject)
        }
      })
      c.once('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolve(undefined)
        else reject(new Error(`A exited with ${code} before its API was up: ${err}`))
      })
    })
    return { child: c, ready }
  }

  async function aRecords (a: RunningA): Promise<number> {
    const r = await fetch(`http://${a.api}/api/status`, { headers: { authorization: `Bearer ${a.token}` } })
    return ((await r.json()) as { records: number }).records
  }

  /** Sync refills: A holds its own records and every record B published. */
  async function refilled (a: RunningA): Promise<void> {
    await waitFor(async () => await aRecords(a) === ownSeqs + fromB.size, `A holds its ${ownSeqs} own records and B's ${fromB.size}`, 20_000, 50)
  }

  async function publishOnB (n: number): Promise<void> {
    const objs = Array.from({ length: n }, () => indicator({ kind: 'domain', value: `b${bCounter++}.crash.example` }))
    for (const v of await b.publish(objs, { tlp: 'green' })) {
      assert.equal(v.status, 'stored')
      if (v.status === 'stored') fromB.add(v.id)
    }
  }

  /** POSTs small batches to A until stopped; returns when the kill cut a request off. */
  async function ingestUntilKilled (a: RunningA, floor: number, killed: Promise<unknown>): Promise<void> {
    let dead = false
    void killed.then(() => { dead = true })
    while (!dead) {
      const objs = Array.from({ length: 5 }, () => indicator({ kind: 'ipv4', value: `10.11.${(aCounter >> 8) & 255}.${aCounter++ & 255}` }))
      let status: number
      let results: Array<{ id: string }>
      try {
        const res = await fetch(`http://${a.api}/api/records?tlp=green`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${a.token}` }, body: JSON.stringify(objs) })
        status = res.status
        results = ((await res.json()) as { results: Array<{ id: string }> }).results
      } catch {
        return // the kill landed mid-request or mid-answer: nothing we can name was acknowledged
      }
      assert.equal(status, 201)
      for (const r of results) acked.set(r.id, floor)
    }
  }

  async function checkAfterKill (round: number, phase: Phase): Promise<number> {
    const store = await Store.open(join(aDir, 'store'))
    try {
      const report = await checkConsistency(store)
      assert.deepEqual(report.problems, [], `round ${round} (${phase}): store consistent`)
      const ids = [...acked.keys()]
      const present = await store.hasMany(ids)
      ids.forEach((id, i) => { assert.ok(present[i], `round ${round} (${phase}): acknowledged record ${id} is there`) })
      for (const [id, floor] of acked) {
        const info = await store.getInfo(id)
        assert.ok(info!.seq > floor, `round ${round}: record ${id} has seq ${info!.seq}, above the ${floor} A held before that restart`)
      }
      let own = 0
      for await (const [k] of store.iterateRaw('authorSeq')) if (k.startsWith(`${aId}!`)) own++
      const max = await store.maxSeq(aId)
      assert.equal(max, own, `round ${round}: A's seqs run 1..${max} with one record each`)
      assert.deepEqual(await store.equivocations(), [], `round ${round}: no equivocation on A`)
      return own
    } finally {
      await store.close()
    }
  }

  it('keeps the store consistent, every acknowledged record, seq unique, and refills by sync', async () => {
    const phases: Phase[] = []
    for (let round = 0; round < KILLS; round++) {
      const phase = PHASES[round % 3]
      phases.push(phase)
      const floor = ownSeqs
      const published = phase === 'sync' ? 100 + rng.int(100) : 0
      if (phase === 'sync') await publishOnB(published)
      const t0 = Date.now()
      const started = startA()
      child = started.child
      const exited = new Promise(resolve => started.child.once('exit', resolve))
      if (phase === 'sync') {
        // In the middle of the sync session: after B has sent k of the n records A lacks (sync
        // sends them SYNC_BATCH at a time). No gossip reaches A for these: it was down.
        const base = b.replicationStats().recordsOut
        const k = 1 + rng.int(published - 1)
        await waitFor(() => b.replicationStats().recordsOut >= base + k || started.child.exitCode != null, `B sent ${k} records to A by sync`, 60_000, 2)
        await kill(started.child)
        await started.ready
        if (b.replicationStats().recordsOut - base < published) syncCut++
      } else {
        const a = await started.ready
        assert.ok(a != null)
        const t1 = Date.now()
        await refilled(a)
        debug(`round ${round} ${phase}: up ${t1 - t0} ms, refilled ${Date.now() - t1} ms`)
        const at = 50 + rng.int(700)
        setTimeout(() => { void kill(started.child) }, at)
        if (phase === 'ingest') await ingestUntilKilled(a, floor, exited)
        else {
          while (started.child.exitCode == null && started.child.signalCode == null) {
            await publishOnB(1 + rng.int(10))
            await new Promise(resolve => setTimeout(resolve, 10))
          }
        }
        await exited
      }
      const t2 = Date.now()
      ownSeqs = await checkAfterKill(round, phase)
      debug(`round ${round} ${phase}: ${Date.now() - t0} ms in all, check ${Date.now() - t2} ms, ${ownSeqs} own, ${fromB.size} from B`)
    }
    assert.deepEqual([...new Set(phases)].sort(), ['gossip', 'ingest', 'sync'])
    assert.ok(acked.size > 0, 'A acknowledged records between kills')
    assert.ok(syncCut > 0, 'some kills cut a sync session off before B had sent everything')

    // A last restart: what was in flight at the last kill is refilled too; B never saw A equivocate.
    const last = startA()
    child = last.child
    const a = await last.ready
    assert.ok(a != null)
    await refilled(a)
    await kill(last.child)
    assert.equal(await checkAfterKill(KILLS, 'sync'), ownSeqs)
    assert.deepEqual(await b.store.equivocations(), [], 'B holds no equivocation by A: no seq was reused')
    assert.equal(await b.store.maxSeq(aId) <= ownSeqs, true)
  })
})
