import { DragnetError } from '../errors.js'

/*
 * Two kinds of failure on a peer edge, and only one of them is the peer's fault:
 *  - a protocol violation (a malformed, oversized or unrequested frame, a budget overrun, a
 *    forged record): the peer is penalised — cut off and refused for the cool-down;
 *  - a timeout or a closed stream (a slow link, a slow reader, a restart, our own shutdown):
 *    the session ends and is tried again later, with no penalty. An honest peer that is merely
 *    slow must never be punished.
 * Every place where a failure could turn into a penalty asks `failureKind`.
 */

export type FailureKind = 'violation' | 'timeout' | 'gone'

/** Codes that mean "the peer broke the wire protocol". Only wire paths raise these. */
const VIOLATION_CODES = new Set(['DRAGNET_PROTOCOL_VIOLATION', 'DRAGNET_BAD_REQUEST', 'DRAGNET_TOO_LARGE'])

export function protocolViolation (message: string): DragnetError {
  return new DragnetError('DRAGNET_PROTOCOL_VIOLATION', message)
}

export function peerTimeout (message: string): DragnetError {
  return new DragnetError('DRAGNET_TIMEOUT', message)
}

export function failureKind (err: unknown): FailureKind {
  if (err instanceof DragnetError) {
    if (VIOLATION_CODES.has(err.code)) return 'violation'
    return err.code === 'DRAGNET_TIMEOUT' ? 'timeout' : 'gone'
  }
  const name = (err as { name?: unknown } | null)?.name
  return name === 'TimeoutError' ? 'timeout' : 'gone'
}

/** A readable message and code for logs and penalty reasons, whatever was thrown. */
export function describe (err: unknown): { code: string, message: string } {
  if (err instanceof DragnetError) return { code: err.code, message: err.message }
  const e = err as { name?: string, message?: string, error?: { message?: string } } | null
  return { code: e?.name ?? 'Error', message: e?.message ?? e?.error?.message ?? String(err) }
}
