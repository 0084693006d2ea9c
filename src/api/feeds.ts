import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { toDragnetError } from '../errors.js'
import type { DragnetNode } from '../node.js'
import type { RouteAccess } from './access.js'

// Feed URLs, positions and results are the operator's business: both routes take the API token.
const ADMIN: { config: RouteAccess } = { config: { access: 'write' } }

/** The node's scheduled feeds: their status, and one run now (answered when the run is over). */
export async function registerFeeds (app: FastifyInstance, node: DragnetNode): Promise<void> {
  app.get('/api/feeds', ADMIN, async () => ({ scheduled: node.feeds.scheduled, feeds: await node.feeds.list() }))

  // A first run of a big collection takes minutes: the answer starts at once and carries a
  // space (JSON allows leading whitespace) every few seconds until the status follows, so
  // neither the server's idle timeout nor the client's wait for headers or body cuts it.
  app.post('/api/feeds/:name/run', ADMIN, async (req, reply) => {
    const { name } = req.params as { name: string }
    if (!node.feeds.names.includes(name)) await node.feeds.run(name) // throws DRAGNET_NOT_FOUND, naming the feeds there are
    const body = new PassThrough()
    body.write(' ')
    const every = Math.max(50, Math.min(10_000, Math.floor(node.config.http.idleTimeoutMs / 2)))
    const beat = setInterval(() => { body.write(' ') }, every)
    node.feeds.run(name).then(
      (status) => { body.end(JSON.stringify(status)) },
      (err: unknown) => { body.end(JSON.stringify(toDragnetError(err).toJSON())) }
    ).finally(() => { clearInterval(beat) })
    return reply.type('application/json').send(body)
  })
}

