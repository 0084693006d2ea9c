import { createHash, createPublicKey, verify as edVerify, type Hash } from 'node:crypto'
import { DragnetError } from '../errors.js'
import { canonicalJson } from './canonical.js'
import { idOfEnvelope, openRecord, publicKeyOfPeerId, type RecordSigner, type SignedRecord } from './record.js'

/*
 * A records file carries signed records as they are stored, for evidence and for members that
 * never connect. JSON lines, UTF-8, every line the RFC 8785 canonical form of its value and
 * ended by "\n":
 *
 *   line 1     header   {"created":ISO,"dragnet":"records","exporter":PeerId,"filter":{..}?,"for":PeerId?,"v":1}
 *   line 2..n  record   {"envelope":base64 of the envelope bytes,"id":record id}
 *   last line  closing  {"end":{"records":n-1,"sha256":hex},"sig":base64}
 *
 * Each record verifies on its own (its envelope holds the author's key and signature; its id is
 * the hash of its payload). The closing line binds the file: `sha256` is the digest of every
 * byte before it (header included), `sig` the exporter's Ed25519 signature over
 * "dragnet/records-file/v1\n" ‖ canonical JSON of `end`. So a reader tells a tampered record
 * (which one), a truncated file, and a header or record list changed after export apart, and
 * because every line must be canonical, no changed byte anywhere goes unnoticed.
 */

export const RECORDS_FILE_VERSION = 1
export const RECORDS_FILE_DOMAIN = new TextEncoder().encode('dragnet/records-file/v1\n')
/** Longest line read: an envelope of the largest record size, in base64, with room to spare. */
export const MAX_RECORDS_FILE_LINE = 4 * 1024 * 1024

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const RECORD_ID = /^1220[0-9a-f]{64}$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{30,100}$/

export interface RecordsFileFilter {
  tlp?: string[]
  type?: string[]
  since?: string
  id?: string[]
}

export interface RecordsFileHeader {
  dragnet: 'records'
  v: number
  /** the node that wrote the file; its key signs the closing line */
  exporter: string
  created: string
  /** the member the file was written for (what this node's outbound policy sends it) */
  for?: string
  filter?: RecordsFileFilter
}

export interface RecordsFileEnd {
  records: number
  sha256: string
}

function fileError (message: string, details: Record<string, unknown> = {}): DragnetError {
  return new DragnetError('DRAGNET_BAD_RECORDS_FILE', message, details)
}

function line (value: unknown): Buffer {
  return Buffer.from(canonicalJson(value) + '\n', 'utf8')
}

/** Writes a records file line by line, hashing as it goes; `end()` signs the closing line. */
export class RecordsFileWriter {
  private readonly hash = createHash('sha256')
  private count = 0
  readonly header: RecordsFileHeader

  constructor (private readonly signer: RecordSigner, init: { created?: string, for?: string, filter?: RecordsFileFilter } = {}) {
    const header: RecordsFileHeader = { dragnet: 'records', v: RECORDS_FILE_VERSION, exporter: signer.peerId, created: init.created ?? new Date().toISOString() }
    if (init.for != null) header.for = init.for
    if (init.filter != null && Object.keys(init.filter).length > 0) header.filter = init.filter
    this.header = header
  }

  get records (): number {
    return this.count
  }

  headerLine (): Buffer {
    const b = line(this.header)
    this.hash.update(b)
    return b
  }

  recordLine (id: string, envelope: Uint8Array): Buffer {
    const b = line({ envelope: Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength).toString('base64'), id })
    this.hash.update(b)
    this.count++
    return b
  }

  endLine (): Buffer {
    const end: RecordsFileEnd = { records: this.count, sha256: this.hash.digest('hex') }
    const sig = this.signer.sign(Buffer.concat([RECORDS_FILE_DOMAIN, Buffer.from(canonicalJson(end), 'utf8')]))
    return line({ end, sig: Buffer.from(sig).toString('base64') })
  }
}

// ------------------------------------------------------------------ reading

export interface RecordLine {
  kind: 'record'
  line: number
  /** the id the line names when well formed, else the id its envelope hashes to, if any */
  id?: string
  envelope?: Uint8Array
  /** the opened record, when `verify` was asked and it verified */
  record?: SignedRecord
  error?: DragnetError
}

