import { join } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DragnetError, toDragnetError } from '../errors.js'
import { FILES } from '../identity/index.js'
import type { DragnetNode } from '../node.js'
import type { Tlp } from '../record/index.js'
import { identifierType, type StixObject } from '../stix/index.js'
import { bodyBytes, type VersionIndex } from '../store/reads.js'
import { callerOf, type RouteAccess } from './access.js'
import { sees, seesAll, type Caller } from './auth.js'
import { Provenance, type MemberInfo } from './provenance.js'
import { loadCursorKey, SealedCursors } from './sealed-cursor.js'
import { AuthorsByTlp, provenanceObject, servePage } from './taxii-provenance.js'
import { collectionMembers, representatives, scanCollection, selectMembers, type Hit, type Member } from './taxii-data.js'
import {
  acceptsTaxii, API_ROOT, collectionById, COLLECTIONS, encodeCursor, parseTaxiiQuery, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE, taxiiTimestamp, timestampMicros,
  type CollectionInfo, type CursorSeal, type Endpoint, type TaxiiQuery
} from './taxii-query.js'

export interface TaxiiInit {
  /** the TLP:CLEAR collection is served without a token */
  publicClear: boolean
  /** max_content_length announced by the API root */
  maxContentLength: number
  /** where clients reach this server (configured, or the bound address; never the Host header) */
  baseUrl: () => string
}

/** Every TAXII route is a read; anonymous callers get TLP:CLEAR when it is public (see access.ts). */
const TAXII_READ: { config: RouteAccess } = { config: { access: 'read', realm: 'taxii' } }

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** A TAXII error message resource (TAXII 2.1 section 3.6.1), with our stable code beside it. */
function taxiiError (reply: FastifyReply, err: DragnetError): FastifyReply {
  const body: Record<string, unknown> = { title: err.message, http_status: String(err.status), error_code: err.code }
  if (Object.keys(err.details).length > 0) body.details = err.details
  if (err.status === 401) reply.header('www-authenticate', 'Basic realm="dragnet TAXII", Bearer realm="dragnet TAXII"')
  return send(reply, body, err.status)
}

/**
 * Sends bytes, never a string: fastify rewrites the content type of string payloads (adding a
 * charset), and TAXII clients compare it with `application/taxii+json;version=2.1` exactly.
 */
function send (reply: FastifyReply, body: unknown, status = 200): FastifyReply {
  return reply.code(status).header('content-type', TAXII_MEDIA_TYPE).send(Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)))
}

function dateHeaders (reply: FastifyReply, first: number | undefined, last: number | undefined): void {
  if (first == null || last == null) return
  reply.header('x-taxii-date-added-first', taxiiTimestamp(first))
  reply.header('x-taxii-date-added-last', taxiiTimestamp(last))
}

/** Collections a caller may see: those at or below its TLP ceiling. */
function visible (caller: Caller): readonly CollectionInfo[] {
  return COLLECTIONS.filter(c => sees(caller, c.tlp))
}

/**
 * Builds `{"more":..,"next":..,"objects":[...]}` around the stored object JSON, copying each
 * object's bytes as signed instead of parsing and re-serialising it. Optional members are left
 * out when empty: no objects and nothing more is `{}`.
 */
function envelope (bodies: Uint8Array[], more: boolean, next: string | undefined): Buffer {
  if (bodies.length === 0) return Buffer.from(more ? JSON.stringify({ more, next }) : '{}')
  const head = `{"more":${String(more)}${more && next != null ? `,"next":${JSON.stringify(next)}` : ''},"objects":[`
  const parts: Uint8Array[] = [Buffer.from(head)]
  const comma = Buffer.from(',')
  bodies.forEach((b, i) => {
    if (i > 0) parts.push(comma)
    parts.push(b)
  })
  parts.push(Buffer.from(']}'))
  return Buffer.concat(parts)
}

function listing<T> (key: string, items: T[], more: boolean, next: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (items.length > 0 || more) out.more = more
  if (more && next != null) out.next = next
  if (items.length > 0) out[key] = items
  return out
}

/**
 * The read-only TAXII 2.1 server under /taxii2/: discovery, one API root, one collection per TLP
 * level, objects, one object, manifest and versions. Every response is
 * `application/taxii+json;version=2.1`; every write method is answered 403.
 */
