import assert from 'node:assert/strict'
import { buildProgram, COMMAND_MODULES } from '../../../src/cli/program.js'

/*
 * main.ts loads only the module of the command it runs (so that `dragnet token list` does not
 * load libp2p, fastify and LevelDB). That table must name exactly what each module registers.
 */
const argv = (...args: string[]): string[] => ['node', 'dragnet', ...args]
const names = (p: Awaited<ReturnType<typeof buildProgram>>): string[] => p.commands.map(c => c.name())

describe('CLI program: one command module per run', () => {
  it('each module registers exactly the top-level commands the table names for it', async () => {
    for (const m of COMMAND_MODULES) {
      for (const cmd of m.commands) assert.deepEqual(names(await buildProgram(argv(cmd, '--help'))), m.commands, `dragnet ${cmd}`)
    }
  })

  it('the full program (--help, no command, an unknown word) is every module in table order, nothing else', async () => {
    const all = COMMAND_MODULES.flatMap(m => m.commands)
    assert.equal(new Set(all).size, all.length, 'no command is named by two modules')
    for (const args of [undefined, argv(), argv('--help'), argv('help', 'publish'), argv('no-such-command'), argv('-h', 'publish')]) {
      assert.deepEqual(names(await buildProgram(args)), all, JSON.stringify(args))
    }
  })

  it('--version loads no command module', async () => {
    assert.deepEqual(names(await buildProgram(argv('--version'))), [])
    assert.deepEqual(names(await buildProgram(argv('-V'))), [])
  })
})
