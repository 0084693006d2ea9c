import * as nodeCrypto from 'node:crypto'
import { createHash, createPublicKey, verify as edVerify, type KeyObject } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { DragnetError } from '../errors.js'
import type { StixObject } from '../stix/types.js'
import { canonicalJson, checkCanonical, jsonDepth } from './canonical.js'

/*
 * Wire and storage form of a record (the "envelope"), one byte string:
 *
 *   offset 0      1 byte   format version (ENVELOPE_VERSION)
 *   offset 1     32 bytes  author Ed25519 public key
 *   offset 33    64 bytes  Ed25519 signature over SIGNING_DOMAIN || unsigned
 *   offset 97     n bytes  unsigned: RFC 8785 canonical JSON of
 *                          { v, author, seq, ts, tlp, to?, body }
 *
 * The key and signature sit in front of the payload so a receiver verifies the exact bytes it
 * received before parsing anything; the author inside the payload must then name that key.
 * id = sha2-256 multihash (0x12 0x20 ‖ digest) of `unsigned`, written as hex.
 */

export const ENVELOPE_VERSION = 1
export const RECORD_FORMAT_VERSION = 1
export const SIGNING_DOMAIN = new TextEncoder().encode('dragnet/record/v1\n')
export const HEADER_BYTES = 1 + 32 + 64
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024
export const DEFAULT_MAX_DEPTH = 32

export const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const
export type Tlp = typeof TLP_LEVELS[number]

export function isTlp (v: unknown): v is Tlp {
  return typeof v === 'string' && (TLP_LEVELS as readonly string[]).includes(v)
}

export interface UnsignedRecord {
  v: number
  author: string
  seq: number
  ts: number
  tlp: Tlp
  to?: string[]
  body: StixObject
}

/** A record after its bytes were checked and parsed. `bytes` is the envelope as received. */
export interface SignedRecord {
  id: string
  bytes: Uint8Array
  record: UnsignedRecord
  sig: Uint8Array
}

export interface DecodeLimits {
  maxRecordBytes?: number
  maxDepth?: number
}

/** What signs records: the node identity, without the record layer knowing where keys live. */
export interface RecordSigner {
  peerId: string
  publicKey: Uint8Array
  sign: (data: Uint8Array) => Uint8Array
}

// Verification needs a KeyObject per author; building one costs ~180 µs on Node 20, verifying
// ~95 µs, so keys are cached. Members per federation are bounded, but cap it anyway.
interface AuthorKey { keyObject: KeyObject, peerId: string }
const authorKeys = new Map<string, AuthorKey>()
const MAX_CACHED_KEYS = 10_000
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

function authorKey (raw: Uint8Array): AuthorKey {
  const cacheKey = Buffer.from(raw.buffer, raw.byteOffset, 32).toString('latin1')
  let k = authorKeys.get(cacheKey)
  if (k == null) {
    const keyObject = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
    const peerId = publicKeyFromRaw(raw.slice()).toString()
    k = { keyObject, peerId }
    if (authorKeys.size >= MAX_CACHED_KEYS) authorKeys.delete(authorKeys.keys().next().value!)
    authorKeys.set(cacheKey, k)
  }
  return k
}

const rawKeyByPeerId = new Map<string, Uint8Array>()

/** The raw Ed25519 public key embedded in an Ed25519 PeerId string. */
export function publicKeyOfPeerId (peerId: string): Uint8Array {
  let raw = rawKeyByPeerId.get(peerId)
  if (raw == null) {
    let pid
    try {
      pid = peerIdFromString(peerId)
    } catch (err) {
      throw new DragnetError('DRAGNET_BAD_RECIPIENT', `not a PeerId: ${peerId}`, {}, { cause: err })
    }
    if (pid.type !== 'Ed25519' || pid.publicKey == null) {
      throw new DragnetError('DRAGNET_BAD_RECIPIENT', `not an Ed25519 PeerId: ${peerId}`)
    }
    raw = pid.publicKey.raw
    if (rawKeyByPeerId.size >= MAX_CACHED_KEYS) rawKeyByPeerId.delete(rawKeyByPeerId.keys().next().value!)
    rawKeyByPeerId.set(peerId, raw)
  }
  return raw
}