export async function registerTaxii (app: FastifyInstance, node: DragnetNode, index: VersionIndex, init: TaxiiInit): Promise<void> {
  // A revocation's reason is for the operator; a read token learns the standing and its time.
  const memberOf = (req: FastifyRequest) => (peerId: string): MemberInfo | undefined => node.exportMember(peerId, callerOf(req).canWrite)
  const authors = new AuthorsByTlp(node.store)
  // Kept in the data dir: a client paging a collection carries on across a node restart.
  const cursors = new SealedCursors(await loadCursorKey(join(node.dataDir, FILES.cursorKey)))
  const sealFor = (req: FastifyRequest): CursorSeal | undefined => seesAll(callerOf(req)) ? undefined : cursors
  const offStored = node.ingest.onStored((v) => { authors.note(v.info.tlp, v.info.author) })
  app.addHook('onClose', async () => { offStored() })
  await app.register(async (taxii) => {
    taxii.setErrorHandler((err: any, _req, reply) => {
      if (err instanceof DragnetError) return taxiiError(reply, err)
      if (typeof err.statusCode === 'number' && err.statusCode < 500) return taxiiError(reply, new DragnetError('DRAGNET_BAD_REQUEST', err.message))
      node.log.error({ err: err.message, stack: err.stack }, 'TAXII error')
      return taxiiError(reply, toDragnetError(err))
    })
    taxii.setNotFoundHandler((req, reply) => taxiiError(reply, new DragnetError('DRAGNET_NOT_FOUND', `no TAXII resource ${req.url.split('?')[0]}`)))

    // Before the body is read: a write is refused whatever it carries, and whoever sends it.
    // (No TAXII route accepts a write, so a write reaches only this plugin's not-found handler.)
    taxii.addHook('onRequest', async (req, reply) => {
      if (WRITE_METHODS.has(req.method)) {
        return taxiiError(reply, new DragnetError('DRAGNET_FORBIDDEN', 'this TAXII server is read-only: collections are filled by the node (publish, import, peers), not over TAXII'))
      }
      if (!acceptsTaxii(req.headers.accept)) {
        return taxiiError(reply, new DragnetError('DRAGNET_NOT_ACCEPTABLE', `this server answers ${TAXII_MEDIA_TYPE} only; the request accepts ${req.headers.accept ?? ''}`))
      }
    })

    const apiRoot = (req: FastifyRequest): void => {
      const { root } = req.params as { root: string }
      if (root !== API_ROOT) throw new DragnetError('DRAGNET_NOT_FOUND', `no API root ${root} (this server has /taxii2/${API_ROOT}/)`)
    }

    const collection = (req: FastifyRequest): CollectionInfo => {
      apiRoot(req)
      const { cid } = req.params as { cid: string }
      const c = collectionById(cid)
      const caller = callerOf(req)
      if (c == null) throw new DragnetError('DRAGNET_NOT_FOUND', `no collection ${cid}`)
      if (!sees(caller, c.tlp)) {
        // Anonymous callers may see CLEAR only; a token would open the others. A read token's
        // ceiling is final: above it a collection does not exist for that reader.
        if (caller.kind === 'anonymous') throw new DragnetError('DRAGNET_UNAUTHORIZED', `collection ${c.title} needs a read token or the API token`)
        throw new DragnetError('DRAGNET_NOT_FOUND', `no collection ${cid}`)
      }
      return c
    }

    const query = (req: FastifyRequest, endpoint: Endpoint, tlp: Tlp): ReturnType<typeof parseTaxiiQuery> =>
      parseTaxiiQuery(req.query as Record<string, unknown>, endpoint, tlp, sealFor(req))

    taxii.get('/', TAXII_READ, async (_req, reply) => {
      const url = `${init.baseUrl()}/taxii2/${API_ROOT}/`
      return send(reply, {
        title: `dragnet ${node.roster.self.name || node.peerId}`,
        description: `TAXII 2.1 server of dragnet node ${node.peerId} (read-only; one collection per TLP level)`,
        default: url,
        api_roots: [url]
      })
    })

    taxii.get('/:root/', TAXII_READ, async (req, reply) => {
      apiRoot(req)
      return send(reply, {
        title: `dragnet ${node.roster.self.name || node.peerId}`,
        description: 'Threat intelligence this node holds, one collection per TLP level',
        versions: [TAXII_MEDIA_TYPE],
        max_content_length: init.maxContentLength
      })
    })

    const collectionResource = (c: CollectionInfo): Record<string, unknown> => ({
      id: c.id,
      title: c.title,
      description: `Records this node holds at ${c.title}`,
      alias: c.alias,
      can_read: true,
      can_write: false,
      media_types: [STIX_MEDIA_TYPE]
    })

    taxii.get('/:root/collections/', TAXII_READ, async (req, reply) => {
      apiRoot(req)
      const list = visible(callerOf(req)).map(collectionResource)
      return send(reply, list.length > 0 ? { collections: list } : {})
    })

    taxii.get('/:root/collections/:cid/', TAXII_READ, async (req, reply) => send(reply, collectionResource(collection(req))))

    const pageOf = async (req: FastifyRequest, endpoint: 'objects' | 'manifest'): Promise<{ c: CollectionInfo, q: TaxiiQuery, hits: Hit[], more: boolean, next?: string }> => {
      const c = collection(req)
      const q = query(req, endpoint, c.tlp)
      await index.ready
      const r = await scanCollection({ store: node.store, index, tlp: c.tlp, query: q, wantBytes: true })
      return { c, q, hits: r.hits, more: r.more, ...(r.more && r.next != null ? { next: encodeCursor({ kind: 'o', tlp: c.tlp, position: r.next }, sealFor(req)) } : {}) }
    }

    // A page of records with the markings and identities they reference (see taxii-provenance.ts).
    const servedPageOf = async (req: FastifyRequest, endpoint: 'objects' | 'manifest'): Promise<{ bodies: Uint8Array[], extras: StixObject[], hits: Hit[], more: boolean, next?: string }> => {
      const { c, hits, more, next, q } = await pageOf(req, endpoint)
      const missing = hits.filter(h => h.bytes == null)
      const read = await node.store.getManyBytes(missing.map(h => h.id))
      missing.forEach((h, i) => { if (read[i] != null) h.bytes = read[i] })
      const items = hits.map(h => {
        if (h.bytes == null) throw new DragnetError('DRAGNET_INTERNAL', `record ${h.id} is indexed but not stored`)
        return { info: h.info, body: bodyBytes(h.bytes) }
      })
      const page = servePage(items, q, memberOf(req))
      const served = { bodies: page.bodies, extras: page.extras }
      if (page.kept === hits.length) return { ...served, hits, more, ...(next != null ? { next } : {}) }
      const kept = hits.slice(0, page.kept)
      return { ...served, hits: kept, more: true, next: encodeCursor({ kind: 'o', tlp: c.tlp, position: kept[kept.length - 1].arrival }, sealFor(req)) }
    }

    taxii.get('/:root/collections/:cid/objects/', TAXII_READ, async (req, reply) => {
      const { bodies, extras, hits, more, next } = await servedPageOf(req, 'objects')
      dateHeaders(reply, hits[0]?.info.addedAt, hits[hits.length - 1]?.info.addedAt)
      return send(reply, envelope([...bodies, ...extras.map(o => Buffer.from(JSON.stringify(o)))], more, next))
    })

    taxii.get('/:root/collections/:cid/manifest/', TAXII_READ, async (req, reply) => {
      const { extras, hits, more, next } = await servedPageOf(req, 'manifest')
      const entry = (id: string, version: string, at: number): Record<string, string> => ({ id, date_added: taxiiTimestamp(at), version, media_type: STIX_MEDIA_TYPE })
      // Generated objects (markings, identities) are listed as added with the page's first record.
      const manifest = [
        ...hits.map(h => entry(h.info.stixId, h.info.modified !== '' ? h.info.modified : taxiiTimestamp(h.info.addedAt), h.info.addedAt)),
        ...extras.map(o => entry(o.id, String(o.modified ?? o.created), hits[0].info.addedAt))
      ]
      dateHeaders(reply, hits[0]?.info.addedAt, hits[hits.length - 1]?.info.addedAt)
      return send(reply, listing('objects', manifest, more, next))
    })

    // One object's records in this collection; 404 when it has none here.
    const membersOf = async (req: FastifyRequest): Promise<{ c: CollectionInfo, id: string, members: Member[] }> => {
      const c = collection(req)
      const { oid } = req.params as { oid: string }
      if (identifierType(oid) == null) throw new DragnetError('DRAGNET_BAD_REQUEST', `not a STIX id: ${oid} (expected type--UUID)`)
      const members = await collectionMembers(node.store, oid, c.tlp)
      if (members.length === 0) throw new DragnetError('DRAGNET_NOT_FOUND', `no object ${oid} in collection ${c.title}`)
      return { c, id: oid, members }
    }

    // A generated object (marking definition, member identity) asked for by id: its one version.
    const generated = async (req: FastifyRequest): Promise<{ c: CollectionInfo, object: StixObject } | undefined> => {
      const c = collection(req)
      const { oid } = req.params as { oid: string }
      if ((await collectionMembers(node.store, oid, c.tlp)).length > 0) return undefined
      // Every author this node knows, members in force or not: a revoked member's records stay.
      const known = node.roster.knownAll().flatMap(k => { const m = memberOf(req)(k.peerId); return m != null ? [{ peerId: k.peerId, ...m }] : [] })
      const object = await provenanceObject(oid, c.tlp, known, authors)
      return object != null ? { c, object } : undefined
    }
    const versionOf = (o: StixObject): string => String(o.modified ?? o.created)

    taxii.get('/:root/collections/:cid/objects/:oid/', TAXII_READ, async (req, reply) => {
      const g = await generated(req)
      if (g != null) {
        const q = query(req, 'object', g.c.tlp)
        const us = timestampMicros(versionOf(g.object))
        const wanted = q.specVersionOk && (q.versions.all || q.versions.first || q.versions.last || (us != null && q.versions.at.has(us)))
        return send(reply, envelope(wanted ? [Buffer.from(JSON.stringify(g.object))] : [], false, undefined))
      }
      const { c, members } = await membersOf(req)
      const q = query(req, 'object', c.tlp)
      const selected = q.specVersionOk ? selectMembers(members, q.versions) : new Set<string>()
      const after = q.next?.position ?? 0
      const chosen = members.filter(m => selected.has(m.id) && m.arrival > after && (q.addedAfterUs == null || m.addedAt * 1000 > q.addedAfterUs))
      const page = chosen.slice(0, q.limit)
      const more = chosen.length > page.length
      const next = more ? encodeCursor({ kind: 'i', tlp: c.tlp, position: page[page.length - 1].arrival }, sealFor(req)) : undefined
      const bytes = await node.store.getManyBytes(page.map(m => m.id))
      const infos = await node.store.getManyInfo(page.map(m => m.id))
      // One object's versions: the record(s) only; their markings and creator are served by id.
      const provenance = new Provenance(memberOf(req))
      const served = page.flatMap((m, i) => bytes[i] != null && infos[i] != null ? [provenance.serveBytes(bodyBytes(bytes[i]), infos[i].tlp, infos[i].author, infos[i].type)] : [])
      dateHeaders(reply, page[0]?.addedAt, page[page.length - 1]?.addedAt)
      return send(reply, envelope(served, more, next))
    })

    taxii.get('/:root/collections/:cid/objects/:oid/versions/', TAXII_READ, async (req, reply) => {
      const g = await generated(req)
      if (g != null) return send(reply, listing('versions', query(req, 'versions', g.c.tlp).specVersionOk ? [versionOf(g.object)] : [], false, undefined))
      const { c, members } = await membersOf(req)
      const q = query(req, 'versions', c.tlp)
      const after = q.next?.position
      const reps = q.specVersionOk ? representatives(members) : []
      const chosen = reps.filter(m => (after == null || m.versionUs > after) && (q.addedAfterUs == null || m.addedAt * 1000 > q.addedAfterUs))
      const page = chosen.slice(0, q.limit)
      const more = chosen.length > page.length
      const next = more ? encodeCursor({ kind: 'v', tlp: c.tlp, position: page[page.length - 1].versionUs }, sealFor(req)) : undefined
      const added = page.map(m => m.addedAt)
      dateHeaders(reply, added.length > 0 ? Math.min(...added) : undefined, added.length > 0 ? Math.max(...added) : undefined)
      return send(reply, listing('versions', page.map(m => m.version), more, next))
    })

    // Statuses report on writes; a read-only server has none to report.
    taxii.get('/:root/status/:sid/', TAXII_READ, async (req) => {
      apiRoot(req)
      const { sid } = req.params as { sid: string }
      throw new DragnetError('DRAGNET_NOT_FOUND', `no status ${sid}: this server accepts no writes, so it has no statuses`)
    })
  }, { prefix: '/taxii2' })
}
