import { ERROR_STATUS } from '../errors.js'
import { TLP_LEVELS } from '../record/index.js'
import { API_ROOT, COLLECTIONS, MAX_LIMIT, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE } from './taxii-query.js'

/*
 * The OpenAPI 3 description served at /api/openapi.json. A route test checks that every route
 * the server registers is described here, so the two cannot drift apart.
 */

type Obj = Record<string, unknown>

const json = (schema: Obj): Obj => ({ 'application/json': { schema } })
const taxii = (schema: Obj): Obj => ({ [TAXII_MEDIA_TYPE]: { schema } })
const ref = (name: string): Obj => ({ $ref: `#/components/schemas/${name}` })

const errorResponse = (description: string): Obj => ({ description, content: json(ref('Error')) })
const lookupSummarySchema: Obj = {
  type: 'object',
  description: 'The federation view of every record the lookup matches, on every page (sightings and opinions up to the reader\'s TLP ceiling); confidence as documented in the README',
  properties: {
    reporters: { type: 'array', items: { type: 'string' } },
    sightings: { type: 'integer' },
    sighted_by: { type: 'array', items: { type: 'string' } },
    first_seen: { type: 'string', format: 'date-time', nullable: true },
    last_seen: { type: 'string', format: 'date-time', nullable: true },
    opinions: { type: 'object', properties: { agree: { type: 'integer' }, disagree: { type: 'integer' }, reasons: { type: 'array', items: { type: 'object' } } } },
    confidence: { type: 'integer', minimum: 0, maximum: 100 },
    partial: { type: 'boolean', description: 'present (true) when the lookup matched more index entries than one summary reads (200,000): it covers those read' }
  }
}
const feedbackResponses: Obj = {
  201: { description: 'Stored', content: json(ref('PublishSummary')) },
  400: errorResponse('A missing or malformed field (DRAGNET_BAD_REQUEST, DRAGNET_BAD_TLP)'),
  401: errorResponse('No API token (DRAGNET_UNAUTHORIZED)'),
  403: errorResponse('Wrong API token (DRAGNET_FORBIDDEN), or this node may not author (DRAGNET_ROLE_FORBIDDEN)'),
  404: errorResponse('No record on this node names the value, or no such record (DRAGNET_NOT_FOUND)'),
  422: errorResponse('A TLP looser than the object\'s: feedback is never looser than what it is about (DRAGNET_TLP_CONFLICT)')
}
const taxiiErrorResponse = (description: string): Obj => ({ description, content: taxii(ref('TaxiiError')) })

function query (name: string, description: string, schema: Obj = { type: 'string' }): Obj {
  return { name, in: 'query', required: false, description, schema }
}

function path (name: string, description: string): Obj {
  return { name, in: 'path', required: true, description, schema: { type: 'string' } }
}

const TAXII_ERRORS: Obj = {
  400: taxiiErrorResponse('A malformed filter, limit, added_after or next'),
  401: taxiiErrorResponse('No credential, or one that matches no token (or an anonymous caller asking for a collection other than TLP:CLEAR)'),
  404: taxiiErrorResponse('No such API root, collection or object'),
  406: taxiiErrorResponse(`The Accept header does not admit ${TAXII_MEDIA_TYPE}`)
}

const TAXII_SECURITY = [{ bearer: [] }, { basic: [] }, {}]

const FILTERS = {
  addedAfter: query('added_after', 'Only objects added to this node after this RFC 3339 timestamp (date_added is strictly greater)', { type: 'string', format: 'date-time' }),
  limit: query('limit', `Objects per page (default 100, at most ${MAX_LIMIT}; the server may return fewer)`, { type: 'integer', minimum: 1 }),
  next: query('next', 'The cursor from the previous page (opaque; use with the same filters)'),
  id: query('match[id]', 'STIX ids, comma-separated'),
  type: query('match[type]', 'STIX types, comma-separated'),
  version: query('match[version]', 'last (default), first, all, or RFC 3339 versions, comma-separated'),
  specVersion: query('match[spec_version]', 'STIX spec versions, comma-separated (this server holds 2.1 only)')
}

