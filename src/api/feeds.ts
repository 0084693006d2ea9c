import type { FastifyInstance } from 'fastify'
import type { DragnetNode } from '../node.js'
import type { RouteAccess } from './access.js'

// Feed URLs, positions and results are the operator's business: both routes take the API token.
const ADMIN: { config: RouteAccess } = { config: { access: 'write' } }

/** The node's scheduled feeds: their status, and one run now (answered when the run is over). */
export async function registerFeeds (app: FastifyInstance, node: DragnetNode): Promise<void> {
  app.get('/api/feeds', ADMIN, async () => ({ scheduled: node.isRunning, feeds: await node.feeds.list() }))

  app.post('/api/feeds/:name/run', ADMIN, async (req) => {
    const { name } = req.params as { name: string }
    return await node.feeds.run(name)
  })
}
