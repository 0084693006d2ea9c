import type { Command } from 'commander'
import { initDataDir } from '../../identity/index.js'
import { dataDirOf } from '../context.js'

export function registerInit (program: Command): void {
  program.command('init')
    .description('create a data dir with a new Ed25519 node key (mode 0600) and metadata; prints the PeerId last')
    .option('--data <dir>', 'data directory (default $DRAGNET_DATA or ./data)')
    .option('--name <name>', 'member name, e.g. "BKA"')
    .option('--country <cc>', 'ISO 3166 alpha-2 country code', 'ZZ')
    .option('--role <role>', 'bureau | contributor | observer', 'bureau')
    .option('--force', 'replace an existing key (a new identity!)')
    .action(async (opts) => {
      const dir = dataDirOf(opts)
      const { metadata } = await initDataDir(dir, { name: opts.name, country: opts.country, role: opts.role, force: opts.force === true })
      process.stdout.write(`data dir  ${dir}\nname      ${metadata.name || '(none)'}\ncountry   ${metadata.country}\nrole      ${metadata.role}\nkey       ${dir}/node.key (0600)\n${metadata.peerId}\n`)
    })
}
