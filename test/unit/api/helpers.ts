import type { FastifyInstance } from 'fastify'
import { memberIdentityId } from '../../../src/api/provenance.js'
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

// The TLP 2.0 marking definition ids (OASIS cti-stix-common-objects, tlp-2.0/marking-definition.json).
const TLP2_IDS = new Set([
  'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
  'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
  'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
  'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
  'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1'
])

/**
 * The objects of a TAXII page or bundle that stand for records: without the TLP 2.0 marking
 * definitions and the identities of the members in `peerIds` (with their located-at
 * relationships and the locations those point to) served beside them.
 */
export function recordObjects<T extends { id: string, type?: string, source_ref?: string, target_ref?: string }> (objects: T[] | undefined, peerIds: string[]): T[] {
  const identities = new Set(peerIds.map(memberIdentityId))
  const all = objects ?? []
  const located = all.filter(o => o.type === 'relationship' && identities.has(String(o.source_ref)))
  const generated = new Set([...TLP2_IDS, ...identities, ...located.map(o => o.id), ...located.map(o => String(o.target_ref))])
  return all.filter(o => !generated.has(o.id))
}
