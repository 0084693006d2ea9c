import { Command } from 'commander'
import { packageVersion } from '../util/version.js'

/** Commands that may create a node; `simulate --data` names a directory for its members. */
const CREATES_NODE = new Set(['init', 'start'])
const OWN_DATA_MEANING = new Set(['simulate'])

type Register = (program: Command) => void

/**
 * Every command module, in --help order, with the top-level commands it registers. A module is
 * imported only when one of its commands runs: `dragnet token list` must not pay for loading
 * libp2p, fastify and LevelDB (a test checks these names against what each module registers).
 */
export const COMMAND_MODULES: ReadonlyArray<{ commands: readonly string[], load: () => Promise<Register> }> = [
  { commands: ['init'], load: async () => (await import('./commands/init.js')).registerInit },
  { commands: ['start'], load: async () => (await import('./commands/start.js')).registerStart },
  { commands: ['publish', 'get', 'lookup', 'status'], load: async () => (await import('./commands/records.js')).registerRecordCommands },
  { commands: ['sight', 'opinion'], load: async () => (await import('./commands/feedback.js')).registerFeedback },
  { commands: ['import'], load: async () => (await import('./commands/import.js')).registerImport },
  { commands: ['export'], load: async () => (await import('./commands/export.js')).registerExport },
  { commands: ['verify'], load: async () => (await import('./commands/verify.js')).registerVerify },
  { commands: ['peers', 'audit'], load: async () => (await import('./commands/peers-audit.js')).registerPeersAudit },
  { commands: ['policy'], load: async () => (await import('./commands/policy.js')).registerPolicy },
  { commands: ['simulate'], load: async () => (await import('./commands/simulate.js')).registerSimulate },
  { commands: ['bench', 'psk'], load: async () => (await import('./commands/tools.js')).registerTools },
  { commands: ['token'], load: async () => (await import('./commands/token.js')).registerToken },
  { commands: ['feeds'], load: async () => (await import('./commands/feeds.js')).registerFeeds },
  { commands: ['purge', 'erase'], load: async () => (await import('./commands/purge.js')).registerPurge },
  { commands: ['member'], load: async () => (await import('./commands/member.js')).registerMember },
  { commands: ['rotate-key'], load: async () => (await import('./commands/member.js')).registerRotateKey }
]

/** The program with its global options and hooks but no command yet. */
export function baseProgram (): Command {
  const program = new Command()
  program.name('dragnet')
    .description('federated peer-to-peer threat-intelligence sharing node')
    .version(packageVersion(), '-V, --version', 'print dragnet\'s version and exit')
    .showHelpAfterError()

  // A mistyped --data must not be taken for an empty node: every command that works on a node,
  // today's and any added later, needs one to exist there.
  program.hook('preAction', async (_program, action) => {
    if (CREATES_NODE.has(action.name()) || OWN_DATA_MEANING.has(action.name())) return
    if (!action.options.some(o => o.long === '--data')) return
    const [{ requireNode }, { dataDirOf }] = await Promise.all([import('../identity/index.js'), import('./context.js')])
    await requireNode(dataDirOf(action.opts()))
  })
  return program
}

/**
 * The whole command line, built without running it: a test walks it to check that --help and
 * the README's CLI reference agree. With `argv`, only the module of the command it names is
 * loaded (all of them when it names none we know: --help, a typo, `help <command>`).
 */
export async function buildProgram (argv?: readonly string[]): Promise<Command> {
  const program = baseProgram()
  // Only a leading word is a command: after a global flag (`dragnet -h publish`) it is not.
  const first = argv?.[2]
  if (first === '-V' || first === '--version') return program
  const named = COMMAND_MODULES.filter(m => first != null && m.commands.includes(first))
  for (const m of named.length > 0 ? named : COMMAND_MODULES) (await m.load())(program)
  return program
}