const COLLECTION_PARAMS = [path('root', `The API root (${API_ROOT})`), path('cid', 'Collection id (or its alias, such as tlp-green)')]

function taxiiGet (summary: string, params: Obj[], ok: Obj, description = summary): Obj {
  return { get: { tags: ['TAXII 2.1'], summary, description, security: TAXII_SECURITY, parameters: params, responses: { 200: { description: 'OK', content: taxii(ok) }, ...TAXII_ERRORS } } }
}

const WRITE_REFUSED: Obj = {
  tags: ['TAXII 2.1'],
  summary: 'Refused: this TAXII server is read-only',
  responses: { 403: taxiiErrorResponse('Every write method is answered 403') }
}

/** The web console's files and the endpoints its pages call (src/api/console.ts, web.ts). */
function consolePaths (): Obj {
  const ok = (description: string): Obj => ({ 200: { description, content: json({ type: 'object' }) } })
  const tags = ['console']
  return {
    '/': { get: { tags, summary: 'The web console (HTML; public, holds no data; Content-Security-Policy admits this origin only)', security: [], responses: { 200: { description: 'index.html' }, 404: errorResponse('The console is not built (npm run build)') } } },
    '/assets/{file}': { get: { tags, summary: 'The console\'s scripts and styles (content-hashed names, cached for a year)', security: [], parameters: [path('file', 'file name')], responses: { 200: { description: 'the file' }, 404: errorResponse('No such file') } } },
    '/api/console/whoami': { get: { tags, summary: 'The caller (kind, name, TLP ceiling, visible TLPs, may write) and this node', responses: ok('OK') } },
    '/api/console/overview': { get: { tags, summary: 'Status (counts within the caller\'s ceiling), arrivals per hour over the last day, propagation delay histogram, gossip/sync counters, peers', responses: ok('OK') } },
    '/api/console/activity': { get: { tags, summary: 'Live feed: records that arrived after `cursor` that the caller may see (without it: the newest 20), a cursor for the next call, and peer states', parameters: [query('cursor', 'the `cursor` of the previous answer (sealed; valid while this node runs)')], responses: { ...ok('OK'), 400: errorResponse('A cursor this node did not issue') } } },
    '/api/console/policy': { get: { tags, summary: 'The policy in force: name, defaults, groups, rules, warninglists (its file path for the API token only)', responses: ok('OK') } },
    '/api/console/policy/dry-run': { post: { tags, summary: 'Explain the outbound decision for a STIX object as this node\'s record at a TLP, against a roster member', requestBody: { required: true, content: json({ type: 'object', required: ['stix', 'peer'], properties: { stix: ref('StixObject'), peer: { type: 'string' }, tlp: { type: 'string', enum: [...TLP_LEVELS] }, to: { type: 'array', items: { type: 'string' } } } }) }, responses: { ...ok('The explanation: decision, floor, every rule with its checks'), 400: errorResponse('Not STIX, a bad TLP, or a peer not on the roster') } } },
    '/api/console/why': { get: { tags, summary: 'Why a peer did or did not get a record: the audit entries of the pair, and the outbound decision now with every rule explained', parameters: [query('record', 'record id'), query('peer', 'PeerId of a roster member')], responses: { ...ok('OK'), 400: errorResponse('A malformed parameter or a peer not on the roster'), 404: errorResponse('No such record (or above the caller\'s TLP ceiling)') } } },
    '/api/console/import': { post: { tags, summary: 'Start an import (STIX, MISP, indicator list or CSV text) as this node\'s records; answers 202 with a job to poll', requestBody: { required: true, content: json({ type: 'object', required: ['text'], properties: { text: { type: 'string' }, name: { type: 'string' }, format: { type: 'string', enum: ['stix', 'misp', 'iocs', 'csv'] }, tlp: { type: 'string', enum: [...TLP_LEVELS] } } }) }, responses: { 202: { description: 'The job: id, done, total, finished', content: json({ type: 'object' }) }, 400: errorResponse('Content that does not parse'), 409: errorResponse('Too many imports at once') } } },
    '/api/console/import/{job}': { get: { tags, summary: 'An import job: progress (done of total) and, once finished, the summary as `dragnet import --json` prints it', parameters: [path('job', 'job id')], responses: { ...ok('OK'), 404: errorResponse('No such job') } } }
  }
}

