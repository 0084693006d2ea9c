/*
 * Sightings and opinions as this node's records: `dragnet sight`, `dragnet opinion` and their
 * API routes build STIX 2.1 objects here and publish them through ingest like any record.
 *
 * TLP: an amber sighting or opinion is addressed to the authors of the objects it is about (plus
 * any `to` given): under the TLP floor amber goes only to its recipients, and feedback is meant
 * for the author first. One record per target, so each goes to its own author.
 */
import { randomUUID } from 'node:crypto'
import { DragnetError } from '../errors.js'
import type { Verdict } from '../ingest/index.js'
import type { DragnetNode } from '../node.js'
import { isTlp, TLP_LEVELS, type Tlp } from '../record/index.js'
import { classifyValue, stricterTlp, TLP_RANK } from '../stix/index.js'
import { lookup } from '../store/queries.js'

const RECORD_ID = /^1220[0-9a-f]{64}$/
const STIX_ID = /^[a-z][a-z0-9-]*--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
/** Objects no sighting is about: feedback and relationships are not indicators. */
const NOT_SIGHTABLE = new Set(['sighting', 'opinion', 'relationship', 'note', 'report', 'identity', 'marking-definition'])
const MAX_TEXT = 4096

export interface SightInput {
  /** an observable value, a record id or a STIX id */
  target: string
  count?: number
  first_seen?: string
  last_seen?: string
  where?: string
  tlp?: Tlp
  to?: string[]
}

export interface OpinionInput {
  /** a record id or a STIX id */
  target: string
  opinion: 'agree' | 'disagree'
  reason?: string
  tlp?: Tlp
  to?: string[]
}

function bad (message: string, property: string): DragnetError {
  return new DragnetError('DRAGNET_BAD_REQUEST', message, { property })
}

function text (v: unknown, property: string): string | undefined {
  if (v == null) return undefined
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT) throw bad(`${property} must be text of 1 to ${MAX_TEXT} characters`, property)
  return v
}

function isoTime (v: unknown, property: string): string | undefined {
  if (v == null) return undefined
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw bad(`${property} must be an ISO 8601 UTC time such as 2026-01-31T12:00:00Z, got ${String(v)}`, property)
  }
  return v
}

