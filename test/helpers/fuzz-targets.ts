import fc from 'fast-check'
import { DragnetError } from '../../src/errors.js'
import type { FeedConfig } from '../../src/config/config.js'
import type { FeedState } from '../../src/feeds/index.js'
import { FETCHERS, type FeedContext } from '../../src/feeds/kinds.js'
import { NodeIdentity } from '../../src/identity/index.js'
import { parseImport, parseStix, startSummary, type ImportFormat, type ImportSummary, type ParsedImport } from '../../src/import/index.js'
import { decodeGossipFrame, encodeIdFrames, encodePrune, encodeRecords as encodeGossipRecords, GRAFT, IHAVE } from '../../src/net/gossip-wire.js'
import { canonicalJson, checkShape, createRecord, decodeRecord, idOfEnvelope, openRecord, openRecordsFile, RecordsFileWriter, HEADER_BYTES, type Tlp } from '../../src/record/index.js'
import { decodeRecordsBody, packRecordsFrames } from '../../src/replication/index.js'
import { indicator, malware } from '../../src/sim/stix-factory.js'
import { analyzeStixObject } from '../../src/stix/index.js'
import { decodeFrame, encodeDecline, encodeDone, encodeOpen, encodeRecon, encodeRecords as encodeSyncRecords, encodeWant } from '../../src/sync/protocol.js'
import { decodeMessage } from '../../src/sync/recon/codec.js'
import { createInitiator, createResponder, ReconIndex, type ReconItem } from '../../src/sync/recon/index.js'
import { Reader } from '../../src/util/varint.js'

/*
 * Fuzz targets for every decoder that reads bytes from a peer, a file or a feed: gossip frames,
 * sync frames, reconciliation messages, records frames, record envelopes (and the STIX body
 * inside), records files, feed documents (TAXII pages, MISP manifest and events, lists, CSV). Each target pairs an input generator (valid encodings, mutated, plus plain
 * garbage) with the decoder; `checkCase` holds every case to the same contract:
 *   - it returns, or throws a DragnetError (the documented failure), never anything else;
 *   - it finishes within a CPU time bound (a decoder that is not linear shows up here long
 *     before it hangs; a loop that never returns is caught by `npm run fuzz`'s watchdog);
 *   - heap and ArrayBuffer memory after the case stay within a bound proportional to the input
 *     (a declared length trusted before it is checked allocates far more than that).
 * Used by test/unit/fuzz (fixed seed, modest run counts) and by `npm run fuzz` (long runs).
 */

export interface FuzzLimits {
  /** CPU time bound per case */
  maxCaseMs: number
  /** bytes a case may leave allocated beyond `allocFactor` × its input */
  allocSlack: number
  allocFactor: number
}

export const DEFAULT_LIMITS: FuzzLimits = { maxCaseMs: 500, allocSlack: 8 * 1024 * 1024, allocFactor: 8 }

export interface FuzzTarget<T = Uint8Array> {
  name: string
  arbitrary: fc.Arbitrary<T>
  /** the input's size in bytes, for the allocation bound */
  size: (input: T) => number
  run: (input: T) => unknown
}

export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure'
}

