import type { Command } from 'commander'
import { DragnetError } from '../../errors.js'
import { createReadToken, loadReadTokens, revokeReadToken } from '../../identity/index.js'
import { isTlp, TLP_LEVELS } from '../../record/index.js'
import { dataDirOf } from '../context.js'

/*
 * Read tokens live in <data>/read-tokens.json (hashed, 0600). The running node re-reads the
 * file when it changes, so these commands work the same with the node running or not, and a
 * revoked token is refused from the next request on.
 */
export function registerToken (program: Command): void {
  const token = program.command('token').description('read tokens with a TLP ceiling, for SIEMs and TAXII clients (the API token in <data>/api-token keeps full access)')

  token.command('create')
    .description('create a read token; prints it as the last line (it is stored hashed and shown only once)')
    .option('--data <dir>', 'data directory')
    .requiredOption('--name <name>', 'a name for the reader, e.g. siem or opencti')
    .requiredOption('--max-tlp <tlp>', `the strictest TLP the reader sees (${TLP_LEVELS.join(', ')})`)
    .action(async (opts: { data?: string, name: string, maxTlp: string }) => {
      const dataDir = dataDirOf(opts)
      if (!isTlp(opts.maxTlp)) throw new DragnetError('DRAGNET_BAD_TLP', `--max-tlp must be one of ${TLP_LEVELS.join(', ')}, got ${opts.maxTlp}`)
      const { token: secret, entry } = await createReadToken(dataDir, opts.name, opts.maxTlp)
      process.stdout.write(`read token ${entry.name}: sees records up to TLP:${entry.maxTlp.toUpperCase()}, never writes; send it as Authorization: Bearer <token> (TAXII also takes Basic with it as the password)\n${secret}\n`)
    })

  token.command('list')
    .description('the read tokens (names, ceilings, creation times; never the tokens)')
    .option('--data <dir>', 'data directory')
    .option('--json', 'a JSON array of { name, maxTlp, createdAt }')
    .action(async (opts: { data?: string, json?: boolean }) => {
      const tokens = (await loadReadTokens(dataDirOf(opts))).map(t => ({ name: t.name, maxTlp: t.maxTlp, createdAt: t.createdAt }))
      if (opts.json === true) { process.stdout.write(JSON.stringify(tokens) + '\n'); return }
      if (tokens.length === 0) { process.stdout.write('no read tokens (dragnet token create --data DIR --name NAME --max-tlp TLP)\n'); return }
      const width = Math.max(4, ...tokens.map(t => t.name.length))
      process.stdout.write([`${'NAME'.padEnd(width)}  MAX TLP       CREATED`, ...tokens.map(t => `${t.name.padEnd(width)}  ${t.maxTlp.padEnd(12)}  ${t.createdAt}`)].join('\n') + '\n')
    })

  token.command('revoke')
    .description('revoke a read token: refused from the next request on, also by a running node')
    .argument('<name>', 'the token name')
    .option('--data <dir>', 'data directory')
    .action(async (name: string, opts: { data?: string }) => {
      const gone = await revokeReadToken(dataDirOf(opts), name)
      process.stdout.write(`revoked read token ${gone.name} (max TLP ${gone.maxTlp})\n`)
    })
}
