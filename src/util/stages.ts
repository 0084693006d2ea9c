import { readFileSync } from 'node:fs'

/*
 * Where a record's main-thread time goes, stage by stage (issue 18). Benches switch a clock on,
 * push records through a real node and read µs per record per stage; in a running node no clock
 * is on and each instrumented spot costs one null check.
 *
 * Stages time synchronous main-thread spans with performance.now(): Node 20 has no per-thread
 * CPU clock, and process.cpuUsage() counts the verify workers and LevelDB's threads too. A
 * synchronous span is not preempted by this process's own event loop, so on an idle core it is
 * the main thread's CPU time. What the main thread waits for (a LevelDB batch made durable in
 * libuv's pool, signatures checked in the workers) is not its work and is kept apart as `*_wait`.
 */

export const STAGES = ['decode', 'verify', 'stix', 'observables', 'policy', 'store', 'index', 'verify_wait', 'store_wait'] as const
export type Stage = typeof STAGES[number]

/**
 * `wall`: performance.now(), right on an idle machine. `cpu`: process.cpuUsage(), right on a loaded
 * one as long as no other thread of the process works at the same time (verification inline).
 */
export type StageClockMode = 'wall' | 'cpu'

function cpuMs (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

export class StageClock {
  private readonly ms = new Map<Stage, number>()
  private records = 0
  readonly now: () => number

  constructor (mode: StageClockMode = 'wall') {
    this.now = mode === 'cpu' ? cpuMs : () => performance.now()
  }

  /** Adds the time since `since` (from `now()`) to a stage; returns the current time for the next span. */
  add (stage: Stage, since: number): number {
    const t = this.now()
    this.ms.set(stage, (this.ms.get(stage) ?? 0) + (t - since))
    return t
  }

  /** Records that went through the instrumented path (the divisor of `perRecordUs`). */
  count (n: number): void {
    this.records += n
  }

  get recordCount (): number {
    return this.records
  }

  /** µs per record for every stage that saw time, plus `total` (main-thread stages only, no waits). */
  perRecordUs (): Record<string, number> {
    const n = Math.max(1, this.records)
    const out: Record<string, number> = {}
    let total = 0
    for (const s of STAGES) {
      const ms = this.ms.get(s)
      if (ms == null) continue
      out[s] = Math.round((ms * 1000 / n) * 10) / 10
      if (!s.endsWith('_wait')) total += ms
    }
    out.total = Math.round((total * 1000 / n) * 10) / 10
    return out
  }
}

/**
 * CPU time of the main thread alone, in µs, where the OS tells (Linux: the thread's schedstat),
 * else undefined. Exact on a loaded machine and blind to the verify workers and LevelDB's
 * threads; updated by the scheduler every few ms, so only for spans of a whole bench run.
 */
export function mainThreadCpuUs (): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000
  } catch {
    return undefined
  }
}

let active: StageClock | null = null

/** The clock in force, or null (the normal case: instrumentation off). */
export function stageClock (): StageClock | null {
  return active
}

/** Starts a fresh clock for this process (benches only); `stopStageClock` ends it. */
export function startStageClock (mode: StageClockMode = 'wall'): StageClock {
  active = new StageClock(mode)
  return active
}

export function stopStageClock (): void {
  active = null
}
