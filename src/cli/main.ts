#!/usr/bin/env node
import '../polyfill.js'
import { isDragnetError } from '../errors.js'
import { privateUmask } from '../util/private-file.js'
import { buildProgram } from './program.js'

// Everything the CLI writes (keys, tokens, the store, exports of restricted records) is the
// operator's alone: files 0600, directories 0700, LevelDB's later files included.
privateUmask()

buildProgram(process.argv).then(async program => await program.parseAsync(process.argv)).catch((err: unknown) => {
  if (isDragnetError(err)) {
    process.stderr.write(`error: ${err.code}: ${err.message}\n`)
  } else {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`)
  }
  process.exit(1)
})
