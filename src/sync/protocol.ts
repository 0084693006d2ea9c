import { decodeRecordsBody, encodeRecordsFrame, protocolViolation } from '../replication/index.js'
import { Reader, Writer } from '../util/varint.js'

/*
 * /dragnet/sync/2.0.0 — one stream per session, opened by the initiator. Frames (length-prefixed
 * by FramedStream), first byte the type:
 *
 *   OPEN     0x10  version, scopes (count, index*), first reconciliation message per scope. A
 *                  scope is named by its index in the list both sides derive from their two
 *                  PeerIds (`scopesBetween(initiator, responder)`): no names on the wire.
 *   RECON    0x11  (count, (scope index, len, message)*): the next reconciliation messages;
 *                  a scope missing from a RECON is settled on the sender's side
 *   WANT     0x12  count, digest 32B *: send me these records
 *   RECORDS  0x13  count, (len, envelope)*
 *   DECLINE  0x14  count, (scope index, ts, digest 32B)*: I count these but will not hand them
 *                  over (policy, TLP floor, or I only know of them) — treat them as known
 *   DONE     0x15  the initiator has nothing more; the responder closes
 *
 * The initiator drives: it reconciles every scope in the same round trips, then pulls what it
 * lacks (WANT → RECORDS + DECLINE, pipelined) and pushes what the responder lacks.
 */

export const SYNC_VERSION = 2
export const OPEN = 0x10
export const RECON = 0x11
export const WANT = 0x12
export const RECORDS = 0x13
export const DECLINE = 0x14
export const DONE = 0x15

export const MAX_SCOPES = 64

export interface ScopedMessage { scope: number, message: Uint8Array }
export interface Declined { scope: number, ts: number, digest: Uint8Array }

export type SyncFrame =
  | { type: typeof OPEN, version: number, scopes: number[], messages: ScopedMessage[] }
  | { type: typeof RECON, messages: ScopedMessage[] }
  | { type: typeof WANT, digests: Uint8Array[] }
  | { type: typeof RECORDS, records: Uint8Array[] }
  | { type: typeof DECLINE, declined: Declined[] }
  | { type: typeof DONE }

/** `scopes`: indices into the shared scope list, each once. */
export function encodeOpen (scopes: number[], messages: ScopedMessage[]): Uint8Array {
  const w = new Writer(256).byte(OPEN).varint(SYNC_VERSION).varint(scopes.length)
  for (const s of scopes) w.varint(s)
  writeMessages(w, messages)
  return w.finish()
}

export function encodeRecon (messages: ScopedMessage[]): Uint8Array {
  const w = new Writer(256).byte(RECON)
  writeMessages(w, messages)
  return w.finish()
}

function writeMessages (w: Writer, messages: ScopedMessage[]): void {
  w.varint(messages.length)
  for (const m of messages) w.varint(m.scope).varint(m.message.length).bytes(m.message)
}

export function encodeWant (digests: Uint8Array[]): Uint8Array {
  const w = new Writer(8 + 32 * digests.length).byte(WANT).varint(digests.length)
  for (const d of digests) w.bytes(d)
  return w.finish()
}

export function encodeRecords (records: Uint8Array[]): Uint8Array {
  return encodeRecordsFrame(RECORDS, records)
}

export function encodeDecline (declined: Declined[]): Uint8Array {
  const w = new Writer(8 + 44 * declined.length).byte(DECLINE).varint(declined.length)
  for (const d of declined) w.varint(d.scope).varint(d.ts).bytes(d.digest)
  return w.finish()
}

export function encodeDone (): Uint8Array {
  return Uint8Array.of(DONE)
}

export interface DecodeLimits {
  maxItems: number
  /** scopes of this session (for RECON and DECLINE), or, for OPEN, the size of the shared scope list */
  scopes: number
}

/**
 * Strict and total decoding: every count is checked against the bytes left and the limits
 * before allocating, and garbage only ever throws a protocol violation (DragnetError).
 */
export function decodeFrame (frame: Uint8Array, limits: DecodeLimits): SyncFrame {
  const r = new Reader(frame, 'sync frame')
  const type = r.byte()
  const bad = (msg: string): never => { throw protocolViolation(`sync frame: ${msg}`) }
  const messages = (scopes: number): ScopedMessage[] => {
    const n = r.varint()
    if (n > MAX_SCOPES) bad(`${n} scoped messages`)
    const out: ScopedMessage[] = []
    for (let i = 0; i < n; i++) {
      const scope = r.varint()
      if (scope >= scopes) bad(`scope index ${scope} out of range`)
      out.push({ scope, message: r.bytes(r.varint()) })
    }
    return out
  }
  let out: SyncFrame
  switch (type) {
    case OPEN: {
      const version = r.varint()
      if (version !== SYNC_VERSION) bad(`unsupported version ${version}`)
      const n = r.varint()
      if (n > MAX_SCOPES || n > limits.scopes) bad(`${n} scopes`)
      const scopes: number[] = []
      for (let i = 0; i < n; i++) {
        const idx = r.varint()
        if (idx >= limits.scopes || scopes.includes(idx)) bad(`scope ${idx} out of range or named twice`)
        scopes.push(idx)
      }
      // An OPEN's messages index the scopes it names, not the shared list.
      out = { type, version, scopes, messages: messages(n) }
      break
    }
    case RECON:
      out = { type, messages: messages(limits.scopes) }
      break
    case WANT: {
      const n = r.varint()
      if (n > limits.maxItems || n * 32 > r.remaining) bad(`want of ${n} ids`)
      const digests: Uint8Array[] = []
      for (let i = 0; i < n; i++) digests.push(r.bytes(32))
      out = { type, digests }
      break
    }
    case RECORDS:
      // The shared records frame (it checks that nothing trails).
      return { type, records: decodeRecordsBody(r, limits.maxItems) }
    case DECLINE: {
      const n = r.varint()
      if (n > limits.maxItems * 4 || n * 34 > r.remaining) bad(`decline of ${n} ids`)
      const declined: Declined[] = []
      for (let i = 0; i < n; i++) {
        const scope = r.varint()
        if (scope >= limits.scopes) bad(`scope index ${scope} out of range`)
        const ts = r.varint()
        declined.push({ scope, ts, digest: r.bytes(32) })
      }
      out = { type, declined }
      break
    }
    case DONE:
      out = { type }
      break
    default:
      return bad(`unknown frame type ${type}`)
  }
  r.end()
  return out
}
