/*
 * One audit entry, as the store keeps it and `GET /api/audit` answers it. The web console
 * imports this type, so this file imports nothing (the browser build type-checks it without
 * Node's types).
 */

export type AuditDirection = 'inbound' | 'outbound' | 'local'

export interface AuditEntry {
  at: number
  direction: AuditDirection
  verdict: 'accept' | 'reject' | 'send' | 'withhold' | 'ignore' | 'purge'
  rule: string
  reason: string
  record?: string
  peer?: string
  source?: string
  code?: string
}
