import { decodeRecordsBody, encodeRecordsFrame, protocolViolation, DIGEST_BYTES } from '../replication/index.js'
import { Reader, Writer } from '../util/varint.js'

/*
 * /dragnet/gossip/1.0.0 frames (length-prefixed by FramedStream), first byte the type:
 *   RECORDS 0x01  count, (len, envelope)*                       — the shared records frame
 *   IHAVE   0x02  groups, (author key 32B, count, digest 32B *)* — I hold these
 *   GRAFT   0x03  same shape as IHAVE: send me these, and push me this author's records again
 *   PRUNE   0x04  count, author key 32B *: stop pushing these authors' records to me
 * Decoding is total: any byte string either decodes within the limits or throws a protocol
 * violation (DragnetError), never anything else, and nothing is allocated before its count has
 * been checked against the bytes that remain.
 */

export const RECORDS = 0x01
export const IHAVE = 0x02
export const GRAFT = 0x03
export const PRUNE = 0x04

/** Ids in one IHAVE or GRAFT frame; senders split longer lists over several frames. */
export const MAX_IDS_PER_FRAME = 4096
/** Author keys in one PRUNE frame. */
export const MAX_PRUNE_AUTHORS = 1024

export interface IdGroup {
  /** the author's raw Ed25519 key */
  key: Uint8Array
  digests: Uint8Array[]
}

export type GossipFrame =
  | { type: typeof RECORDS, records: Uint8Array[] }
  | { type: typeof IHAVE | typeof GRAFT, groups: IdGroup[], ids: number }
  | { type: typeof PRUNE, keys: Uint8Array[] }

export interface GossipLimits {
  maxRecords: number
}

export function decodeGossipFrame (frame: Uint8Array, limits: GossipLimits): GossipFrame {
  const r = new Reader(frame, 'gossip frame')
  const type = r.byte()
  switch (type) {
    case RECORDS:
      return { type, records: decodeRecordsBody(r, limits.maxRecords) }
    case IHAVE:
    case GRAFT: {
      const groups = r.varint()
      if (groups === 0 || groups > MAX_IDS_PER_FRAME || groups * (DIGEST_BYTES + 2) > r.remaining) throw protocolViolation(`gossip frame with ${groups} author groups`)
      const out: IdGroup[] = []
      let ids = 0
      for (let g = 0; g < groups; g++) {
        const key = r.bytes(DIGEST_BYTES)
        const count = r.varint()
        ids += count
        if (count === 0 || ids > MAX_IDS_PER_FRAME || count * DIGEST_BYTES > r.remaining) throw protocolViolation(`gossip frame: ${ids} ids (at most ${MAX_IDS_PER_FRAME}, none empty, all present)`)
        const digests: Uint8Array[] = new Array(count)
        for (let i = 0; i < count; i++) digests[i] = r.bytes(DIGEST_BYTES)
        out.push({ key, digests })
      }
      r.end()
      return { type, groups: out, ids }
    }
    case PRUNE: {
      const n = r.varint()
      if (n === 0 || n > MAX_PRUNE_AUTHORS || n * DIGEST_BYTES > r.remaining) throw protocolViolation(`gossip frame: prune of ${n} authors`)
      const keys: Uint8Array[] = new Array(n)
      for (let i = 0; i < n; i++) keys[i] = r.bytes(DIGEST_BYTES)
      r.end()
      return { type, keys }
    }
    default:
      throw protocolViolation(`unknown gossip frame type ${type}`)
  }
}

export function encodeRecords (records: Uint8Array[]): Uint8Array {
  return encodeRecordsFrame(RECORDS, records)
}

/** IHAVE or GRAFT frames for (author key, digests) groups, split at MAX_IDS_PER_FRAME ids. */
export function encodeIdFrames (type: typeof IHAVE | typeof GRAFT, groups: Array<{ key: Uint8Array, digests: Uint8Array[] }>): Uint8Array[] {
  const frames: Uint8Array[] = []
  let parts: Array<{ key: Uint8Array, digests: Uint8Array[] }> = []
  let ids = 0
  const flush = (): void => {
    if (parts.length === 0) return
    const w = new Writer(16 + parts.length * 40 + ids * DIGEST_BYTES).byte(type).varint(parts.length)
    for (const p of parts) {
      w.bytes(p.key).varint(p.digests.length)
      for (const d of p.digests) w.bytes(d)
    }
    frames.push(w.finish())
    parts = []
    ids = 0
  }
  for (const g of groups) {
    for (let i = 0; i < g.digests.length;) {
      const take = Math.min(g.digests.length - i, MAX_IDS_PER_FRAME - ids)
      parts.push({ key: g.key, digests: g.digests.slice(i, i + take) })
      ids += take
      i += take
      if (ids >= MAX_IDS_PER_FRAME) flush()
    }
  }
  flush()
  return frames
}

export function encodePrune (keys: Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = []
  for (let i = 0; i < keys.length; i += MAX_PRUNE_AUTHORS) {
    const part = keys.slice(i, i + MAX_PRUNE_AUTHORS)
    const w = new Writer(8 + DIGEST_BYTES * part.length).byte(PRUNE).varint(part.length)
    for (const k of part) w.bytes(k)
    frames.push(w.finish())
  }
  return frames
}
