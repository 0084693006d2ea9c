import { DragnetError, toDragnetError, type ErrorCode, type ErrorDetails } from '../errors.js'
import { authorOfEnvelope, decodeRecord, signatureValid, type DecodeLimits } from '../record/index.js'
import { analyzeStixObject, type Observable } from '../stix/index.js'

/**
 * What a verify worker found about one envelope besides its signature: the decode and STIX
 * checks passed, with the observables and SCO types the main thread would have extracted, or
 * the error they raised. Only for envelopes whose signature is valid.
 */
export type CheckedRecord =
  | { observables: Observable[], scoTypes: string[] }
  | { error: { code: ErrorCode, message: string, details: ErrorDetails } }

export interface VerifyRequest {
  id: number
  items: Uint8Array[]
  /** each item's id (idOfEnvelope), already computed by the receiver */
  ids?: string[]
  /** present: decode and STIX checks run in the worker too */
  limits?: DecodeLimits
}

/** Signature, then (with `limits`) decoding and STIX analysis of one envelope that passed checkShape. */
export function checkRecord (bytes: Uint8Array, id: string | undefined, limits: DecodeLimits | undefined): { signature: boolean, result?: CheckedRecord } {
  let signature: boolean
  try {
    signature = signatureValid(bytes)
  } catch {
    signature = false
  }
  if (!signature || limits == null) return { signature }
  try {
    const signed = decodeRecord(bytes, limits, authorOfEnvelope(bytes), id)
    const a = analyzeStixObject(signed.record.body, signed.record.body.id)
    return { signature, result: { observables: a.observables, scoTypes: a.scoTypes } }
  } catch (err) {
    const e = toDragnetError(err)
    return { signature, result: { error: { code: e.code, message: e.message, details: { ...e.details } } } }
  }
}

/** The error a worker reported, as the main thread would have raised it. */
export function checkError (c: CheckedRecord): DragnetError | undefined {
  return 'error' in c ? new DragnetError(c.error.code, c.error.message, c.error.details) : undefined
}
