import type { FastifyInstance } from 'fastify'
import { DragnetError } from '../errors.js'
import type { DragnetNode } from '../node.js'
import type { PurgeTarget } from '../purge/index.js'
import type { RouteAccess } from './access.js'

/*
 * Purge and erasure are the operator's acts: every route takes the node's API token. `dragnet
 * purge` and `dragnet erase` come here when a node runs on the data dir (the store is locked by
 * it), so the running node's sync indexes learn of the purge at once.
 */

const WRITE: { config: RouteAccess } = { config: { access: 'write' } }
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{30,100}$/
const STIX_ID = /^[a-z0-9][a-z0-9-]*--[0-9a-fA-F-]{36}$/
const MAX_IDS = 10_000

function idList (v: unknown): string[] | undefined {
  if (v == null) return undefined
  if (!Array.isArray(v) || v.length > MAX_IDS || !v.every(x => typeof x === 'string')) throw new DragnetError('DRAGNET_BAD_REQUEST', `ids must be a list of up to ${MAX_IDS} record ids`, { property: 'ids' })
  return v
}

function reasonOf (body: Record<string, unknown>): string {
  if (typeof body.reason !== 'string') throw new DragnetError('DRAGNET_BAD_REQUEST', 'reason is required: why the records are purged (kept in the tombstone and the audit)', { property: 'reason' })
  return body.reason
}

/** The request body as a purge target: exactly one of ids, stixId, author. */
export function purgeTargetOf (body: Record<string, unknown>): PurgeTarget {
  const t: PurgeTarget = {}
  const ids = idList(body.ids)
  if (ids != null) t.ids = ids
  if (body.stixId != null) {
    if (typeof body.stixId !== 'string' || !STIX_ID.test(body.stixId)) throw new DragnetError('DRAGNET_BAD_REQUEST', `stixId must be a STIX id such as indicator--<uuid>, got ${String(body.stixId)}`, { property: 'stixId' })
    t.stixId = body.stixId
  }
  if (body.author != null) {
    if (typeof body.author !== 'string' || !PEER_ID.test(body.author)) throw new DragnetError('DRAGNET_BAD_REQUEST', `author must be a PeerId, got ${String(body.author)}`, { property: 'author' })
    t.author = body.author
  }
  return t
}

function objectBody (v: unknown): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new DragnetError('DRAGNET_BAD_REQUEST', 'expected a JSON object')
  return v as Record<string, unknown>
}

export async function registerPurge (app: FastifyInstance, node: DragnetNode): Promise<void> {
  app.post('/api/purge', WRITE, async (req) => {
    const body = objectBody(req.body)
    return await node.purge.purge(purgeTargetOf(body), { reason: reasonOf(body) })
  })

  app.get('/api/purge', WRITE, async () => ({ tombstones: await node.purge.list() }))

  app.post('/api/erase', WRITE, async (req) => {
    const body = objectBody(req.body)
    const ids = idList(body.ids)
    if (ids == null || ids.length === 0) throw new DragnetError('DRAGNET_BAD_REQUEST', 'ids must name the records to erase', { property: 'ids' })
    return await node.purge.erase(ids, reasonOf(body))
  })
}
