import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import type { Policy } from '../../src/policy/index.js'
import { runSimulation } from '../../src/sim/runner.js'
import { loadScenario, SCENARIO_DIR, type Scenario } from '../../src/sim/scenario.js'

/**
 * A small, quick version of a scenario: fewer members, shorter waves (same shape). Its settle
 * time is a generous deadline, not a budget: the runner stops settling as soon as every member
 * holds exactly its entitlement, so an idle machine converges in a few seconds and pays nothing
 * for it, while a loaded one (8 test runs on 2 cores took partition-heal past its 20 s after the
 * heal) still converges instead of failing on the clock. Latency budgets are the benches' job.
 */
function small (sc: Scenario, nodes: number, timeScale = 0.6): Scenario {
  return {
    ...sc,
    nodes,
    settle: Math.max(sc.settle, SETTLE_DEADLINE_MS),
    publish: sc.publish.map(w => ({ ...w, at: w.at * timeScale, duration: w.duration * timeScale })),
    events: sc.events.map(e => ({ ...e, at: e.at * timeScale })),
    sync: { interval: Math.min(sc.sync.interval, 1500) }
  }
}

const SETTLE_DEADLINE_MS = 120_000

const SIZES: Record<string, number> = { 'policy-mix': 10, spy: 7 }

describe('simulate: every scenario, small, keeps its invariants', function () {
  // Start-up, the scenario's waves, the settle deadline at worst, and stopping.
  this.timeout(SETTLE_DEADLINE_MS + 120_000)
  const names = readdirSync(SCENARIO_DIR).filter(f => f.endsWith('.yaml')).map(f => f.replace(/\.yaml$/, '')).sort()

  it('ships the scenarios the design names', () => {
    for (const n of ['publish-storm', 'partition-heal', 'churn', 'late-joiner', 'forger', 'flooder', 'spy', 'policy-mix', 'join', 'revoke', 'rotate']) assert.ok(names.includes(n), n)
  })

  for (const name of names) {
    it(name, async () => {
      const sc = small(await loadScenario(name), SIZES[name] ?? 6)
      const r = await runSimulation({ scenario: sc, seed: '7' })
      const failed = Object.entries(r.invariants).filter(([, v]) => !v.pass)
      assert.deepEqual(failed, [], JSON.stringify(failed, null, 1))
      assert.equal(r.converged, true)
      assert.ok(r.records_published > 0)
      assert.equal(r.nodes, sc.nodes)
      for (const k of ['p50', 'p95', 'p99', 'max'] as const) assert.equal(typeof r.latency_ms[k], 'number')
      // Every delivery arrived along some path, and the copies say which (a restarted member
      // counts afresh, so only where nobody restarts).
      assert.ok(r.copies != null)
      if (sc.events.length === 0) assert.ok(r.copies.push + r.copies.graft + r.copies.sync >= r.deliveries, JSON.stringify(r.copies))
      for (const k of ['push', 'graft', 'sync'] as const) assert.ok(r.copies.duplicates[k] <= r.copies[k])
      if (name === 'forger') {
        assert.ok((r.invariants.no_forged_record.details as any).forged_sent > 0)
        assert.equal(r.invariants.equivocation_flagged?.pass, true)
        assert.ok(r.members.some(m => m.penalties > 0), 'the forger was cut off')
      }
      if (name === 'spy') assert.ok(((r.invariants.no_leak.details as any).spy_received ?? 0) > 0, 'the spy got what it was entitled to, so the check can see leaks')
      // Membership scenarios: their own invariant is there, passed, and saw something to judge.
      const membership: Record<string, string> = { join: 'joiner_converged', revoke: 'revoked_isolated', rotate: 'rotation_lossless' }
      if (membership[name] != null) assert.equal(r.invariants[membership[name]]?.pass, true, `${membership[name]} checked`)
      if (name === 'join') assert.ok((r.invariants.joiner_converged.details as any).records_by_joiners > 0)
      if (name === 'revoke') assert.ok((r.invariants.revoked_isolated.details as any).published_after > 0, 'the revoked member published after its revocation')
      if (name === 'rotate') assert.ok((r.invariants.rotation_lossless.details as any).old_key_records > 0 && (r.invariants.rotation_lossless.details as any).new_key_records > 0)
      if (name === 'policy-mix') assert.ok(Object.keys(r.withholdings).some(k => !k.startsWith('tlp-floor:')), 'jurisdiction rules withheld something')
    })
  }

  it('runs one OS process per member over TCP on 127.0.0.1', async () => {
    const sc = small(await loadScenario('partition-heal'), 4)
    const r = await runSimulation({ scenario: sc, seed: '7', transport: 'tcp' })
    assert.equal(r.transport, 'tcp')
    const failed = Object.entries(r.invariants).filter(([, v]) => !v.pass)
    assert.deepEqual(failed, [], JSON.stringify(failed, null, 1))
    assert.ok(r.memory.per_node_mb > 20, 'member processes report their own memory')
  })

  it('a planted leak (one member\'s policy bypassed at runtime) fails the no-leak invariant', async () => {
    const sc = small(await loadScenario('spy'), 6)
    sc.publish = sc.publish.map(w => ({ ...w, tlp: { red: 0.5, green: 0.5 } }))
    sc.attackers = { ...sc.attackers, spy: { ...sc.attackers.spy!, attach: 6 } }
    // The leaking member gets cut off by its neighbours, so this run never converges: don't wait long.
    sc.settle = 4000
    const r = await runSimulation({
      scenario: sc,
      seed: '7',
      // Member 0 sends everything to everyone: the TLP floor and its rules are bypassed.
      runtimePolicy: (i, declared) => i !== 0
        ? undefined
        : Object.assign(Object.create(Object.getPrototypeOf(declared)), declared, {
          outbound: () => ({ verdict: 'send', rule: 'planted-leak', reason: 'bypassed for the test' })
        }) as Policy
    })
    assert.equal(r.invariants.no_leak.pass, false)
    const details = r.invariants.no_leak.details as { spy_violations: string[] }
    assert.ok(details.spy_violations.some(v => v.includes('n000') && v.includes('red')), JSON.stringify(details).slice(0, 500))
  })
})
