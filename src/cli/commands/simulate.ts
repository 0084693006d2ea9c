import { writeFile } from 'node:fs/promises'
import { readdirSync } from 'node:fs'
import cliProgress from 'cli-progress'
import type { Command } from 'commander'
import { DragnetError } from '../../errors.js'
import { createLogger } from '../../log.js'
import { renderHtml, renderTerminal } from '../../sim/report.js'
import { runSimulation, type SimProgress } from '../../sim/runner.js'
import { loadScenario, SCENARIO_DIR } from '../../sim/scenario.js'

function scenarioNames (): string[] {
  try {
    return readdirSync(SCENARIO_DIR).filter(f => f.endsWith('.yaml')).map(f => f.replace(/\.yaml$/, '')).sort()
  } catch {
    return []
  }
}

export function registerSimulate (program: Command): void {
  program.command('simulate')
    .description(`run a whole federation on this machine and check its invariants (scenarios: ${scenarioNames().join(', ')})`)
    .requiredOption('--scenario <name|file>', 'a scenario name from config/sim/, or a scenario file')
    .option('--nodes <n>', 'number of members (overrides the scenario)')
    .option('--topology <t>', 'full | ring | random:K | scale-free (overrides the scenario)')
    .option('--transport <t>', 'memory (one process) | tcp (127.0.0.1)')
    .option('--seed <s>', 'seed for topology, roles and the publish schedule', '1')
    .option('--json <file>', 'write the result as JSON')
    .option('--report <file>', 'write a self-contained HTML report')
    .option('--data <dir>', 'keep the members\' data dirs here (default: a temp dir, removed afterwards)')
    .option('--no-progress', 'no progress bar')
    .option('--quiet', 'no terminal report')
    .action(async (opts) => {
      const scenario = await loadScenario(opts.scenario)
      const nodes = opts.nodes != null ? Number(opts.nodes) : undefined
      if (nodes != null && (!Number.isInteger(nodes) || nodes < 2)) throw new DragnetError('DRAGNET_BAD_REQUEST', `--nodes must be an integer of at least 2, got ${opts.nodes}`)
      if (opts.transport != null && opts.transport !== 'memory' && opts.transport !== 'tcp') throw new DragnetError('DRAGNET_BAD_REQUEST', `--transport must be memory or tcp, got ${opts.transport}`)
      const bar = opts.progress !== false && process.stderr.isTTY === true
        ? new cliProgress.SingleBar({ stream: process.stderr, format: 'simulate {phase} [{bar}] {value}/{total} {detail}', hideCursor: true }, cliProgress.Presets.shades_classic)
        : null
      let phase = ''
      const onProgress = (p: SimProgress): void => {
        if (bar == null) return
        if (p.phase !== phase) {
          if (phase !== '') bar.stop()
          phase = p.phase
          bar.start(Math.max(1, p.total), p.done, { phase: p.phase.padEnd(10), detail: p.detail ?? '' })
        } else {
          bar.setTotal(Math.max(1, p.total))
          bar.update(p.done, { phase: p.phase.padEnd(10), detail: p.detail ?? '' })
        }
      }
      const result = await runSimulation({
        scenario,
        ...(nodes != null ? { nodes } : {}),
        ...(opts.topology != null ? { topology: opts.topology } : {}),
        ...(opts.transport != null ? { transport: opts.transport } : {}),
        seed: String(opts.seed),
        ...(opts.data != null ? { dir: opts.data } : {}),
        log: createLogger({ level: process.env.DRAGNET_LOG_LEVEL ?? 'error' }),
        onProgress
      })
      bar?.stop()
      if (opts.json != null) await writeFile(opts.json, JSON.stringify(result, null, 2) + '\n')
      if (opts.report != null) await writeFile(opts.report, renderHtml(result))
      if (opts.quiet !== true) process.stdout.write(renderTerminal(result, { color: process.stdout.isTTY === true }) + '\n')
      const failed = Object.entries(result.invariants).filter(([, v]) => !v.pass).map(([k]) => k)
      if (failed.length > 0) {
        process.stderr.write(`error: invariant${failed.length > 1 ? 's' : ''} failed: ${failed.join(', ')}\n`)
        process.exitCode = 1
      }
    })
}
