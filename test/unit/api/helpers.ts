import type { FastifyInstance } from 'fastify'
import { buildApi, type ApiInit } from '../../../src/api/server.js'
import type { DragnetNode } from '../../../src/node.js'
import { testNode, type TestNodeInit } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

export const WRITE_TOKEN = 'write-token-0123456789abcdef'
export const READ_TOKEN = 'read-token-0123456789abcdef'
export const TAXII = 'application/taxii+json;version=2.1'

export interface ApiFixture {
  node: DragnetNode
  app: FastifyInstance
  close: () => Promise<void>
}

/** A node on a temp dir (no network) with its API built for inject(): no socket is opened. */
export async function apiFixture (init: Partial<TestNodeInit> = {}, api: Partial<ApiInit> = {}): Promise<ApiFixture> {
  const tmp = await tempDir('dragnet-api-')
  const node = await testNode({ dir: tmp.dir, ...init })
  const app = await buildApi(node, { token: WRITE_TOKEN, readTokens: [READ_TOKEN], ...api })
  return {
    node,
    app,
    close: async () => {
      await app.close()
      await node.stop()
      await tmp.cleanup()
    }
  }
}

export function bearer (token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

export function basic (user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }
}