export interface EndLine {
  kind: 'end'
  line: number
  end?: RecordsFileEnd
  /** why the closing line does not bind the file (absent, content after it, digest, signature) */
  error?: DragnetError
}

export type RecordsFileEntry = RecordLine | EndLine

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Splits bytes into "\n"-ended lines (without the "\n"); a last line without one is flagged. */
async function * lines (source: AsyncIterable<Uint8Array>, maxLine: number): AsyncGenerator<{ bytes: Buffer, n: number, ended: boolean }> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let n = 0
  for await (const chunk of source) {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let nl = buf.indexOf(0x0a)
    while (nl >= 0) {
      const part = buf.subarray(0, nl)
      if (pendingBytes + part.length > maxLine) throw fileError(`line ${n + 1} is longer than ${maxLine} bytes`)
      const bytes = pending.length > 0 ? Buffer.concat([...pending, part]) : Buffer.from(part)
      pending = []
      pendingBytes = 0
      yield { bytes, n: ++n, ended: true }
      buf = buf.subarray(nl + 1)
      nl = buf.indexOf(0x0a)
    }
    if (buf.length > 0) {
      pendingBytes += buf.length
      if (pendingBytes > maxLine) throw fileError(`line ${n + 1} is longer than ${maxLine} bytes`)
      pending.push(Buffer.from(buf))
    }
  }
  if (pendingBytes > 0) yield { bytes: Buffer.concat(pending), n: ++n, ended: false }
}

/** Parses a line that must be the canonical JSON of an object with exactly `keys`. */
function canonicalLine (bytes: Buffer, keys: readonly string[], what: string): Record<string, unknown> {
  let text: string
  let value: unknown
  try {
    text = utf8.decode(bytes)
    value = JSON.parse(text)
  } catch {
    throw fileError(`${what} is not JSON`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw fileError(`${what} is not a JSON object`)
  const obj = value as Record<string, unknown>
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw fileError(`${what} has an unknown member "${k}"`)
  let canonical = false
  try { canonical = canonicalJson(obj) === text } catch { canonical = false }
  if (!canonical) throw fileError(`${what} is not in canonical (RFC 8785) form: it was changed after export`)
  return obj
}

function strictBase64 (s: unknown, what: string): Buffer {
  if (typeof s !== 'string' || !BASE64.test(s)) throw fileError(`${what} is not base64`)
  const b = Buffer.from(s, 'base64')
  // Base64 can hide a flipped bit in the padding bits of its last character: only the one
  // encoding of the bytes is accepted.
  if (b.toString('base64') !== s) throw fileError(`${what} is not canonical base64`)
  return b
}

export function parseRecordsFileHeader (bytes: Buffer): RecordsFileHeader {
  const h = canonicalLine(bytes, ['created', 'dragnet', 'exporter', 'filter', 'for', 'v'], 'the first line (header)')
  if (h.dragnet !== 'records') throw fileError('the first line is not a dragnet records header')
  if (h.v !== RECORDS_FILE_VERSION) throw fileError(`records file version ${String(h.v)} is not supported (this dragnet reads version ${RECORDS_FILE_VERSION})`)
  if (typeof h.exporter !== 'string' || !PEER_ID.test(h.exporter)) throw fileError('the header names no exporter PeerId')
  try { publicKeyOfPeerId(h.exporter) } catch { throw fileError(`the exporter ${h.exporter} is not an Ed25519 PeerId`) }
  if (typeof h.created !== 'string' || Number.isNaN(Date.parse(h.created))) throw fileError('the header has no valid created time')
  if (h.for !== undefined && (typeof h.for !== 'string' || !PEER_ID.test(h.for))) throw fileError('the header\'s "for" is not a PeerId')
  if (h.filter !== undefined && (h.filter == null || typeof h.filter !== 'object' || Array.isArray(h.filter))) throw fileError('the header\'s filter is not an object')
  return h as unknown as RecordsFileHeader
}

function recordLine (bytes: Buffer, n: number, verify: boolean): RecordLine {
  const out: RecordLine = { kind: 'record', line: n }
  try {
    const r = canonicalLine(bytes, ['envelope', 'id'], `line ${n}`)
    if (typeof r.id === 'string' && RECORD_ID.test(r.id)) out.id = r.id
    const envelope = strictBase64(r.envelope, `line ${n}: the envelope`)
    const id = envelope.length > 97 ? idOfEnvelope(envelope) : undefined
    out.id ??= id
    if (out.id == null || r.id !== id) throw new DragnetError('DRAGNET_MALFORMED_RECORD', `line ${n}: the id ${String(r.id)} is not the hash of the record's payload${id != null ? ` (${id})` : ''}`)
    out.envelope = envelope
    if (verify) out.record = openRecord(envelope, { maxRecordBytes: MAX_RECORDS_FILE_LINE, maxDepth: 10_000 })
  } catch (err) {
    out.error = err instanceof DragnetError ? err : fileError(`line ${n}: ${(err as Error).message}`)
  }
  return out
}

function checkEnd (bytes: Buffer, n: number, header: RecordsFileHeader, records: number, digest: string): EndLine {
  const out: EndLine = { kind: 'end', line: n }
  try {
    const t = canonicalLine(bytes, ['end', 'sig'], 'the closing line')
    const end = t.end as Record<string, unknown>
    if (end == null || typeof end !== 'object' || Array.isArray(end) || Object.keys(end).some(k => k !== 'records' && k !== 'sha256')) throw fileError('the closing line\'s "end" is malformed')
    out.end = { records: end.records as number, sha256: end.sha256 as string }
    const sig = strictBase64(t.sig, 'the closing signature')
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKeyOfPeerId(header.exporter)]), format: 'der', type: 'spki' })
    if (sig.length !== 64 || !edVerify(null, Buffer.concat([RECORDS_FILE_DOMAIN, Buffer.from(canonicalJson(end), 'utf8')]), key, sig)) {
      throw fileError(`the closing line is not signed by the exporter ${header.exporter}`)
    }
    if (end.records !== records) throw fileError(`the file holds ${records} records, the exporter wrote ${String(end.records)}: records were added or removed`)
    if (end.sha256 !== digest) throw fileError('the file\'s content is not what the exporter signed: a line was changed after export')
  } catch (err) {
    out.error = err instanceof DragnetError ? err : fileError((err as Error).message)
  }
  return out
}