// One-shot hashing (Node 20.12+; a namespace import, as a named one would fail to link on older
// Node) costs half of a Hash object per call; every received record is hashed before anything else.
const sha256Hex: (data: Uint8Array) => string = typeof nodeCrypto.hash === 'function'
  ? (data) => nodeCrypto.hash('sha256', data, 'hex')
  : (data) => createHash('sha256').update(data).digest('hex')

export function recordId (unsigned: Uint8Array): string {
  return '1220' + sha256Hex(unsigned)
}

/** The 34-byte multihash behind an id string. */
export function recordIdBytes (id: string): Uint8Array {
  return Buffer.from(id, 'hex')
}

// Verification needs domain ‖ payload contiguous; one reused scratch buffer avoids an allocation
// per record on the hot path (JS is single-threaded, and the buffer never escapes a call).
let scratch = new Uint8Array(64 * 1024)
scratch.set(SIGNING_DOMAIN, 0)

function signingInput (unsigned: Uint8Array): Uint8Array {
  const len = SIGNING_DOMAIN.length + unsigned.length
  if (len > scratch.length) {
    scratch = new Uint8Array(Math.max(len, scratch.length * 2))
    scratch.set(SIGNING_DOMAIN, 0)
  }
  scratch.set(unsigned, SIGNING_DOMAIN.length)
  return scratch.subarray(0, len)
}

export interface CreateRecordInit {
  seq: number
  ts: number
  tlp: Tlp
  to?: string[]
  body: StixObject
}

/** Canonical unsigned bytes for a record's fields. Throws on values that are not plain JSON. */
export function encodeUnsigned (r: UnsignedRecord): Uint8Array {
  const fields: Record<string, unknown> = { v: r.v, author: r.author, seq: r.seq, ts: r.ts, tlp: r.tlp, body: r.body }
  if (r.to != null && r.to.length > 0) fields.to = r.to
  return Buffer.from(canonicalJson(fields), 'utf8')
}

/**
 * Signs a new record. The body must already be STIX-valid (ingest checks it); this only shapes,
 * canonicalises and signs. Recipients are de-duplicated and sorted so the same audience always
 * yields the same bytes.
 */
