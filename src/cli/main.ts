#!/usr/bin/env node
import '../polyfill.js'
import { Command } from 'commander'
import { isDragnetError } from '../errors.js'
import { registerInit } from './commands/init.js'
import { registerRecordCommands } from './commands/records.js'
import { registerStart } from './commands/start.js'
import { registerImport } from './commands/import.js'
import { registerExport } from './commands/export.js'
import { registerPeersAudit } from './commands/peers-audit.js'
import { registerPolicy } from './commands/policy.js'
import { registerSimulate } from './commands/simulate.js'
import { registerTools } from './commands/tools.js'
import { registerVerify } from './commands/verify.js'

const program = new Command()
program.name('dragnet')
  .description('federated peer-to-peer threat-intelligence sharing node')
  .showHelpAfterError()

registerInit(program)
registerStart(program)
registerRecordCommands(program)
registerImport(program)
registerExport(program)
registerVerify(program)
registerPeersAudit(program)
registerPolicy(program)
registerSimulate(program)
registerTools(program)

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isDragnetError(err)) {
    process.stderr.write(`error: ${err.code}: ${err.message}\n`)
  } else {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`)
  }
  process.exit(1)
})
