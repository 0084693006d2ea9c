import type { Reader } from '../util/varint.js'
import { Writer } from '../util/varint.js'
import { protocolViolation } from './faults.js'

/*
 * The one records frame every replication protocol sends: a type byte (the protocol's own),
 * then `count, (length, envelope)*`. Envelopes are carried exactly as signed.
 */

/** Bytes a frame spends beside its envelopes: type, count, and a length prefix per envelope. */
const FRAME_OVERHEAD = 16
const PER_RECORD_OVERHEAD = 8

export function encodeRecordsFrame (type: number, records: Uint8Array[]): Uint8Array {
  let size = FRAME_OVERHEAD
  for (const r of records) size += r.length + PER_RECORD_OVERHEAD
  const w = new Writer(size).byte(type).varint(records.length)
  for (const r of records) w.varint(r.length).bytes(r)
  return w.finish()
}

/**
 * Records packed into as few frames as the limits allow, in order. A record larger than a frame
 * on its own gets a frame of its own (the record size limit keeps that below the frame limit).
 */
export function packRecordsFrames (type: number, records: Uint8Array[], limits: { maxFrameBytes: number, maxRecords: number }): Uint8Array[] {
  const frames: Uint8Array[] = []
  let cur: Uint8Array[] = []
  let size = FRAME_OVERHEAD
  for (const r of records) {
    if (cur.length > 0 && (cur.length >= limits.maxRecords || size + r.length + PER_RECORD_OVERHEAD > limits.maxFrameBytes)) {
      frames.push(encodeRecordsFrame(type, cur))
      cur = []
      size = FRAME_OVERHEAD
    }
    cur.push(r)
    size += r.length + PER_RECORD_OVERHEAD
  }
  if (cur.length > 0) frames.push(encodeRecordsFrame(type, cur))
  return frames
}

/**
 * The envelopes of a records frame, read after its type byte. Counts are checked before
 * anything is allocated; each envelope is copied out of the frame buffer. An empty frame is a
 * violation too: no sender has a reason to send one.
 */
export function decodeRecordsBody (r: Reader, maxRecords: number): Uint8Array[] {
  const n = r.varint()
  if (n === 0) throw protocolViolation(`${r.what}: empty records frame`)
  if (n > maxRecords || n > r.remaining) throw protocolViolation(`${r.what}: batch of ${n} records exceeds ${maxRecords}`)
  const out: Uint8Array[] = new Array(n)
  for (let i = 0; i < n; i++) out[i] = r.bytes(r.varint()).slice()
  r.end()
  return out
}