function used (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/** Runs one case under the contract; throws FuzzFailure (or the decoder's own non-DragnetError). */
export async function checkCase<T> (target: FuzzTarget<T>, input: T, limits: FuzzLimits = DEFAULT_LIMITS): Promise<void> {
  const before = used()
  // CPU time, not wall time: a process descheduled on a loaded machine is not a slow decoder.
  const t0 = process.cpuUsage()
  let result: unknown
  try {
    result = await target.run(input)
  } catch (err) {
    if (err instanceof FuzzFailure) throw err
    if (!(err instanceof DragnetError)) throw new FuzzFailure(`${target.name}: threw ${String(err)} (not a DragnetError)`, { cause: err })
  }
  const cpu = process.cpuUsage(t0)
  const ms = (cpu.user + cpu.system) / 1000
  if (ms > limits.maxCaseMs) throw new FuzzFailure(`${target.name}: a case took ${ms.toFixed(0)} ms of CPU (bound ${limits.maxCaseMs} ms) on ${target.size(input)} input bytes`)
  const grown = used() - before
  const bound = limits.allocSlack + limits.allocFactor * target.size(input)
  if (grown > bound) throw new FuzzFailure(`${target.name}: a case left ${grown} bytes allocated (bound ${bound}) on ${target.size(input)} input bytes`)
  void result
}

// ------------------------------------------------------------------ mutations

/** Byte edits, cuts, insertions and splices of huge varints into a valid encoding. */
function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), b: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), b: fc.nat({ max: 64 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), b: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('varint' as const), at: fc.nat(), b: fc.constantFrom(0x7f, 0x80, 0xff) })
  )
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 6 })).map(([bytes, edits]) => {
    let x = Array.from(bytes)
    for (const e of edits) {
      const at = x.length === 0 ? 0 : e.at % (x.length + 1)
      if (e.kind === 'set' && x.length > 0) x[at % x.length] = e.b
      else if (e.kind === 'cut') x = [...x.slice(0, at), ...x.slice(at + e.b)]
      else if (e.kind === 'insert') x.splice(at, 0, e.b)
      // A varint claiming up to 2^53 (or an overlong/unterminated one) where a count may sit.
      else if (e.kind === 'varint') x.splice(at, 0, ...(e.b === 0x7f ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f] : e.b === 0x80 ? [0x80, 0x80, 0x00] : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))
    }
    return Uint8Array.from(x)
  })
}

function withGarbage (valid: fc.Arbitrary<Uint8Array>, typeBytes: number[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...typeBytes), fc.uint8Array({ maxLength: 512 })).map(([t, b]) => Uint8Array.from([t, ...b])) },
    { weight: 1, arbitrary: valid },
    { weight: 4, arbitrary: mutated(valid) }
  )
}

const digest = fc.uint8Array({ minLength: 32, maxLength: 32 })
const envelopeLike = fc.uint8Array({ minLength: 0, maxLength: 200 })

// ------------------------------------------------------------------ wire frames

const gossipValid: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(envelopeLike, { minLength: 1, maxLength: 6 }).map(encodeGossipRecords),
  fc.tuple(fc.constantFrom(IHAVE, GRAFT), fc.array(fc.record({ key: digest, digests: fc.array(digest, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 4 }))
    .map(([type, groups]) => encodeIdFrames(type, groups)[0]),
  fc.array(digest, { minLength: 1, maxLength: 6 }).map(keys => encodePrune(keys)[0])
)

export const gossipFrames: FuzzTarget = {
  name: 'gossip frame',
  arbitrary: withGarbage(gossipValid, [1, 2, 3, 4]),
  size: b => b.length,
  run: b => decodeGossipFrame(b, { maxRecords: 256 })
}

const scoped = fc.array(fc.record({ scope: fc.nat({ max: 7 }), message: fc.uint8Array({ maxLength: 80 }) }), { maxLength: 4 })
const syncValid: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(fc.uniqueArray(fc.nat({ max: 7 }), { maxLength: 6 }), scoped).map(([scopes, msgs]) => encodeOpen(scopes, msgs.map(m => ({ ...m, scope: m.scope % Math.max(1, scopes.length) })))),
  scoped.map(encodeRecon),
  fc.array(digest, { maxLength: 8 }).map(encodeWant),
  fc.array(envelopeLike, { minLength: 1, maxLength: 6 }).map(encodeSyncRecords),
  fc.array(fc.record({ scope: fc.nat({ max: 7 }), ts: fc.maxSafeNat(), digest }), { maxLength: 6 }).map(encodeDecline),
  fc.constant(encodeDone())
)

const syncLimits = { maxItems: 2000, scopes: 8 }

export const syncFrames: FuzzTarget = {
  name: 'sync frame',
  arbitrary: withGarbage(syncValid, [0x10, 0x11, 0x12, 0x13, 0x14, 0x15]),
  size: b => b.length,
  run: b => {
    // One limits object for every case, as a session holds one: the decoder must not change it.
    // Reset first, so a change is blamed on the case that made it.
    Object.assign(syncLimits, { maxItems: 2000, scopes: 8 })
    let out: unknown
    let err: unknown
    try { out = decodeFrame(b, syncLimits) } catch (e) { err = e }
    if (syncLimits.maxItems !== 2000 || syncLimits.scopes !== 8) throw new FuzzFailure(`sync frame: the decoder changed its limits to ${JSON.stringify(syncLimits)}`)
    if (err != null) throw err
    return out
  }
}

