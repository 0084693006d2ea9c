// Every failure a user or peer can cause has a stable DRAGNET_* code. The HTTP status for each
// code lives in this one table so the API, CLI and network map verdicts the same way.
export const ERROR_STATUS = {
  DRAGNET_BAD_JSON: 400,
  DRAGNET_BAD_REQUEST: 400,
  DRAGNET_PROTOCOL_VIOLATION: 400,
  DRAGNET_TIMEOUT: 504,
  DRAGNET_NOT_STIX: 400,
  DRAGNET_STIX_INVALID: 400,
  DRAGNET_STIX_VERSION: 400,
  DRAGNET_BAD_PATTERN: 400,
  DRAGNET_TOO_LARGE: 413,
  DRAGNET_TOO_DEEP: 400,
  DRAGNET_MALFORMED_RECORD: 400,
  DRAGNET_NOT_CANONICAL: 400,
  DRAGNET_BAD_RECORDS_FILE: 400,
  DRAGNET_BAD_SIGNATURE: 400,
  DRAGNET_UNKNOWN_AUTHOR: 403,
  DRAGNET_ROLE_FORBIDDEN: 403,
  DRAGNET_REVOKED_AUTHOR: 403,
  DRAGNET_BAD_CREDENTIAL: 400,
  DRAGNET_NOT_OWNER: 409,
  DRAGNET_EQUIVOCATION: 409,
  DRAGNET_PURGED: 410,
  DRAGNET_FUTURE_TIMESTAMP: 400,
  DRAGNET_POLICY_REJECTED: 403,
  DRAGNET_BAD_TLP: 400,
  DRAGNET_TLP_CONFLICT: 422,
  DRAGNET_BAD_RECIPIENT: 400,
  DRAGNET_UNAUTHORIZED: 401,
  DRAGNET_FORBIDDEN: 403,
  DRAGNET_NOT_FOUND: 404,
  DRAGNET_NO_NODE: 404,
  DRAGNET_NOT_ACCEPTABLE: 406,
  DRAGNET_BAD_HOST: 421,
  DRAGNET_UNSUPPORTED_MEDIA_TYPE: 415,
  DRAGNET_CONFLICT: 409,
  DRAGNET_STORE_LOCKED: 409,
  DRAGNET_KEY_EXISTS: 409,
  DRAGNET_BAD_CONFIG: 400,
  DRAGNET_BAD_POLICY: 400,
  DRAGNET_BAD_KEY: 400,
  DRAGNET_NODE_UNREACHABLE: 503,
  DRAGNET_FEED_HTTP: 502,
  DRAGNET_BAD_FEED: 502,
  DRAGNET_STOPPED: 503,
  DRAGNET_BUSY: 503,
  DRAGNET_STORAGE: 507,
  DRAGNET_INTERNAL: 500
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export interface ErrorDetails {
  /** STIX id (or array index) of the offending object, when there is one */
  object?: string
  /** property path inside that object, e.g. `pattern` or `hashes.SHA-256` */
  property?: string
  [key: string]: unknown
}

export class DragnetError extends Error {
  override readonly name = 'DragnetError'
  readonly code: ErrorCode
  readonly details: ErrorDetails

  constructor (code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.details = details
  }

  get status (): number {
    return ERROR_STATUS[this.code]
  }

  toJSON (): { code: ErrorCode, message: string, details?: ErrorDetails } {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message }
  }
}

export function isDragnetError (err: unknown, code?: ErrorCode): err is DragnetError {
  return err instanceof DragnetError && (code == null || err.code === code)
}

/** Turns anything thrown into a DragnetError; programmer errors become DRAGNET_INTERNAL. */
export function toDragnetError (err: unknown): DragnetError {
  if (err instanceof DragnetError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new DragnetError('DRAGNET_INTERNAL', message, {}, { cause: err })
}