export function openApiDocument (init: { version: string, bodyLimit: number }): Obj {
  return {
    openapi: '3.0.3',
    info: {
      title: 'dragnet node API',
      version: init.version,
      description: 'The local API of a dragnet node: records, lookup, peers, status, audit, export, Prometheus metrics, and a read-only TAXII 2.1 server. ' +
        'Listens on 127.0.0.1 by default. Writes need the node\'s API token (<data dir>/api-token) as a bearer token; read tokens (dragnet token create) read records up to their TLP ceiling; ' +
        'beyond loopback every route but /health needs a token. A Host that is not loopback, a configured name or the bound address is refused (DRAGNET_BAD_HOST, 421). ' +
        'Errors are JSON `{ code, message, details? }` with a stable DRAGNET_* code; each code has one HTTP status.'
    },
    servers: [{ url: '/' }],
    tags: [{ name: 'records' }, { name: 'node' }, { name: 'TAXII 2.1' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The API token (writes, all reads) or a read token (reads up to its TLP ceiling)' },
        basic: { type: 'http', scheme: 'basic', description: 'TAXII only: any user name, a token as the password' }
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: Object.keys(ERROR_STATUS), description: 'Stable error code; its HTTP status: ' + Object.entries(ERROR_STATUS).map(([k, v]) => `${k} ${v}`).join(', ') },
            message: { type: 'string' },
            details: { type: 'object', additionalProperties: true, description: 'object (STIX id or index) and property at fault, when there are' }
          }
        },
        TaxiiError: {
          type: 'object',
          required: ['title'],
          properties: { title: { type: 'string' }, http_status: { type: 'string' }, error_code: { type: 'string', description: 'the DRAGNET_* code' }, details: { type: 'object' } }
        },
        StixObject: { type: 'object', required: ['type', 'id'], additionalProperties: true, properties: { type: { type: 'string' }, id: { type: 'string' }, spec_version: { type: 'string', enum: ['2.1'] } } },
        Record: {
          type: 'object',
          description: 'A signed record: the signed fields, the signature, and what this node knows locally',
          properties: {
            id: { type: 'string', description: 'sha2-256 multihash of the canonical unsigned bytes, hex' },
            author: { type: 'string', description: 'PeerId of the signer' },
            seq: { type: 'integer' },
            ts: { type: 'integer', description: 'signing time, ms' },
            tlp: { type: 'string', enum: [...TLP_LEVELS] },
            to: { type: 'array', items: { type: 'string' } },
            body: ref('StixObject'),
            sig: { type: 'string', format: 'byte' },
            local: { type: 'object', properties: { arrival: { type: 'integer' }, addedAt: { type: 'string', format: 'date-time' }, source: { type: 'string' }, from: { type: 'string' }, current: { type: 'boolean' } } }
          }
        },
        PublishSummary: {
          type: 'object',
          properties: {
            results: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' }, status: { type: 'string', enum: ['stored', 'duplicate', 'rejected'] }, id: { type: 'string' }, code: { type: 'string' }, reason: { type: 'string' }, details: { type: 'object' } } } },
            stored: { type: 'integer' },
            duplicates: { type: 'integer' },
            rejected: { type: 'integer' }
          }
        },
        FeedStatus: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            kind: { type: 'string', enum: ['taxii', 'misp-feed', 'url-list', 'url-csv'] },
            url: { type: 'string' },
            running: { type: 'boolean' },
            lastRun: { type: 'string', format: 'date-time', nullable: true },
            result: { type: 'string', enum: ['ok', 'error'], nullable: true },
            error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
            counts: { type: 'object', nullable: true, properties: { values: { type: 'integer' }, imported: { type: 'integer' }, duplicates: { type: 'integer' }, skipped: { type: 'integer' }, stored: { type: 'integer' }, rejected: { type: 'integer' } } },
            nextRun: { type: 'string', format: 'date-time', nullable: true },
            lastSuccess: { type: 'string', format: 'date-time', nullable: true },
            runs: { type: 'integer' },
            failures: { type: 'integer' },
            totals: { type: 'object' },
            cursor: { type: 'string' },
            events: { type: 'integer' }
          }
        },
        Envelope: { type: 'object', properties: { more: { type: 'boolean' }, next: { type: 'string' }, objects: { type: 'array', items: ref('StixObject') } } }
      }
    },
    paths: {
      ...consolePaths(),
      '/health': {
        get: {
          tags: ['node'],
          summary: 'Liveness, and whether the store can write (no token needed)',
          security: [],
          responses: {
            200: { description: 'OK', content: json({ type: 'object', properties: { ok: { type: 'boolean' }, peerId: { type: 'string' }, running: { type: 'boolean' } } }) },
            503: { description: 'Degraded: the store cannot write (disk full); reads go on', content: json({ type: 'object', properties: { ok: { type: 'boolean' }, status: { type: 'string', enum: ['degraded'] }, peerId: { type: 'string' }, running: { type: 'boolean' }, storage: { type: 'object', properties: { ok: { type: 'boolean' }, error: { type: 'string' }, since: { type: 'integer' }, errors: { type: 'integer' } } } } }) }
          }
        }
      },
      '/metrics': { get: { tags: ['node'], summary: 'Prometheus metrics (text exposition format)', responses: { 200: { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/api/openapi.json': { get: { tags: ['node'], summary: 'This document', responses: { 200: { description: 'OK', content: json({ type: 'object' }) } } } },
      '/api/status': { get: { tags: ['node'], summary: 'Identity, record counts by TLP, peers, flagged (equivocating) authors', responses: { 200: { description: 'OK', content: json({ type: 'object' }) } } } },
      '/api/records': {
        get: {
          tags: ['records'],
          summary: 'Records in local arrival order',
          parameters: [
            query('type', 'STIX types, comma-separated'),
            query('author', 'author PeerIds, comma-separated'),
            query('tlp', `TLP levels, comma-separated (${TLP_LEVELS.join(', ')})`),
            query('since', 'only records that arrived at or after this ISO 8601 time', { type: 'string', format: 'date-time' }),
            query('limit', 'records per page, 1-1000 (default 100)', { type: 'integer', minimum: 1, maximum: 1000 }),
            query('cursor', 'the next value of the previous page')
          ],
          responses: {
            200: { description: 'A page; next is present when there may be more', content: json({ type: 'object', properties: { records: { type: 'array', items: ref('Record') }, next: { type: 'string' } } }) },
            400: errorResponse('A malformed parameter (DRAGNET_BAD_REQUEST, DRAGNET_BAD_TLP)')
          }
        },
        post: {
          tags: ['records'],
          summary: 'Sign and store STIX 2.1 content as this node\'s records',
          description: 'The body is one STIX object, an array of objects, a bundle, or `{ stix, tlp, to }`. One verdict per object; duplicates of what this node already published are not stored twice.',
          security: [{ bearer: [] }],
          parameters: [
            query('tlp', `record TLP (${TLP_LEVELS.join(', ')}); default: each object's strictest TLP marking, else green; never looser than a marking (DRAGNET_TLP_CONFLICT)`),
            query('to', 'recipient PeerIds, comma-separated (amber only)'),
            query('skipExisting', 'import mode: an object whose id this node already published, in any version, is reported duplicate and not stored', { type: 'boolean' }),
            query('source', 'local (default) or import: the source the records are audited under', { type: 'string', enum: ['local', 'import'] })
          ],
          requestBody: { required: true, content: json({ oneOf: [ref('StixObject'), { type: 'array', items: ref('StixObject') }, { type: 'object', properties: { stix: {}, tlp: { type: 'string' }, to: { type: 'array', items: { type: 'string' } } } }] }) },
          responses: {
            201: { description: 'Every object stored or already stored', content: json(ref('PublishSummary')) },
            207: { description: 'Some objects rejected, others stored', content: json(ref('PublishSummary')) },
            400: errorResponse('Not JSON, not STIX, invalid STIX, bad TLP or recipients, nested too deeply (DRAGNET_TOO_DEEP); the first rejection\'s code, with the summary'),
            401: errorResponse('No API token (DRAGNET_UNAUTHORIZED)'),
            403: errorResponse('Wrong API token (DRAGNET_FORBIDDEN), or this node may not author (DRAGNET_ROLE_FORBIDDEN)'),
            409: errorResponse('Another member owns the STIX id (DRAGNET_NOT_OWNER)'),
            413: errorResponse(`Body over ${init.bodyLimit} bytes (DRAGNET_TOO_LARGE)`),
            415: errorResponse('Body is not application/json (DRAGNET_UNSUPPORTED_MEDIA_TYPE)'),
            422: errorResponse('A TLP given is looser than an object\'s TLP marking (DRAGNET_TLP_CONFLICT)'),
            507: errorResponse('The store cannot write: disk full (DRAGNET_STORAGE); nothing stored')
          }
        }
      },
      '/api/records/signed': {
        post: {
          tags: ['records'],
          summary: 'Ingest signed records as received (a records file being imported): not re-signed; signature, roster, inbound policy, versions, audit (source import) as for gossip',
          security: [{ bearer: [] }],
          requestBody: { required: true, content: json({ type: 'object', required: ['from', 'envelopes'], properties: { from: { type: 'string', description: 'PeerId of the member that wrote the file' }, envelopes: { type: 'array', items: { type: 'string', description: 'envelope bytes, base64' }, maxItems: 10000 } } }) },
          responses: {
            201: { description: 'Every record stored or already stored', content: json(ref('PublishSummary')) },
            207: { description: 'Some records rejected (code and reason each), others stored', content: json(ref('PublishSummary')) },
            400: errorResponse('No from, no envelopes, or one that is not base64'),
            401: errorResponse('No API token (DRAGNET_UNAUTHORIZED)'),
            403: errorResponse('Wrong API token (DRAGNET_FORBIDDEN)')
          }
        }
      },
      '/api/sightings': {
        post: {
          tags: ['records'],
          summary: 'Publish a STIX 2.1 sighting of the object(s) behind a value, record id or STIX id, as this node\'s record (one per object; amber ones addressed to the object\'s author)',
          security: [{ bearer: [] }],
          requestBody: { required: true, content: json({ type: 'object', required: ['target'], properties: { target: { type: 'string', description: 'an observable value, a record id or a STIX id' }, count: { type: 'integer', minimum: 1 }, first_seen: { type: 'string', format: 'date-time' }, last_seen: { type: 'string', format: 'date-time' }, where: { type: 'string' }, tlp: { type: 'string' }, to: { type: 'array', items: { type: 'string' } } } }) },
          responses: feedbackResponses
        }
      },
      '/api/opinions': {
        post: {
          tags: ['records'],
          summary: 'Publish a STIX 2.1 opinion (agree or disagree, with a reason) of a record, as this node\'s record (amber: addressed to the record\'s author)',
          security: [{ bearer: [] }],
          requestBody: { required: true, content: json({ type: 'object', required: ['target', 'opinion'], properties: { target: { type: 'string', description: 'a record id or a STIX id' }, opinion: { type: 'string', enum: ['agree', 'disagree'] }, reason: { type: 'string' }, tlp: { type: 'string' }, to: { type: 'array', items: { type: 'string' } } } }) },
          responses: feedbackResponses
        }
      },
      '/api/records/{id}': {
        get: {
          tags: ['records'],
          summary: 'One record',
          parameters: [path('id', 'record id (1220 + 64 hex digits)')],
          responses: { 200: { description: 'OK', content: json(ref('Record')) }, 400: errorResponse('Not a record id'), 404: errorResponse('No such record') }
        }
      },
      '/api/lookup': {
        get: {
          tags: ['records'],
          summary: 'Every current record, any author, naming an IP/CIDR, domain, URL, email or MD5/SHA-1/SHA-256 (IPs also through CIDRs)',
          description: 'A domain also finds its subdomains unless exact=true. At most limit records a page; next, when present, continues after it (pass it as cursor). A read token sees records up to its TLP ceiling.',
          parameters: [
            { ...query('value', 'the observable'), required: true },
            query('limit', 'records per page, 1-10000 (default 1000)', { type: 'integer', minimum: 1, maximum: 10000 }),
            query('cursor', 'the next value of the previous page'),
            query('exact', 'a domain finds exactly that name, not its subdomains', { type: 'boolean' })
          ],
          responses: { 200: { description: 'OK', content: json({ type: 'object', properties: { value: { type: 'string' }, kind: { type: 'string' }, summary: lookupSummarySchema, records: { type: 'array', items: { type: 'object' } }, next: { type: 'string' } } }) }, 400: errorResponse('No value, not an observable, a bad limit or cursor') }
        }
      },
      '/api/membership': { post: { tags: ['node'], summary: 'Hand a membership document (credential, revocation, hand-over) to the federation: verified against federation.roots and federation.threshold, kept, audited and spread to every connected member', requestBody: { required: true, content: json({ type: 'object' }) }, responses: { 200: { description: 'Already held', content: json({ type: 'object' }) }, 201: { description: 'Accepted', content: json({ type: 'object' }) }, 400: errorResponse('Refused: too few root signatures, a forged or non-root signature, expired, malformed (DRAGNET_BAD_CREDENTIAL)') } } },
      '/api/members': { get: { tags: ['node'], summary: 'Every member this node knows: source (credential, local), validity, status (member, revoked, expired, pending, denied, rotated), connected', responses: { 200: { description: 'OK', content: json({ type: 'object', properties: { members: { type: 'array', items: { type: 'object' } } } }) } } } },
      '/api/peers': { get: { tags: ['node'], summary: 'Roster members with connection state and gossip/sync counters (offline: the roster and the last persisted counters, connected false)', responses: { 200: { description: 'OK', content: json({ type: 'object', properties: { running: { type: 'boolean' }, connected: { type: 'integer' }, peers: { type: 'array', items: { type: 'object' } }, gossip: { type: 'object' } } }) } } } },
      '/api/audit': {
        get: {
          tags: ['node'],
          summary: 'Audit log, newest first: accepted, rejected, sent and withheld decisions with the rule that made them',
          parameters: [query('record', 'record id'), query('peer', 'PeerId'), query('limit', 'entries, 1-10000 (default 100)', { type: 'integer', minimum: 1, maximum: 10000 })],
          responses: { 200: { description: 'OK', content: json({ type: 'object', properties: { entries: { type: 'array', items: { type: 'object' } } } }) }, 400: errorResponse('A malformed parameter') }
        }
      },
      '/api/purge': {
        get: { tags: ['node'], summary: 'Tombstones of purged records (id, reason, time, operator, author, TLP); API token only', responses: { 200: { description: 'OK', content: json({ type: 'object', properties: { tombstones: { type: 'array', items: { type: 'object' } } } }) } } },
        post: {
          tags: ['node'],
          summary: 'Purge records for good: record, indexes and body bytes go (the range is compacted), a tombstone keeps the id so gossip and sync never bring it back; API token only',
          requestBody: { required: true, content: json({ type: 'object', required: ['reason'], properties: { ids: { type: 'array', items: { type: 'string' } }, stixId: { type: 'string' }, author: { type: 'string' }, reason: { type: 'string' } } }) },
          responses: { 200: { description: 'Purged (already: purged before; missing: not held)', content: json({ type: 'object', properties: { purged: { type: 'array', items: { type: 'object' } }, already: { type: 'array', items: { type: 'string' } }, missing: { type: 'array', items: { type: 'string' } } } }) }, 400: errorResponse('No reason, or not exactly one of ids, stixId, author'), 404: errorResponse('Nothing stored matches') }
        }
      },
      '/api/erase': {
        post: {
          tags: ['node'],
          summary: 'Publish signed erasure requests for records this node authored (one per TLP and audience; they name the ids only) and purge them here; API token only',
          requestBody: { required: true, content: json({ type: 'object', required: ['ids', 'reason'], properties: { ids: { type: 'array', items: { type: 'string' } }, reason: { type: 'string' } } }) },
          responses: { 200: { description: 'Requests published, records purged', content: json({ type: 'object', properties: { requests: { type: 'array', items: { type: 'object' } }, purged: { type: 'array', items: { type: 'object' } } } }) }, 403: errorResponse('A record another member authored'), 404: errorResponse('A record this node does not hold') }
        }
      },
      '/api/export': {
        get: {
          tags: ['records'],
          summary: 'One STIX 2.1 bundle of the current objects, each with its record\'s TLP 2.0 marking and author identity (streamed); or a records file of the signed records',
          parameters: [
            query('format', 'stix (default): a bundle; records: a records file (JSON lines: header, one signed record a line, a closing line the node signs)'),
            query('tlp', 'TLP levels, comma-separated'), query('type', 'STIX types, comma-separated'), query('since', 'only objects that arrived at or after this ISO 8601 time', { type: 'string', format: 'date-time' }),
            query('raw', 'stix: the bodies exactly as signed, no markings or identities added', { type: 'boolean' }),
            query('for', 'records: only what this node\'s outbound policy (TLP floor included) sends this member (PeerId)'),
            query('id', 'records: only these record ids, comma-separated')
          ],
          responses: {
            200: { description: 'A bundle, or a records file', content: { [STIX_MEDIA_TYPE]: { schema: { type: 'object' } }, 'application/x-ndjson': { schema: { type: 'string' } } } },
            400: errorResponse('A malformed parameter, or one the format does not take; --for a member not on the roster (DRAGNET_BAD_RECIPIENT)')
          }
        }
      },
      '/api/feeds': {
        get: {
          tags: ['node'],
          summary: 'Scheduled feeds (API token): each feed\'s last run, result, counts, next run, totals and position',
          responses: { 200: { description: 'OK', content: json({ type: 'object', properties: { scheduled: { type: 'boolean' }, feeds: { type: 'array', items: ref('FeedStatus') } } }) }, 401: errorResponse('No API token'), 403: errorResponse('Not the API token') }
        }
      },
      '/api/feeds/{name}/run': {
        post: {
          tags: ['node'],
          summary: 'Runs one feed now (or joins the run under way) and answers with its status when the run is over; a feed that fails still answers 200 with result error',
          parameters: [path('name', 'feed name')],
          responses: { 200: { description: 'The feed after the run', content: json(ref('FeedStatus')) }, 401: errorResponse('No API token'), 403: errorResponse('Not the API token'), 404: errorResponse('No feed of that name (DRAGNET_NOT_FOUND)') }
        }
      },
      '/api/stream': {
        get: {
          tags: ['records'],
          summary: 'Server-sent events: each record as it is stored (event `record`, `id:` its arrival number), with its TLP 2.0 marking and author identity; never above the caller\'s TLP ceiling',
          description: 'Without Last-Event-ID the stream starts with the next record stored. With it (the header every EventSource sends on reconnect, or the lastEventId query parameter) it first replays every matching record after that arrival number, then follows live: each record exactly once. A read token below RED gets the arrival numbers sealed (ids valid while the node runs) and no arrival field. A comment line every stream.keepAliveMs keeps the connection alive.',
          parameters: [
            query('tlp', 'TLP levels, comma-separated (narrowed to the caller\'s ceiling)'), query('type', 'STIX types, comma-separated'), query('author', 'author PeerIds, comma-separated'),
            query('lastEventId', 'resume after this arrival number (as the Last-Event-ID header)', { type: 'integer', minimum: 0 })
          ],
          responses: {
            200: { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            400: errorResponse('A malformed parameter, or a Last-Event-ID past this node\'s last arrival (DRAGNET_BAD_REQUEST, DRAGNET_BAD_TLP)'),
            503: errorResponse('stream.maxClients streams are open (DRAGNET_BUSY)')
          }
        }
      },
      '/taxii2/': taxiiGet('TAXII discovery', [], { type: 'object', properties: { title: { type: 'string' }, description: { type: 'string' }, default: { type: 'string' }, api_roots: { type: 'array', items: { type: 'string' } } } }),
      '/taxii2/{root}/': taxiiGet('API root information', [path('root', `The API root (${API_ROOT})`)], { type: 'object', properties: { title: { type: 'string' }, versions: { type: 'array', items: { type: 'string' } }, max_content_length: { type: 'integer' } } }),
      '/taxii2/{root}/collections/': taxiiGet('Collections the caller may read', [path('root', `The API root (${API_ROOT})`)], { type: 'object', properties: { collections: { type: 'array', items: { type: 'object' } } } },
        `One collection per TLP level: ${COLLECTIONS.map(c => `${c.title} ${c.id} (alias ${c.alias})`).join('; ')}. The API token sees all, a read token those up to its TLP ceiling; an anonymous caller sees TLP:CLEAR when the node serves it publicly (taxii.publicClear).`),
      '/taxii2/{root}/collections/{cid}/': taxiiGet('One collection', COLLECTION_PARAMS, { type: 'object' }),
      '/taxii2/{root}/collections/{cid}/objects/': {
        ...taxiiGet('Objects of a collection, oldest date_added first, paged with limit/next', [...COLLECTION_PARAMS, FILTERS.addedAfter, FILTERS.limit, FILTERS.next, FILTERS.id, FILTERS.type, FILTERS.version, FILTERS.specVersion], ref('Envelope')),
        post: WRITE_REFUSED
      },
      '/taxii2/{root}/collections/{cid}/objects/{oid}/': {
        ...taxiiGet('One object (its versions selected by match[version])', [...COLLECTION_PARAMS, path('oid', 'STIX id'), FILTERS.addedAfter, FILTERS.limit, FILTERS.next, FILTERS.version, FILTERS.specVersion], ref('Envelope')),
        delete: WRITE_REFUSED
      },
      '/taxii2/{root}/collections/{cid}/objects/{oid}/versions/': taxiiGet('Versions of one object, oldest first', [...COLLECTION_PARAMS, path('oid', 'STIX id'), FILTERS.addedAfter, FILTERS.limit, FILTERS.next, FILTERS.specVersion],
        { type: 'object', properties: { more: { type: 'boolean' }, next: { type: 'string' }, versions: { type: 'array', items: { type: 'string' } } } }),
      '/taxii2/{root}/collections/{cid}/manifest/': taxiiGet('Manifest of a collection (id, date_added, version, media_type per object)', [...COLLECTION_PARAMS, FILTERS.addedAfter, FILTERS.limit, FILTERS.next, FILTERS.id, FILTERS.type, FILTERS.version, FILTERS.specVersion],
        { type: 'object', properties: { more: { type: 'boolean' }, next: { type: 'string' }, objects: { type: 'array', items: { type: 'object' } } } }),
      '/taxii2/{root}/status/{sid}/': taxiiGet('Status of a write (always 404: this server takes no writes)', [path('root', `The API root (${API_ROOT})`), path('sid', 'status id')], { type: 'object' })
    }
  }
}
