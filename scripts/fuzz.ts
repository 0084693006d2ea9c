import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fuzz, prepareRecordTargets, TARGETS } from '../test/helpers/fuzz-targets.js'

/*
 * Long fuzz runs over every wire and file decoder (the same targets `npm test` runs briefly):
 *
 *   npm run fuzz -- [--runs N] [--seed S] [--target NAME] [--hang-ms MS]
 *   FUZZ_RUNS, FUZZ_SEED   the same as --runs and --seed
 *
 * Each target runs in a child process so a decoder that never returns (a per-case time bound
 * cannot catch a loop that never yields) is killed after --hang-ms and reported as a hang with
 * the seed that reproduces it. A failure prints fast-check's shrunk counterexample and its
 * seed/path; exit code 1 when any target failed.
 */

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.FUZZ_RUNS ?? '100000' },
    seed: { type: 'string', default: process.env.FUZZ_SEED ?? String(Date.now() % 2 ** 31) },
    target: { type: 'string' },
    'hang-ms': { type: 'string', default: '30000' },
    child: { type: 'boolean', default: false }
  }
})

const runs = Number(values.runs)
const seed = Number(values.seed)
if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(seed)) {
  console.error('--runs and --seed must be integers')
  process.exit(2)
}

async function runChild (name: string): Promise<void> {
  const target = TARGETS.find(t => t.name === name)
  if (target == null) throw new Error(`no fuzz target "${name}"; targets: ${TARGETS.map(t => t.name).join(', ')}`)
  await prepareRecordTargets()
  // Cases in slices, each slice its own seed, so progress shows and a hang names a slice.
  const slice = Math.min(runs, 5000)
  for (let done = 0, i = 0; done < runs; done += slice, i++) {
    const n = Math.min(slice, runs - done)
    console.log(JSON.stringify({ target: name, slice: i, seed: seed + i, runs: n }))
    await fuzz(target, { seed: seed + i, numRuns: n })
  }
}

async function runParent (): Promise<number> {
  const names = values.target != null ? [values.target] : TARGETS.map(t => t.name)
  const hangMs = Number(values['hang-ms'])
  let failed = 0
  for (const name of names) {
    const t0 = Date.now()
    const code = await new Promise<number | 'hang'>(resolve => {
      const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', '--target', name, '--runs', String(runs), '--seed', String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] })
      let last = ''
      let timer = setTimeout(() => { child.kill('SIGKILL'); resolve('hang') }, hangMs)
      child.stdout.on('data', (d: Buffer) => {
        process.stdout.write(d)
        last = d.toString().trim().split('\n').pop() ?? last
        clearTimeout(timer)
        // Every slice has hangMs to start; a slice that prints nothing for that long is stuck.
        timer = setTimeout(() => { child.kill('SIGKILL'); console.log(`hang after: ${last}`); resolve('hang') }, hangMs)
      })
      child.on('exit', c => { clearTimeout(timer); resolve(c ?? 1) })
    })
    const secs = ((Date.now() - t0) / 1000).toFixed(1)
    if (code === 0) console.log(`ok   ${name}: ${runs} cases from seed ${seed} in ${secs} s`)
    else {
      failed++
      console.log(`FAIL ${name}: ${code === 'hang' ? `no progress for ${hangMs} ms (a hang)` : `exit ${code}`}; reproduce with --target '${name}' --seed ${seed} --runs ${runs}`)
    }
  }
  return failed > 0 ? 1 : 0
}

if (values.child) {
  runChild(values.target!).catch(err => { console.error(err); process.exit(1) })
} else {
  process.exitCode = await runParent()
}