function tlpOf (v: unknown): Tlp | undefined {
  if (v == null) return undefined
  if (!isTlp(v)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(v)}`, { property: 'tlp' })
  return v
}

function peers (v: unknown): string[] | undefined {
  if (v == null) return undefined
  const list = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v.map(String) : null
  if (list == null) throw bad('to must be a list of PeerIds', 'to')
  const out = list.map(s => s.trim()).filter(s => s !== '')
  return out.length > 0 ? out : undefined
}

function object (body: unknown): Record<string, unknown> {
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a JSON object', 'body')
  return body as Record<string, unknown>
}

/** Parses a sighting request (the API body; the CLI builds the same). */
export function parseSightInput (body: unknown): SightInput {
  const b = object(body)
  const target = text(b.target, 'target')
  if (target == null) throw bad('target is required: an observable value, a record id or a STIX id', 'target')
  const count = b.count
  if (count != null && (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 999_999_999)) throw bad(`count must be an integer from 1 to 999999999, got ${String(count)}`, 'count')
  const out: SightInput = { target }
  if (count != null) out.count = count
  const first = isoTime(b.first_seen, 'first_seen')
  const last = isoTime(b.last_seen, 'last_seen')
  if (first != null && last != null && Date.parse(first) > Date.parse(last)) throw bad('first_seen is after last_seen', 'first_seen')
  if (first != null) out.first_seen = first
  if (last != null) out.last_seen = last
  const where = text(b.where, 'where')
  if (where != null) out.where = where
  return { ...out, ...common(b) }
}

/** Parses an opinion request. */
export function parseOpinionInput (body: unknown): OpinionInput {
  const b = object(body)
  const target = text(b.target, 'target')
  if (target == null) throw bad('target is required: a record id or a STIX id', 'target')
  if (b.opinion !== 'agree' && b.opinion !== 'disagree') throw bad(`opinion must be agree or disagree, got ${String(b.opinion)}`, 'opinion')
  const reason = text(b.reason, 'reason')
  return { target, opinion: b.opinion, ...(reason != null ? { reason } : {}), ...common(b) }
}

function common (b: Record<string, unknown>): { tlp?: Tlp, to?: string[] } {
  const tlp = tlpOf(b.tlp)
  const to = peers(b.to)
  return { ...(tlp != null ? { tlp } : {}), ...(to != null ? { to } : {}) }
}

/** The STIX ids behind a record id or a STIX id this node holds. */
async function objectOf (node: DragnetNode, target: string): Promise<string | undefined> {
  if (RECORD_ID.test(target)) return (await node.store.getInfo(target))?.stixId
  if (STIX_ID.test(target)) return (await node.store.owner(target)) != null ? target : undefined
  return undefined
}

/** The objects a sighting of `target` is about: the record's, or every current indicator-like object naming the value. */
async function sightedObjects (node: DragnetNode, target: string): Promise<string[]> {
  const direct = await objectOf(node, target)
  if (direct != null) return [direct]
  if (RECORD_ID.test(target) || STIX_ID.test(target)) throw new DragnetError('DRAGNET_NOT_FOUND', `no record ${target} on this node`, { property: 'target' })
  const o = classifyValue(target)
  if (o == null) throw bad(`cannot tell what "${target}" is: give a record id, a STIX id or an observable (IP, CIDR, domain, URL, email or MD5/SHA-1/SHA-256)`, 'target')
  const hits = (await lookup(node.store, o)).filter(h => !NOT_SIGHTABLE.has(h.type))
  const ids = [...new Set(hits.map(h => h.stixId))]
  if (ids.length === 0) throw new DragnetError('DRAGNET_NOT_FOUND', `no current record on this node names ${o.value}`, { property: 'target' })
  return ids
}

function now (): string {
  return new Date().toISOString()
}

/**
 * The TLP of what this node holds of an object: its owner's newest record (the strictest of them
 * when several share that version). Feedback is never looser: a green sighting of an amber
 * indicator would tell green readers that the indicator exists.
 */
async function tlpOfObject (node: DragnetNode, stixId: string): Promise<Tlp> {
  const [versions, owner] = await Promise.all([node.store.versions(stixId), node.store.owner(stixId)])
  const own = versions.filter(v => v.author === owner)
  const newest = own.length > 0 ? own[own.length - 1].modified : undefined
  const infos = await node.store.getManyInfo(own.filter(v => v.modified === newest).map(v => v.id))
  let tlp: Tlp = 'clear'
  for (const i of infos) if (i != null) tlp = stricterTlp(tlp, i.tlp)
  return tlp
}

/**
 * Publishes one object per target, at the TLP asked for (default: green, or the object's TLP when
 * stricter; looser than the object is refused); amber ones addressed to the target's owner (and
 * `to`). Each object is its own publication so each can have its own recipients.
 */
async function publishEach (node: DragnetNode, objects: Array<{ body: Record<string, unknown>, target: string }>, asked: Tlp | undefined, to: string[] | undefined): Promise<Verdict[]> {
  // Every TLP checked before anything is published: a refusal stores nothing.
  const floors = await Promise.all(objects.map(async o => await tlpOfObject(node, o.target)))
  objects.forEach(({ body, target }, i) => {
    if (asked != null && TLP_RANK[asked] < TLP_RANK[floors[i]]) {
      throw new DragnetError('DRAGNET_TLP_CONFLICT', `${String(body.type)} at TLP ${asked} of ${target}, which this node holds at TLP ${floors[i]}: feedback is never looser than what it is about`, { property: 'tlp', object: target })
    }
  })
  const verdicts: Verdict[] = []
  for (const [i, { body, target }] of objects.entries()) {
    const tlp = asked ?? stricterTlp('green', floors[i])
    let recipients = to
    if (tlp === 'amber' || tlp === 'amber+strict') {
      const owner = await node.store.owner(target)
      const list = new Set(to ?? [])
      if (owner != null && owner !== node.peerId) list.add(owner)
      recipients = list.size > 0 ? [...list] : undefined
    }
    verdicts.push(...await node.publish([body], { tlp, ...(recipients != null ? { to: recipients } : {}) }))
  }
  return verdicts
}

/** `dragnet sight` / POST /api/sightings: a STIX 2.1 sighting of each object behind the target. */
export async function sight (node: DragnetNode, input: SightInput): Promise<Verdict[]> {
  const targets = await sightedObjects(node, input.target)
  const at = now()
  const objects = targets.map(target => {
    const body: Record<string, unknown> = { type: 'sighting', spec_version: '2.1', id: `sighting--${randomUUID()}`, created: at, modified: at, sighting_of_ref: target, count: input.count ?? 1 }
    if (input.first_seen != null) body.first_seen = input.first_seen
    if (input.last_seen != null) body.last_seen = input.last_seen
    if (body.first_seen == null && body.last_seen == null) { body.first_seen = at; body.last_seen = at }
    if (input.where != null) body.description = input.where
    return { body, target }
  })
  return await publishEach(node, objects, input.tlp, input.to)
}

/** `dragnet opinion` / POST /api/opinions: a STIX 2.1 opinion (agree or disagree) of one object. */
export async function opine (node: DragnetNode, input: OpinionInput): Promise<Verdict[]> {
  const target = await objectOf(node, input.target)
  if (target == null) {
    if (RECORD_ID.test(input.target) || STIX_ID.test(input.target)) throw new DragnetError('DRAGNET_NOT_FOUND', `no record ${input.target} on this node`, { property: 'target' })
    throw bad(`an opinion is about a record: give its record id or STIX id, not ${input.target}`, 'target')
  }
  const at = now()
  const body: Record<string, unknown> = { type: 'opinion', spec_version: '2.1', id: `opinion--${randomUUID()}`, created: at, modified: at, object_refs: [target], opinion: input.opinion }
  if (input.reason != null) body.explanation = input.reason
  return await publishEach(node, [{ body, target }], input.tlp, input.to)
}
