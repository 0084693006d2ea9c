// Self-made STIX 2.1 fixtures (documentation IP ranges, example.com): the core suites run
// without the shared real-world data.
import { isDragnetError, type ErrorCode } from '../../../src/errors.js'

export const T0 = '2016-04-06T20:03:48.000Z'
export const T1 = '2016-05-07T11:22:30.123Z'

let counter = 0
/** A fresh, well-formed UUIDv4 per call, distinct within a test run. */
export function uuid (): string {
  counter++
  return `6f0b7cd2-31c8-4a5e-9d1f-${counter.toString(16).padStart(12, '0')}`
}

export const IDENTITY = `identity--${uuid()}`
export const MARKING = 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da'

export function sdo (type: string, props: Record<string, unknown> = {}): Record<string, unknown> {
  return { type, spec_version: '2.1', id: `${type}--${uuid()}`, created: T0, modified: T0, ...props }
}

export function sco (type: string, props: Record<string, unknown> = {}): Record<string, unknown> {
  return { type, spec_version: '2.1', id: `${type}--${uuid()}`, ...props }
}

/** A copy of `obj` with `changes` applied; a change to `undefined` removes the property. */
export function edit (obj: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const out = { ...obj }
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k]
    else out[k] = v
  }
  return out
}

export function indicator (pattern: string, props: Record<string, unknown> = {}): Record<string, unknown> {
  return sdo('indicator', { name: 'test', indicator_types: ['malicious-activity'], pattern, pattern_type: 'stix', valid_from: T0, ...props })
}

/** What a call threw: the DragnetError code and details, or `accepted`. */
export function outcome (fn: () => unknown): { code: ErrorCode | 'accepted', object?: string, property?: string, message?: string } {
  try {
    fn()
  } catch (err) {
    if (isDragnetError(err)) return { code: err.code, object: err.details.object, property: err.details.property, message: err.message }
    throw err
  }
  return { code: 'accepted' }
}