export const recordsFrames: FuzzTarget = {
  name: 'records frame',
  arbitrary: withGarbage(fc.tuple(fc.array(envelopeLike, { minLength: 1, maxLength: 12 }), fc.integer({ min: 64, max: 2048 }))
    .map(([recs, max]) => packRecordsFrames(0x01, recs, { maxFrameBytes: max, maxRecords: 5 })[0]), [1]),
  size: b => b.length,
  run: b => {
    const r = new Reader(b, 'records frame')
    r.byte()
    return decodeRecordsBody(r, 256)
  }
}

// ------------------------------------------------------------------ reconciliation messages

function items (n: number, seed: number): ReconItem[] {
  let a = seed
  const next = (): number => { a = (a * 1103515245 + 12345) >>> 0; return a }
  const out: ReconItem[] = []
  for (let i = 0; i < n; i++) {
    const id = new Uint8Array(32)
    for (let k = 0; k < 32; k++) id[k] = next() & 0xff
    out.push({ ts: 1_700_000_000_000 + (next() % 100_000), id })
  }
  return out.sort((x, y) => x.ts - y.ts || Buffer.compare(x.id, y.id))
}

const mine = ReconIndex.fromSorted(items(400, 1))
const theirs = ReconIndex.fromSorted(items(300, 2))
/** real first messages and replies of a session between two differing sets */
const reconSamples: Uint8Array[] = (() => {
  const out: Uint8Array[] = []
  const a = createInitiator(mine, { idListThreshold: 4 })
  const b = createResponder(theirs, { idListThreshold: 4 })
  let msg: Uint8Array | undefined = a.initiate()
  for (let i = 0; i < 12 && msg != null; i++) {
    out.push(msg)
    msg = (i % 2 === 0 ? b : a).consume(msg).message
  }
  return out
})()

export const reconMessages: FuzzTarget = {
  name: 'reconciliation message',
  arbitrary: withGarbage(fc.constantFrom(...reconSamples), [1]),
  size: b => b.length,
  run: b => {
    decodeMessage(b, () => true)
    // A fresh responder (what an OPEN reaches) and one mid-session both answer or refuse.
    createResponder(mine, { maxRounds: 4 }).consume(b)
    const s = createInitiator(theirs, { maxMessageBytes: 4096 })
    s.initiate()
    return s.consume(b)
  }
}

// ------------------------------------------------------------------ records

let identity: NodeIdentity | undefined
/** The signing identity the record targets use; call once before running them. */
export async function prepareRecordTargets (): Promise<void> {
  identity ??= await NodeIdentity.generate()
}

function signer (): NodeIdentity {
  if (identity == null) throw new Error('call prepareRecordTargets() first')
  return identity
}

const json: fc.Arbitrary<unknown> = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.string().filter(s => s !== '__proto__'), tie('value'), { maxKeys: 4, noNullPrototype: true })
})).value

/** STIX-shaped bodies: real objects with fields replaced by random JSON, and broken patterns. */
const stixBody: fc.Arbitrary<Record<string, unknown>> = fc.tuple(
  fc.constantFrom<Record<string, unknown>>(
    indicator({ kind: 'ipv4', value: '198.51.100.7' }) as unknown as Record<string, unknown>,
    indicator({ kind: 'domain', value: 'evil.example' }) as unknown as Record<string, unknown>,
    indicator({ kind: 'sha256', value: 'a'.repeat(64) }) as unknown as Record<string, unknown>,
    malware('m') as unknown as Record<string, unknown>
  ),
  fc.dictionary(fc.constantFrom('pattern', 'valid_from', 'valid_until', 'created', 'modified', 'labels', 'object_marking_refs', 'granular_markings', 'external_references', 'spec_version', 'id', 'type', 'pattern_type', 'confidence', 'revoked', 'objects', 'object_refs'), json, { maxKeys: 3, noNullPrototype: true }),
  fc.array(fc.tuple(fc.nat(), fc.constantFrom('[', ']', '\'', '(', ')', ' AND ', ' OR ', ' FOLLOWEDBY ', ':', '.', '=', ' MATCHES ', ' ISSUBSET ', 'x', '\\', ' WITHIN 5 SECONDS', ' REPEATS 3 TIMES', 't\'2020-01-01T00:00:00Z\'')), { maxLength: 6 })
).map(([base, fields, edits]) => {
  const body: Record<string, unknown> = { ...base, ...fields }
  if (typeof base.pattern === 'string' && fields.pattern === undefined) {
    let p = base.pattern
    for (const [at, s] of edits) { const i = at % (p.length + 1); p = p.slice(0, i) + s + p.slice(i) }
    body.pattern = p
  }
  return body
})

