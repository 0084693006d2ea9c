import { Command } from 'commander'
import { requireNode } from '../identity/index.js'
import { packageVersion } from '../util/version.js'
import { dataDirOf } from './context.js'
import { registerInit } from './commands/init.js'
import { registerRecordCommands } from './commands/records.js'
import { registerFeedback } from './commands/feedback.js'
import { registerStart } from './commands/start.js'
import { registerImport } from './commands/import.js'
import { registerExport } from './commands/export.js'
import { registerPeersAudit } from './commands/peers-audit.js'
import { registerPolicy } from './commands/policy.js'
import { registerSimulate } from './commands/simulate.js'
import { registerTools } from './commands/tools.js'
import { registerVerify } from './commands/verify.js'
import { registerToken } from './commands/token.js'
import { registerFeeds } from './commands/feeds.js'
import { registerPurge } from './commands/purge.js'
import { registerMember, registerRotateKey } from './commands/member.js'

/** Commands that may create a node; `simulate --data` names a directory for its members. */
const CREATES_NODE = new Set(['init', 'start'])
const OWN_DATA_MEANING = new Set(['simulate'])

/**
 * The whole command line, built without running it: main.ts parses argv with it, and a test
 * walks it to check that --help and the README's CLI reference agree.
 */
export function buildProgram (): Command {
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
    await requireNode(dataDirOf(action.opts()))
  })

  registerInit(program)
  registerStart(program)
  registerRecordCommands(program)
  registerFeedback(program)
  registerImport(program)
  registerExport(program)
  registerVerify(program)
  registerPeersAudit(program)
  registerPolicy(program)
  registerSimulate(program)
  registerTools(program)
  registerToken(program)
  registerFeeds(program)
  registerPurge(program)
  registerMember(program)
  registerRotateKey(program)
  return program
}