export interface ReadRecordsInit {
  /** open every record (signature, canonical payload) as well as checking the file (default false) */
  verify?: boolean
  maxLineBytes?: number
}

/**
 * Reads a records file: the header (returned first, or DRAGNET_BAD_RECORDS_FILE when the input
 * is not a records file), then one entry per record line, then exactly one `end` entry telling
 * whether the closing line binds the file. Record problems are reported per line, never thrown.
 */
export async function openRecordsFile (source: AsyncIterable<Uint8Array>, init: ReadRecordsInit = {}): Promise<{ header: RecordsFileHeader, entries: AsyncGenerator<RecordsFileEntry> }> {
  const it = lines(source, init.maxLineBytes ?? MAX_RECORDS_FILE_LINE)
  const first = await it.next()
  if (first.done === true) throw fileError('the file is empty')
  if (!first.value.ended) throw fileError('the file has a single unfinished line: it is not a records file')
  const header = parseRecordsFileHeader(first.value.bytes)
  const hash = createHash('sha256').update(first.value.bytes).update('\n')
  return { header, entries: entries(it, header, hash, init.verify === true) }
}

async function * entries (it: AsyncGenerator<{ bytes: Buffer, n: number, ended: boolean }>, header: RecordsFileHeader, hash: Hash, verify: boolean): AsyncGenerator<RecordsFileEntry> {
  let records = 0
  let end: EndLine | undefined
  let last = 1
  for await (const { bytes, n, ended } of it) {
    last = n
    if (end != null) {
      yield { kind: 'end', line: n, ...(end.end != null ? { end: end.end } : {}), error: fileError(`line ${n} follows the closing line`) }
      return
    }
    if (!ended) {
      yield { kind: 'end', line: n, error: fileError(`line ${n} is not finished: the file was cut off`) }
      return
    }
    // The closing line is the one whose first member is "end"; canonical form puts it first.
    if (bytes.subarray(0, 7).toString('latin1') === '{"end":') {
      end = checkEnd(bytes, n, header, records, hash.digest('hex'))
      continue
    }
    hash.update(bytes).update('\n')
    records++
    yield recordLine(bytes, n, verify)
  }
  yield end ?? { kind: 'end', line: last + 1, error: fileError('the file has no closing line: it was cut off, or is not complete') }
}