export const stixBodies: FuzzTarget<Record<string, unknown>> = {
  name: 'record body (STIX)',
  arbitrary: stixBody,
  size: b => { try { return canonicalJson(b).length } catch { return 1024 } },
  run: b => analyzeStixObject(b, 'fuzz')
}

const TLPS: Tlp[] = ['clear', 'green', 'amber', 'red']
const validEnvelope = fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom(...TLPS), stixBody).map(([seq, tlp, body]) => {
  try {
    return createRecord(signer(), { seq, ts: 1_700_000_000_000, tlp, body: body as never }).bytes
  } catch {
    return createRecord(signer(), { seq, ts: 1_700_000_000_000, tlp, body: malware('x') }).bytes
  }
})

/** Envelopes whose payload is re-written as other (canonical or not) JSON, keeping the header. */
const rewrittenPayload = fc.tuple(validEnvelope, fc.dictionary(fc.constantFrom('v', 'author', 'seq', 'ts', 'tlp', 'to', 'body', 'x'), json, { maxKeys: 3, noNullPrototype: true }), fc.boolean())
  .map(([env, fields, canonical]) => {
    const payload = { ...JSON.parse(Buffer.from(env.subarray(HEADER_BYTES)).toString('utf8')), ...fields }
    let text: string
    try { text = canonical ? canonicalJson(payload) : JSON.stringify(payload, null, 1) } catch { text = JSON.stringify(payload) }
    return Uint8Array.from([...env.subarray(0, HEADER_BYTES), ...Buffer.from(text, 'utf8')])
  })

export const recordEnvelopes: FuzzTarget = {
  name: 'record envelope',
  arbitrary: fc.oneof(withGarbage(validEnvelope, [1]), rewrittenPayload, mutated(rewrittenPayload)),
  size: b => b.length,
  run: b => {
    checkShape(b)
    try { openRecord(b) } catch (err) { if (!(err instanceof DragnetError)) throw err }
    // Past the signature, as ingest does once the verify pool has passed it.
    const r = decodeRecord(b, {}, signer().peerId)
    return analyzeStixObject(r.record.body, r.record.body.id)
  }
}

// ------------------------------------------------------------------ records files

const validFile = fc.array(validEnvelope, { minLength: 0, maxLength: 3 }).map(envs => {
  const w = new RecordsFileWriter(signer(), { created: '2026-01-01T00:00:00.000Z' })
  return Uint8Array.from(Buffer.concat([w.headerLine(), ...envs.map(e => w.recordLine(idOfEnvelope(e), e)), w.endLine()]))
})

async function * chunks (b: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
}

export const recordsFiles: FuzzTarget<[Uint8Array, number]> = {
  name: 'records file',
  arbitrary: fc.tuple(fc.oneof(fc.uint8Array({ maxLength: 400 }), validFile, mutated(validFile)), fc.integer({ min: 1, max: 700 })),
  size: ([b]) => b.length,
  run: async ([b, chunk]) => {
    const { entries } = await openRecordsFile(chunks(b, chunk), { verify: true, maxLineBytes: 64 * 1024 })
    let n = 0
    for await (const e of entries) {
      n++
      if (e.error != null && !(e.error instanceof DragnetError)) throw new FuzzFailure('records file: an entry carries a non-DragnetError')
    }
    return n
  }
}

// ------------------------------------------------------------------ feed documents

