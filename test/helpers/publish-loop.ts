import '../../src/polyfill.js'
import { loadConfig } from '../../src/config/config.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import { indicator } from '../../src/sim/stix-factory.js'

// Publishes records one batch at a time and reports each acknowledged id, until killed.
// The crash test SIGKILLs this process mid-way and then checks the store it leaves behind.
const [dir, total, batch] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 1)]
const node = await DragnetNode.open({ dataDir: dir, config: await loadConfig({}), log: silentLogger(), network: false })
await node.start()
for (let i = 0; i < total; i += batch) {
  const objs = []
  for (let j = i; j < Math.min(total, i + batch); j++) objs.push(indicator({ kind: 'ipv4', value: `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`, seed: `${process.pid}-${j}` }))
  const vs = await node.publish(objs, { tlp: 'green' })
  process.stdout.write(vs.map(v => v.status === 'stored' ? `${v.id} ${v.record.record.seq}\n` : `ERR ${JSON.stringify(v)}\n`).join(''))
}
await node.stop()
