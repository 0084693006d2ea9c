#!/usr/bin/env node
import '../polyfill.js'
import { Command } from 'commander'
import { isDragnetError } from '../errors.js'
import { requireNode } from '../identity/index.js'
import { privateUmask } from '../util/private-file.js'
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

// Everything the CLI writes (keys, tokens, the store, exports of restricted records) is the
// operator's alone: files 0600, directories 0700, LevelDB's later files included.
privateUmask()

/** Commands that may create a node; `simulate --data` names a directory for its members. */
const CREATES_NODE = new Set(['init', 'start'])
const OWN_DATA_MEANING = new Set(['simulate'])

const program = new Command()
program.name('dragnet')
  .description('federated peer-to-peer threat-intelligence sharing node')
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

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isDragnetError(err)) {
    process.stderr.write(`error: ${err.code}: ${err.message}\n`)
  } else {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`)
  }
  process.exit(1)
})
