import { loadConfig, type NodeConfig } from '../../src/config/config.js'
import { initDataDir, type Role } from '../../src/identity/index.js'
import { silentLogger } from '../../src/log.js'
import { DragnetNode } from '../../src/node.js'
import type { Policy } from '../../src/policy/index.js'

export interface TestNodeInit {
  dir: string
  name?: string
  country?: string
  role?: Role
  seed?: Uint8Array
  config?: Record<string, unknown>
  network?: boolean
  policy?: Policy
}

/** A node on a temp data dir with real LevelDB; the network is off unless asked for. */
export async function testNode (init: TestNodeInit): Promise<DragnetNode> {
  await initDataDir(init.dir, { name: init.name ?? 'test', country: init.country ?? 'DE', role: init.role ?? 'bureau', seed: init.seed, force: true })
  const config: NodeConfig = await loadConfig({
    overrides: {
      name: init.name ?? 'test',
      country: init.country ?? 'DE',
      role: init.role ?? 'bureau',
      ingest: { verifyWorkers: 0 },
      ...(init.config ?? {})
    }
  })
  const node = await DragnetNode.open({ dataDir: init.dir, config, log: silentLogger(), network: init.network ?? false, policy: init.policy })
  await node.start()
  return node
}
