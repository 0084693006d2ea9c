import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKey } from '@libp2p/pnet'
import type { Command } from 'commander'
import { DragnetError } from '../../errors.js'

const BENCHES = ['record', 'propagation', 'sync', 'sync-recon', 'policy', 'taxii', 'flood']

/** The checkout this CLI runs from (src/cli/commands or dist/src/cli/commands). */
function repoRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'scripts', 'bench.ts'))) return dir
    dir = dirname(dir)
  }
  throw new DragnetError('DRAGNET_BAD_REQUEST', 'benchmarks run from a dragnet checkout (scripts/bench.ts not found)')
}

export function registerTools (program: Command): void {
  program.command('bench')
    .description(`run a benchmark, each figure beside a reference measured in the same run (${BENCHES.join(', ')}); same as npm run bench -- NAME`)
    .argument('<name>', BENCHES.join(' | '))
    .argument('[options...]', 'bench options, e.g. --json, --records N, --nodes N')
    .allowUnknownOption()
    .action(async (name: string, options: string[]) => {
      if (!BENCHES.includes(name)) throw new DragnetError('DRAGNET_BAD_REQUEST', `unknown benchmark ${name}; one of ${BENCHES.join(', ')}`)
      const root = repoRoot()
      const tsx = createRequire(join(root, 'package.json')).resolve('tsx')
      const child = spawn(process.execPath, ['--import', tsx, join(root, 'scripts', 'bench.ts'), name, ...options], { cwd: root, stdio: 'inherit' })
      process.exitCode = await new Promise<number>(resolve => child.on('exit', code => resolve(code ?? 1)))
    })

  program.command('psk')
    .description('write a new pre-shared key for a private federation network (set `psk` in every member\'s config to this file)')
    .argument('<file>', 'where to write the key (mode 0600); refuses to overwrite')
    .action(async (file: string) => {
      if (existsSync(file)) throw new DragnetError('DRAGNET_KEY_EXISTS', `${file} exists; a new key would cut this node off its federation`)
      const key = new Uint8Array(95)
      generateKey(key)
      await writeFile(file, key, { mode: 0o600 })
      process.stdout.write(`wrote ${resolve(file)}: give every member a copy over a secure channel and set "psk" in its config to the path of its copy (relative paths resolve against the config file)\n`)
    })
}
