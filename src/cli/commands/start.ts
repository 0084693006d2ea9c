import type { Command } from 'commander'
import { startApi } from '../../api/server.js'
import { ensureToken } from '../../identity/index.js'
import { createLogger } from '../../log.js'
import { DragnetNode } from '../../node.js'
import { configFor, dataDirOf } from '../context.js'

export function registerStart (program: Command): void {
  program.command('start')
    .description('run a node until SIGINT/SIGTERM (a second signal forces exit; SIGHUP reloads the roster, roster.deny, the policy and the api.tls certificate)')
    .option('--data <dir>', 'data directory (default $DRAGNET_DATA or ./data); initialised if it holds no node')
    .option('--config <file>', 'node config (JSON or YAML); default <data>/config.yaml, .yml or .json if present')
    .option('--api <host:port>', 'local HTTP API address (default 127.0.0.1:7700)')
    .option('--listen <multiaddr...>', 'libp2p listen address(es)')
    .action(async (opts) => {
      const dataDir = dataDirOf(opts)
      const config = await configFor(dataDir, opts)
      const log = createLogger({ level: config.log.level })
      const node = await DragnetNode.open({ dataDir, config, log })
      const token = await ensureToken(dataDir)
      await node.start({
        api: config.api === false
          ? undefined
          : async (n) => await startApi(n, config.api as string, { token, readTokens: config.taxii.readTokens })
      })
      if (config.taxii.readTokens.length > 0) {
        log.warn({ count: config.taxii.readTokens.length }, 'taxii.readTokens is deprecated: these tokens read every TLP; create read tokens with a TLP ceiling instead (dragnet token create --data DIR --name NAME --max-tlp TLP)')
      }
      log.info({ peerId: node.peerId, listen: node.listenAddrs(), api: node.apiAddress, dataDir, policy: node.policy.name }, 'dragnet node running')
      process.stdout.write(`dragnet node ${node.peerId}\n  data    ${dataDir}\n  listen  ${node.listenAddrs().join(' ')}\n  api     ${node.apiAddress != null ? `${node.apiScheme}://${node.apiAddress}` : '(off)'}\n  policy  ${node.policy.name}\n`)
      let stopping = false
      const shutdown = (signal: string): void => {
        if (stopping) {
          log.warn({ signal }, 'second signal: exiting now')
          process.exit(130)
        }
        stopping = true
        log.info({ signal }, 'stopping: no new connections, flushing, closing the store')
        node.stop().then(() => process.exit(0), (err) => {
          log.error({ err: err.message }, 'error while stopping')
          process.exit(1)
        })
      }
      process.on('SIGINT', () => { shutdown('SIGINT') })
      process.on('SIGTERM', () => { shutdown('SIGTERM') })
      // SIGHUP re-reads the config: the local roster (file or list) and roster.deny apply at
      // once, membership documents dropped in are picked up, and the policy file is reloaded.
      process.on('SIGHUP', () => {
        void (async () => {
          let next: Awaited<ReturnType<typeof configFor>> | undefined
          try {
            next = await configFor(dataDir, opts)
            node.reloadRoster(next.roster.map(m => ({ ...m, addrs: m.addrs ?? [] })), next.rosterDeny)
            await node.refreshMembership(true)
          } catch (err: any) {
            log.error({ err: err.message }, 'roster reload refused; the previous roster stays in force')
          }
          // The certificate files are read again (a renewed certificate needs no restart).
          await node.reloadTls(next?.apiTls).catch((err) => { log.error({ err: err.message }, 'certificate reload refused; the API keeps serving the previous certificate') })
          if (config.policy == null) return
          await node.reloadPolicy().catch((err) => { log.error({ err: err.message }, 'policy reload refused; the previous policy stays in force') })
        })()
      })
      await new Promise(() => {})
    })
}