/*
 * The feed fetchers (src/feeds/kinds.ts) read documents a remote server chose: TAXII envelope
 * pages, a MISP feed's manifest and events, plain lists and CSV. Each target runs the real
 * fetcher over fuzzed documents served by `get`, with the import parsers a node runs behind it;
 * only publishing is left out (what reaches ingest is fuzzed above). A failure a fetcher
 * reports per part (one MISP event of many) must be a DragnetError as well.
 */

type Documents = { pages: string[], header?: string }

function feedContext (kind: FeedConfig['kind'], docs: Documents): FeedContext {
  let served = 0
  const feed = { name: 'fuzz', kind, url: 'https://feed.example/base/', collection: 'c', intervalMs: 60_000 } as FeedConfig
  const summary = (parsed: ParsedImport, name: string): ImportSummary => startSummary(parsed, name)
  return {
    feed,
    state: {} as FeedState,
    signal: new AbortController().signal,
    get: async (url) => {
      if (served >= FEED_GETS) throw new FuzzFailure(`${kind} fetcher: more than ${FEED_GETS} requests for ${docs.pages.length} documents (${url})`)
      // Past the documents given, the server says it has nothing more.
      const text = served < docs.pages.length ? docs.pages[served] : (kind === 'taxii' ? '{"more":false}' : '{}')
      served++
      const headers = new Headers(docs.header != null ? { 'x-taxii-date-added-last': docs.header } : {})
      return { status: 200, headers, text }
    },
    importText: async (text, format: ImportFormat, name) => summary(parseImport(text, { format, name, namespace: 'fuzz' }), name),
    importJson: async (json, _format, name) => summary(parseStix(json), name),
    save: async () => {},
    partFailed: (what, err) => { if (!(err instanceof DragnetError)) throw new FuzzFailure(`${kind} fetcher: ${what} failed with ${String(err)} (not a DragnetError)`, { cause: err }) }
  }
}

/** Requests one fuzz case may make: a fetcher that keeps asking (a page loop) fails the case. */
const FEED_GETS = 64

/** Valid text, mutated as bytes (then read back as UTF-8, as a server's bytes would be), or garbage text. */
function textLike (valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const bytes = valid.map(t => Uint8Array.from(Buffer.from(t, 'utf8')))
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    { weight: 4, arbitrary: mutated(bytes).map(b => Buffer.from(b).toString('utf8')) },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
    { weight: 1, arbitrary: json.map(j => JSON.stringify(j) ?? 'null') }
  )
}

const taxiiTimestamp = fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.5Z', '2026-01-01T00:00:00.500000Z', 'not a date', '')
const taxiiPage: fc.Arbitrary<string> = fc.record({
  objects: fc.array(stixBody, { maxLength: 3 }),
  more: fc.boolean(),
  next: fc.option(fc.string({ maxLength: 12 }), { nil: undefined })
}).map(page => JSON.stringify(page))

export const feedTaxiiPages: FuzzTarget<Documents> = {
  name: 'feed: TAXII envelope pages',
  arbitrary: fc.record({ pages: fc.array(textLike(taxiiPage), { minLength: 1, maxLength: 3 }), header: fc.option(taxiiTimestamp, { nil: undefined }) }),
  size: d => d.pages.reduce((n, p) => n + p.length, 0),
  run: async d => { await FETCHERS.taxii(feedContext('taxii', d)) }
}

const UUIDS = ['5f1e2d3c-0000-4000-8000-000000000001', '5f1e2d3c-0000-4000-8000-000000000002']
const mispManifest = fc.subarray(UUIDS, { minLength: 1 }).chain(uuids => fc.tuple(...uuids.map(() => fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.string({ maxLength: 12 })))).map(ts =>
  JSON.stringify(Object.fromEntries(uuids.map((u, i) => [u, { timestamp: ts[i], info: 'fuzz', Orgc: { name: 'x', uuid: u } }])))))
