import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { DragnetError } from '../errors.js'
import type { DragnetNode } from '../node.js'
import { ArrivalFollower, pushFilter, withinTlps, type PushEvent } from '../push/events.js'
import { callerOf, type RouteAccess } from './access.js'
import { seesAll, visibleTlps } from './auth.js'
import { SealedCursors } from './sealed-cursor.js'

/*
 * GET /api/stream: records as they are stored, as server-sent events. Each event's `id:` is the
 * record's arrival number on this node (sealed for a caller below RED, see formatEvent), so a client that reconnects with `Last-Event-ID` (every
 * EventSource does) continues exactly after the last event it received: the stream reads the
 * arrival index from that cursor (see push/events.ts), replaying what it missed, then follows
 * live. A caller never receives a record above its TLP ceiling.
 *
 * A stream outlives every HTTP timeout of the server: its socket's idle timeout is lifted, and a
 * comment line every `stream.keepAliveMs` keeps proxies (and the client) from taking it for dead.
 * Stopping the node ends every stream.
 */

export interface StreamInit {
  keepAliveMs: number
  maxClients: number
}

const READ: { config: RouteAccess } = { config: { access: 'read' } }

function lastEventId (req: FastifyRequest, current: number, sealed: SealedCursors | undefined): number {
  const q = req.query as Record<string, unknown>
  const header = req.headers['last-event-id']
  const raw = header ?? q.lastEventId
  if (raw == null) return current
  const text = Array.isArray(raw) ? String(raw[0]) : String(raw)
  if (sealed != null) return Math.min(sealed.open(text.trim()), current)
  if (!/^\d{1,15}$/.test(text.trim())) throw new DragnetError('DRAGNET_BAD_REQUEST', `Last-Event-ID must be an arrival number (a non-negative integer), got ${text.slice(0, 40)}`, { property: 'Last-Event-ID' })
  const n = Number(text.trim())
  // A cursor ahead of this node is a client confusing nodes: answer that, not silence.
  if (n > current) throw new DragnetError('DRAGNET_BAD_REQUEST', `Last-Event-ID ${n} is past this node's last arrival (${current}): it comes from another node or another data dir`, { property: 'Last-Event-ID' })
  return n
}

function list (v: unknown): string[] | undefined {
  if (v == null) return undefined
  return (Array.isArray(v) ? v : [v]).flatMap(s => String(s).split(',')).map(s => s.trim()).filter(s => s !== '')
}

/**
 * One SSE event. For a caller below RED the id is the arrival number sealed and the data has
 * none: arrival numbers count every record, so gaps between two would count the records above
 * its ceiling.
 */
export function formatEvent (e: PushEvent, sealed?: SealedCursors): string {
  if (sealed == null) return `id: ${e.arrival}\nevent: record\ndata: ${JSON.stringify(e)}\n\n`
  const { arrival, ...data } = e
  return `id: ${sealed.seal(arrival)}\nevent: record\ndata: ${JSON.stringify(data)}\n\n`
}

/** Writes and waits for the socket to take it, so a slow client slows its own reads only. */
async function write (res: ServerResponse, text: string): Promise<void> {
  if (res.destroyed || res.writableEnded) throw new Error('stream closed')
  if (res.write(text)) return
  await new Promise<void>((resolve, reject) => {
    const done = (): void => { res.off('drain', done); res.off('close', closed); resolve() }
    const closed = (): void => { res.off('drain', done); res.off('close', closed); reject(new Error('stream closed')) }
    res.on('drain', done)
    res.on('close', closed)
  })
}

export function registerStream (app: FastifyInstance, node: DragnetNode, init: StreamInit): void {
  const open = new Set<() => void>()
  // One key per API instance, as for the listing cursors: a reader's ids are valid while the node runs.
  const sealedIds = new SealedCursors()
  app.addHook('preClose', async () => { for (const end of [...open]) end() })

  app.get('/api/stream', READ, async (req, reply) => {
    const q = req.query as Record<string, unknown>
    const caller = callerOf(req)
    const filter = withinTlps(pushFilter({ tlp: list(q.tlp), type: list(q.type), author: list(q.author) }), visibleTlps(caller))
    const sealed = seesAll(caller) ? undefined : sealedIds
    const after = lastEventId(req, node.store.counts().arrival, sealed)
    if (open.size >= init.maxClients) throw new DragnetError('DRAGNET_BUSY', `this node serves ${init.maxClients} streams at most (stream.maxClients); try again later`)

    reply.hijack()
    const res = reply.raw
    req.raw.socket.setTimeout(0)
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive'
    })
    // The client retries after 2 s; the first line also tells it the stream is up.
    res.write(`retry: 2000\n: dragnet stream${sealed == null ? ` after ${after}` : ''}\n\n`)

    const follower = new ArrivalFollower({
      store: node.store,
      onStored: (fn) => node.ingest.onStored(fn),
      memberOf: (p) => node.exportMember(p, caller.canWrite),
      filter,
      after,
      deliver: async (events) => { for (const e of events) await write(res, formatEvent(e, sealed)) },
      onError: (err) => {
        if (!res.destroyed) node.log.warn({ err: err.message }, 'stream ended by an error')
        end()
      }
    })
    const ping = setInterval(() => { write(res, ': keep-alive\n\n').catch(() => { end() }) }, init.keepAliveMs)
    ping.unref()
    let ended = false
    const end = (): void => {
      if (ended) return
      ended = true
      open.delete(end)
      clearInterval(ping)
      void follower.stop()
      if (!res.writableEnded) res.end()
    }
    open.add(end)
    res.on('close', end)
    follower.start()
  })
}
