import { randomUUID } from 'node:crypto'
import type { Tlp } from '../record/index.js'
import { TLP_RANK } from '../stix/index.js'

/*
 * Erasure requests and receipts are records like any other: a STIX custom object signed by its
 * author, travelling by gossip, sync and records files through ingest. A request names record
 * ids and nothing else (no reason, no content: the ids are all a member needs to find its copy),
 * at the TLP of the records it names, so it reaches exactly the members that may hold them. A
 * receipt goes back to the requester alone (amber, addressed to it): which ids this member
 * purged and which it refused.
 */

export const ERASURE_REQUEST_TYPE = 'x-dragnet-erasure-request'
export const ERASURE_RECEIPT_TYPE = 'x-dragnet-erasure-receipt'
/** ids one request may name; more are split over several requests */
export const MAX_REQUEST_IDS = 1000

const RECORD_ID = /^1220[0-9a-f]{64}$/

export function isRecordId (v: unknown): v is string {
  return typeof v === 'string' && RECORD_ID.test(v)
}

function stixObject (type: string, now: number, fields: Record<string, unknown>): Record<string, unknown> {
  const t = new Date(now).toISOString()
  return { type, spec_version: '2.1', id: `${type}--${randomUUID()}`, created: t, modified: t, ...fields }
}

export function erasureRequestBody (ids: string[], now: number): Record<string, unknown> {
  return stixObject(ERASURE_REQUEST_TYPE, now, { record_ids: [...ids].sort() })
}

export function erasureReceiptBody (request: string, honoured: string[], refused: string[], now: number): Record<string, unknown> {
  return stixObject(ERASURE_RECEIPT_TYPE, now, { request_ref: request, honoured_ids: honoured, refused_ids: refused })
}

/** The ids a request names, or null when the body is not a well-formed request. */
export function requestedIds (body: Record<string, unknown>): string[] | null {
  if (body.type !== ERASURE_REQUEST_TYPE) return null
  const ids = body.record_ids
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_REQUEST_IDS || !ids.every(isRecordId)) return null
  return [...new Set(ids)]
}

export interface Receipt {
  request: string
  honoured: string[]
  refused: string[]
}

export function receiptOf (body: Record<string, unknown>): Receipt | null {
  if (body.type !== ERASURE_RECEIPT_TYPE || !isRecordId(body.request_ref)) return null
  const list = (v: unknown): string[] | null => Array.isArray(v) && v.length <= MAX_REQUEST_IDS && v.every(isRecordId) ? v : null
  const honoured = list(body.honoured_ids)
  const refused = list(body.refused_ids)
  if (honoured == null || refused == null) return null
  return { request: body.request_ref, honoured, refused }
}

/** The records of one request: same TLP and audience, so the request reaches exactly their holders. */
export interface RequestGroup {
  tlp: Tlp
  to?: string[]
  ids: string[]
}

/**
 * Groups records by TLP and audience (recipients, for amber). Red records never left this node:
 * they need no request and are left out.
 */
export function requestGroups (records: Array<{ id: string, tlp: Tlp, to?: readonly string[] }>): RequestGroup[] {
  const groups = new Map<string, RequestGroup>()
  const full: RequestGroup[] = []
  for (const r of records) {
    if (r.tlp === 'red') continue
    const amber = r.tlp === 'amber' || r.tlp === 'amber+strict'
    const to = amber && r.to != null && r.to.length > 0 ? [...new Set(r.to)].sort() : undefined
    const k = `${r.tlp}|${to?.join(',') ?? ''}`
    let g = groups.get(k)
    if (g == null || g.ids.length >= MAX_REQUEST_IDS) {
      if (g != null) full.push(g)
      g = { tlp: r.tlp, ...(to != null ? { to } : {}), ids: [] }
      groups.set(k, g)
    }
    g.ids.push(r.id)
  }
  return [...full, ...groups.values()].sort((a, b) => TLP_RANK[a.tlp] - TLP_RANK[b.tlp])
}
