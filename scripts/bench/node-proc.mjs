// A node in its own process, for benches that need two sides on two cores, run on the built
// code (what `npm start` runs; from source, tsx's loader adds ~100 MB to the process and to
// every worker thread):
//   node [--expose-gc] scripts/bench/node-proc.mjs DATA_DIR CONFIG_JSON
// Prints one JSON line once started ({ peerId, addrs, rss_mb, heap_mb, records }); runs until SIGTERM.
import '../../dist/src/polyfill.js'
import { loadConfig } from '../../dist/src/config/config.js'
import { silentLogger } from '../../dist/src/log.js'
import { DragnetNode } from '../../dist/src/node.js'

const [dir, configJson] = process.argv.slice(2)
const config = await loadConfig({ overrides: JSON.parse(configJson) })
const node = await DragnetNode.open({ dataDir: dir, config, log: silentLogger() })
await node.start()
if (globalThis.gc != null) {
  globalThis.gc()
  await new Promise(resolve => setTimeout(resolve, 200))
  globalThis.gc()
}
const m = process.memoryUsage()
process.stdout.write(JSON.stringify({ peerId: node.peerId, addrs: node.listenAddrs(), rss_mb: Math.round(m.rss / 1048576), heap_mb: Math.round(m.heapUsed / 1048576), records: node.store.counts().records }) + '\n')
process.on('SIGTERM', () => { node.stop().then(() => process.exit(0), () => process.exit(1)) })
