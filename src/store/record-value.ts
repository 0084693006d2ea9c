import { ENVELOPE_VERSION } from '../record/index.js'
import type { RecordInfo } from './store.js'

/*
 * Store format 5 keeps a record and what the node knows of it under one key, `rec:<id>`: one
 * LevelDB entry per record where formats up to 4 wrote two (`rec:` envelope, `info:` JSON), and
 * the key of the record's accept audit entry rides along instead of an `auditr:` index key.
 *
 *   offset 0   1 byte    STORED_TAG (never an envelope version: a bare envelope starts with one)
 *          1   1 byte    length A of the accept audit key (0: none)
 *          2   A bytes   the audit key suffix `<time 13 hex>!<counter 8 hex>`
 *      2 + A   4 bytes   length I of the RecordInfo JSON, big-endian
 *      6 + A   I bytes   RecordInfo JSON
 *  6 + A + I   rest      the envelope, exactly as signed
 *
 * Readers accept a bare envelope too, so the migrations of older formats that read records
 * before this one runs keep working.
 */

const STORED_TAG = 0xd5
const dec = new TextDecoder()

export interface StoredRecord {
  info: RecordInfo
  /** the envelope bytes as signed (a view into the stored value) */
  bytes: Uint8Array
  /** the audit key of the entry that accepted the record, when it was written with it */
  auditKey?: string
}

export function encodeStored (info: RecordInfo, bytes: Uint8Array, auditKey?: string): Uint8Array {
  // One buffer, the texts written straight into it: no intermediate encodings per record.
  const audit = auditKey ?? ''
  const json = JSON.stringify(info)
  const auditLen = Buffer.byteLength(audit)
  if (auditLen > 255) throw new TypeError('audit key too long')
  const jsonLen = Buffer.byteLength(json)
  const out = Buffer.allocUnsafe(6 + auditLen + jsonLen + bytes.length)
  out[0] = STORED_TAG
  out[1] = auditLen
  out.write(audit, 2)
  out.writeUInt32BE(jsonLen, 2 + auditLen)
  out.write(json, 6 + auditLen)
  out.set(bytes, 6 + auditLen + jsonLen)
  return out
}

/** Whether a `rec:` value is a bare envelope (formats up to 4) rather than a format-5 value. */
export function isBareEnvelope (value: Uint8Array): boolean {
  return value[0] === ENVELOPE_VERSION
}

interface Layout { auditEnd: number, infoEnd: number }

function layoutOf (value: Uint8Array): Layout {
  if (value[0] !== STORED_TAG || value.length < 6) throw new TypeError(`not a stored record value (first byte ${value[0]})`)
  const auditEnd = 2 + value[1]
  const infoLen = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(auditEnd)
  return { auditEnd, infoEnd: auditEnd + 4 + infoLen }
}

/** The envelope of a stored value (format 5 or a bare envelope). */
export function envelopeOf (value: Uint8Array): Uint8Array {
  if (isBareEnvelope(value)) return value
  return value.subarray(layoutOf(value).infoEnd)
}

/** Info, envelope and accept audit key of a format-5 value. */
export function decodeStored (value: Uint8Array): StoredRecord {
  const { auditEnd, infoEnd } = layoutOf(value)
  const out: StoredRecord = {
    info: JSON.parse(dec.decode(value.subarray(auditEnd + 4, infoEnd))) as RecordInfo,
    bytes: value.subarray(infoEnd)
  }
  if (auditEnd > 2) out.auditKey = dec.decode(value.subarray(2, auditEnd))
  return out
}