const mispAttribute = fc.record({
  type: fc.constantFrom('ip-dst', 'ip-src', 'domain', 'hostname', 'url', 'md5', 'sha256', 'email-src', 'ip-dst|port', 'filename|sha256', 'comment', 'btc', 'x'),
  value: fc.constantFrom('198.51.100.7', 'evil.example', 'http://evil.example/a?b=c', 'a'.repeat(64), 'd41d8cd98f00b204e9800998ecf8427e', '198.51.100.7|443', 'x.exe|' + 'b'.repeat(64), 'mal@evil.example', ''),
  to_ids: fc.boolean(),
  category: fc.constantFrom('Network activity', 'Payload delivery', 'Other'),
  Tag: fc.array(fc.record({ name: fc.constantFrom('tlp:amber', 'tlp:red', 'tlp:clear', 'tlp:white', 'misp-galaxy:x="y"', 'PAP:GREEN') }), { maxLength: 2 })
})
const mispEvent: fc.Arbitrary<string> = fc.record({
  uuid: fc.constantFrom(...UUIDS),
  info: fc.string({ maxLength: 20 }),
  date: fc.constantFrom('2026-01-01', 'yesterday'),
  timestamp: fc.constantFrom('1767225600', 'x'),
  Attribute: fc.array(mispAttribute, { maxLength: 4 }),
  Object: fc.array(fc.record({ name: fc.constantFrom('file', 'domain-ip', 'url'), Attribute: fc.array(mispAttribute, { maxLength: 3 }) }), { maxLength: 2 }),
  Tag: fc.array(fc.record({ name: fc.constantFrom('tlp:green', 'tlp:amber+strict', 'tlp:bogus') }), { maxLength: 2 })
}).map(event => JSON.stringify({ Event: event }))

export const feedMisp: FuzzTarget<Documents> = {
  name: 'feed: MISP manifest and events',
  arbitrary: fc.tuple(textLike(mispManifest), fc.array(textLike(mispEvent), { minLength: 1, maxLength: 2 })).map(([manifest, events]) => ({ pages: [manifest, ...events] })),
  size: d => d.pages.reduce((n, p) => n + p.length, 0),
  run: async d => { await FETCHERS['misp-feed'](feedContext('misp-feed', d)) }
}

const listLine = fc.constantFrom('198.51.100.7', 'evil[.]example', 'hxxp://evil.example/path', 'a'.repeat(64), '2001:db8::1', '[2001:db8::1]:443', '# comment', '', '  ', 'not a value at all', '10.0.0.0/8', 'mal@evil.example')
const listText = fc.array(listLine, { maxLength: 8 }).map(lines => lines.join('\n'))
const csvText = fc.tuple(fc.constantFrom('value,type,comment', 'ip,port', '"quoted, header",x', ''), fc.array(fc.tuple(listLine, fc.constantFrom('ip', '"a ""quoted"" field"', '', '1,2,3')).map(([v, x]) => `${v},${x}`), { maxLength: 6 }))
  .map(([head, rows]) => [head, ...rows].join(rows.length % 2 === 0 ? '\n' : '\r\n'))

export const feedList: FuzzTarget<Documents> = {
  name: 'feed: url-list',
  arbitrary: textLike(listText).map(t => ({ pages: [t] })),
  size: d => d.pages[0].length,
  run: async d => { await FETCHERS['url-list'](feedContext('url-list', d)) }
}

export const feedCsv: FuzzTarget<Documents> = {
  name: 'feed: url-csv',
  arbitrary: textLike(csvText).map(t => ({ pages: [t] })),
  size: d => d.pages[0].length,
  run: async d => { await FETCHERS['url-csv'](feedContext('url-csv', d)) }
}

export const TARGETS: Array<FuzzTarget<any>> = [gossipFrames, syncFrames, recordsFrames, reconMessages, recordEnvelopes, stixBodies, recordsFiles, feedTaxiiPages, feedMisp, feedList, feedCsv]

/** Runs a target's property for `numRuns` cases from `seed`; fast-check reports the shrunk counterexample. */
export async function fuzz<T> (target: FuzzTarget<T>, opts: { seed: number, numRuns: number, limits?: FuzzLimits }): Promise<void> {
  await fc.assert(fc.asyncProperty(target.arbitrary, async input => { await checkCase(target, input, opts.limits) }), { seed: opts.seed, numRuns: opts.numRuns, endOnFailure: false })
}