export function createRecord (signer: RecordSigner, init: CreateRecordInit, limits: DecodeLimits = {}): SignedRecord {
  if (!Number.isSafeInteger(init.seq) || init.seq < 1) throw new DragnetError('DRAGNET_MALFORMED_RECORD', `seq must be a positive integer, got ${init.seq}`)
  if (!Number.isSafeInteger(init.ts) || init.ts < 0) throw new DragnetError('DRAGNET_MALFORMED_RECORD', `ts must be a non-negative integer, got ${init.ts}`)
  if (!isTlp(init.tlp)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(init.tlp)}`)
  const to = init.to != null && init.to.length > 0 ? [...new Set(init.to)].sort() : undefined
  if (to != null) for (const p of to) publicKeyOfPeerId(p)
  const record: UnsignedRecord = { v: RECORD_FORMAT_VERSION, author: signer.peerId, seq: init.seq, ts: init.ts, tlp: init.tlp, body: init.body }
  if (to != null) record.to = to
  // Depth before encoding: the canonical encoder recurses once per level.
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH
  if (jsonDepth(record, maxDepth) > maxDepth) {
    throw new DragnetError('DRAGNET_TOO_DEEP', `record nests deeper than ${maxDepth} levels`, { object: init.body.id })
  }
  const unsigned = encodeUnsigned(record)
  const maxBytes = limits.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  if (unsigned.length + HEADER_BYTES > maxBytes) {
    throw new DragnetError('DRAGNET_TOO_LARGE', `record is ${unsigned.length + HEADER_BYTES} bytes, the limit is ${maxBytes}`, { object: init.body.id })
  }
  const sig = signer.sign(signingInput(unsigned))
  const bytes = new Uint8Array(HEADER_BYTES + unsigned.length)
  bytes[0] = ENVELOPE_VERSION
  bytes.set(signer.publicKey, 1)
  bytes.set(sig, 33)
  bytes.set(unsigned, HEADER_BYTES)
  return { id: recordId(unsigned), bytes, record, sig }
}

/** Cheap checks on received bytes, before any cryptography or parsing. */
export function checkShape (bytes: Uint8Array, limits: DecodeLimits = {}): void {
  const maxBytes = limits.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  if (!(bytes instanceof Uint8Array)) throw new DragnetError('DRAGNET_MALFORMED_RECORD', 'record is not a byte string')
  if (bytes.length > maxBytes) throw new DragnetError('DRAGNET_TOO_LARGE', `record is ${bytes.length} bytes, the limit is ${maxBytes}`)
  if (bytes.length < HEADER_BYTES + 2) throw new DragnetError('DRAGNET_MALFORMED_RECORD', `record is ${bytes.length} bytes, shorter than its header`)
  if (bytes[0] !== ENVELOPE_VERSION) throw new DragnetError('DRAGNET_MALFORMED_RECORD', `unknown envelope version ${bytes[0]}`)
  if (bytes[HEADER_BYTES] !== 0x7b) throw new DragnetError('DRAGNET_MALFORMED_RECORD', 'record payload is not a JSON object')
}

/** Unsigned payload bytes of an envelope (a view, no copy). */
export function unsignedBytes (bytes: Uint8Array): Uint8Array {
  return bytes.subarray(HEADER_BYTES)
}

/** The id of an envelope: a hash of its payload, computable before verification. */
export function idOfEnvelope (bytes: Uint8Array): string {
  return recordId(unsignedBytes(bytes))
}

/**
 * Verifies the signature over the received bytes. Returns the author's PeerId (derived from the
 * key in the header) so the caller can check it against the payload after parsing.
 */
export function verifyEnvelope (bytes: Uint8Array, limits: DecodeLimits = {}): string {
  checkShape(bytes, limits)
  const key = authorKey(bytes.subarray(1, 33))
  const sig = bytes.subarray(33, HEADER_BYTES)
  if (!edVerify(null, signingInput(unsignedBytes(bytes)), key.keyObject, sig)) {
    throw new DragnetError('DRAGNET_BAD_SIGNATURE', 'signature does not match the record bytes')
  }
  return key.peerId
}

/** Signature check only, no shape checks; the caller has already called checkShape. Used by verify workers. */
export function signatureValid (bytes: Uint8Array): boolean {
  const key = authorKey(bytes.subarray(1, 33))
  return edVerify(null, signingInput(unsignedBytes(bytes)), key.keyObject, bytes.subarray(33, HEADER_BYTES))
}

export function authorOfEnvelope (bytes: Uint8Array): string {
  return authorKey(bytes.subarray(1, 33)).peerId
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Parses verified bytes into a record, rejecting anything that is not exactly the canonical
 * encoding of a well-formed record. Does not check the signature: call `verifyEnvelope` first
 * (or use `openRecord`, which does both). `knownId`: the id the caller computed from these same
 * bytes with idOfEnvelope.
 */
export function decodeRecord (bytes: Uint8Array, limits: DecodeLimits = {}, verifiedAuthor?: string, knownId?: string): SignedRecord {
  checkShape(bytes, limits)
  const unsigned = unsignedBytes(bytes)
  let text: string
  try {
    text = utf8.decode(unsigned)
  } catch (err) {
    throw new DragnetError('DRAGNET_MALFORMED_RECORD', 'record payload is not valid UTF-8', {}, { cause: err })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new DragnetError('DRAGNET_MALFORMED_RECORD', `record payload is not JSON: ${(err as Error).message}`, {}, { cause: err })
  }
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH
  const { canonical, depth } = checkCanonical(text, parsed, maxDepth)
  if (depth > maxDepth) throw new DragnetError('DRAGNET_TOO_DEEP', `record nests deeper than ${maxDepth} levels`)
  const record = checkFields(parsed)
  const author = verifiedAuthor ?? authorOfEnvelope(bytes)
  if (record.author !== author) {
    throw new DragnetError('DRAGNET_MALFORMED_RECORD', `record names author ${record.author} but is signed by ${author}`)
  }
  // One content, one encoding, one id: a payload that parses but is not canonical would let the
  // same record circulate under two ids (and duplicate keys would let parsers disagree).
  if (!canonical) {
    throw new DragnetError('DRAGNET_NOT_CANONICAL', 'record payload is not in canonical (RFC 8785) form')
  }
  // A receiver hashed these bytes already (idOfEnvelope) to drop duplicates: no second hash.
  return { id: knownId ?? recordId(unsigned), bytes, record, sig: bytes.subarray(33, HEADER_BYTES) }
}

/**
 * A record whose bytes decodeRecord accepted already (a verify worker ran it on a copy of these
 * bytes): parsed for use, not checked a second time.
 */
export function parseDecodedRecord (bytes: Uint8Array, id: string): SignedRecord {
  const record = JSON.parse(utf8.decode(unsignedBytes(bytes))) as UnsignedRecord
  return { id, bytes, record, sig: bytes.subarray(33, HEADER_BYTES) }
}

/** verify then decode: the whole check a received record gets before anything trusts it. */
export function openRecord (bytes: Uint8Array, limits: DecodeLimits = {}): SignedRecord {
  const author = verifyEnvelope(bytes, limits)
  return decodeRecord(bytes, limits, author)
}

const ALLOWED_FIELDS = new Set(['v', 'author', 'seq', 'ts', 'tlp', 'to', 'body'])

function checkFields (parsed: unknown): UnsignedRecord {
  const bad = (msg: string, property?: string): never => { throw new DragnetError('DRAGNET_MALFORMED_RECORD', msg, property != null ? { property } : {}) }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return bad('record payload is not an object')
  const r = parsed as Record<string, unknown>
  for (const k of Object.keys(r)) if (!ALLOWED_FIELDS.has(k)) bad(`unknown record field "${k}"`, k)
  if (r.v !== RECORD_FORMAT_VERSION) bad(`unsupported record format version ${String(r.v)}`, 'v')
  if (typeof r.author !== 'string') bad('author must be a PeerId string', 'author')
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) bad('seq must be a positive integer', 'seq')
  if (!Number.isSafeInteger(r.ts) || (r.ts as number) < 0) bad('ts must be a non-negative integer', 'ts')
  if (!isTlp(r.tlp)) bad(`tlp must be one of ${TLP_LEVELS.join(', ')}`, 'tlp')
  if (r.to !== undefined) {
    if (!Array.isArray(r.to) || r.to.length === 0 || !r.to.every(p => typeof p === 'string')) bad('to must be a non-empty list of PeerIds', 'to')
    const to = r.to as string[]
    for (let i = 1; i < to.length; i++) if (!(to[i - 1] < to[i])) bad('to must be sorted and without duplicates', 'to')
  }
  if (r.body === null || typeof r.body !== 'object' || Array.isArray(r.body)) bad('body must be a STIX object', 'body')
  const body = r.body as Record<string, unknown>
  if (typeof body.type !== 'string' || typeof body.id !== 'string') bad('body must have a STIX type and id', 'body')
  return r as unknown as UnsignedRecord
}

/** JSON view of a record for people and APIs (signature and bytes base64). */
export function recordToJson (r: SignedRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: r.id,
    author: r.record.author,
    seq: r.record.seq,
    ts: r.record.ts,
    tlp: r.record.tlp
  }
  if (r.record.to != null) out.to = r.record.to
  out.body = r.record.body
  out.sig = Buffer.from(r.sig).toString('base64')
  return out
}
