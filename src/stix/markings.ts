import { DragnetError } from '../errors.js'
import type { StixObject } from './types.js'

/*
 * TLP data markings on STIX objects (STIX 2.1 section 7.2; the TLP 2.0 marking definitions of
 * OASIS cti-stix-common-objects, extension-definition--60a3c5c5). A record's TLP must never be
 * looser than the strictest TLP marking on its body, so this module answers one question: which
 * is the strictest TLP an object is marked with, from
 * - the predefined TLP 1.0 and TLP 2.0 marking-definition ids,
 * - marking-definition objects that travel with it (a bundle's own TLP definitions, in the TLP 2.0
 *   `extensions` / `name` form or the TLP 1.0 `definition_type: tlp` form),
 * - both `object_marking_refs` and `granular_markings` (a marked part is part of the record).
 * The record layer names the same five levels `Tlp`; this layer sits below it and spells them out.
 */

export type TlpLevel = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red'

export const TLP_RANK: Readonly<Record<TlpLevel, number>> = { clear: 0, green: 1, amber: 2, 'amber+strict': 3, red: 4 }

/** TLP 1.0 marking definitions predefined by STIX 2.1 (7.2.1.4); TLP:WHITE is TLP 2.0's CLEAR. */
export const TLP1_MARKINGS: Readonly<Record<string, TlpLevel>> = {
  'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9': 'clear',
  'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da': 'green',
  'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82': 'amber',
  'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed': 'red'
}

/** TLP 2.0 marking definitions (cti-stix-common-objects, extension-definition-specifications/tlp-2.0). */
export const TLP2_MARKINGS: Readonly<Record<string, TlpLevel>> = {
  'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487': 'clear',
  'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb': 'green',
  'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421': 'amber',
  'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003': 'amber+strict',
  'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1': 'red'
}

/** The extension a TLP 2.0 marking definition carries its level in (`tlp_2_0`). */
export const TLP2_EXTENSION = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d'

const PREDEFINED: Readonly<Record<string, TlpLevel>> = { ...TLP1_MARKINGS, ...TLP2_MARKINGS }

export function isTlpLevel (v: unknown): v is TlpLevel {
  return typeof v === 'string' && Object.hasOwn(TLP_RANK, v)
}

/** The stricter of two levels (either may be absent). */
export function stricterTlp<T extends TlpLevel | undefined> (a: T, b: TlpLevel | undefined): T | TlpLevel {
  if (b == null) return a
  return a == null || TLP_RANK[b] > TLP_RANK[a] ? b : a
}

/** `TLP:RED`, `TLP:AMBER+STRICT`, `TLP:WHITE` … as TLP 2.0 names marking definitions. */
function levelOfName (name: string): TlpLevel | undefined {
  const m = /^tlp:\s*([a-z+]+)$/i.exec(name.trim())
  if (m == null) return undefined
  const t = m[1].toLowerCase()
  return t === 'white' ? 'clear' : isTlpLevel(t) ? t : undefined
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * The TLP level a marking-definition object defines: from its predefined id, its TLP 2.0
 * extension, a `TLP:<LEVEL>` name, or its TLP 1.0 `definition`; the strictest when they
 * disagree. Undefined for markings that are not TLP (statements, ACS …). Throws
 * DRAGNET_STIX_INVALID for a TLP definition whose level is none of the five.
 */
export function tlpOfMarkingDefinition (def: unknown): TlpLevel | undefined {
  if (!isObject(def) || def.type !== 'marking-definition') return undefined
  const id = typeof def.id === 'string' ? def.id : '(marking-definition)'
  const unknown = (property: string, value: unknown): never => {
    throw new DragnetError('DRAGNET_STIX_INVALID', `${id}: property ${property} names TLP level ${JSON.stringify(value)}, which is none of clear, green, amber, amber+strict, red (white)`, { object: id, property })
  }
  let level: TlpLevel | undefined = PREDEFINED[id]
  const ext = isObject(def.extensions) ? def.extensions[TLP2_EXTENSION] : undefined
  if (isObject(ext)) {
    const v = typeof ext.tlp_2_0 === 'string' ? ext.tlp_2_0.toLowerCase() : ext.tlp_2_0
    level = stricterTlp(level, isTlpLevel(v) ? v : unknown(`extensions.${TLP2_EXTENSION}.tlp_2_0`, v))
  }
  if (def.definition_type === 'tlp') {
    const v = isObject(def.definition) ? def.definition.tlp : undefined
    const t = typeof v === 'string' ? v.toLowerCase() : v
    level = stricterTlp(level, t === 'white' ? 'clear' : isTlpLevel(t) ? t : unknown('definition.tlp', v))
  }
  if (typeof def.name === 'string') level = stricterTlp(level, levelOfName(def.name))
  return level
}

/**
 * The TLP marking definitions among objects that travel together (one bundle, one request),
 * by id. Non-TLP markings are left out; a TLP definition whose level cannot be read maps to
 * its error, which strictestTlpMarking throws for the objects that refer to it.
 */
export function localTlpMarkings (objects: readonly unknown[]): Map<string, TlpLevel | DragnetError> {
  const out = new Map<string, TlpLevel | DragnetError>()
  for (const o of objects) {
    if (!isObject(o) || o.type !== 'marking-definition' || typeof o.id !== 'string') continue
    let level: TlpLevel | DragnetError | undefined
    try {
      level = tlpOfMarkingDefinition(o)
    } catch (err) {
      level = err as DragnetError
    }
    if (level == null) continue
    const prev = out.get(o.id)
    if (prev instanceof DragnetError) continue
    out.set(o.id, level instanceof DragnetError || prev == null ? level : stricterTlp(prev, level))
  }
  return out
}

export interface MarkingTlp {
  /** the strictest TLP level the object is marked with */
  tlp: TlpLevel
  /** the marking-definition id that asks for it */
  marking: string
  /** where the object refers to it: `object_marking_refs` or `granular_markings[i]` */
  property: string
}

/**
 * The strictest TLP marking on an object (object-level and granular markings), resolving
 * bundle-local definitions through `local` (see localTlpMarkings). Undefined when the object
 * carries no TLP marking. Tolerates unvalidated input; throws DRAGNET_STIX_INVALID when the
 * object refers to a local TLP definition whose level cannot be read.
 */
export function strictestTlpMarking (obj: unknown, local: ReadonlyMap<string, TlpLevel | DragnetError> = new Map()): MarkingTlp | undefined {
  if (!isObject(obj)) return undefined
  let best: MarkingTlp | undefined
  const consider = (ref: unknown, property: string): void => {
    if (typeof ref !== 'string') return
    const here = local.get(ref)
    if (here instanceof DragnetError) {
      const object = typeof obj.id === 'string' ? obj.id : '(object)'
      throw new DragnetError('DRAGNET_STIX_INVALID', `${object}: property ${property} refers to ${ref}, a TLP marking whose level cannot be read (${here.message})`, { object, property })
    }
    const level = stricterTlp(PREDEFINED[ref], here)
    if (level != null && (best == null || TLP_RANK[level] > TLP_RANK[best.tlp])) best = { tlp: level, marking: ref, property }
  }
  if (Array.isArray(obj.object_marking_refs)) for (const r of obj.object_marking_refs) consider(r, 'object_marking_refs')
  if (Array.isArray(obj.granular_markings)) {
    obj.granular_markings.forEach((g, i) => { if (isObject(g)) consider(g.marking_ref, `granular_markings[${i}]`) })
  }
  return best
}

// ------------------------------------------------------------------ serving the standard objects

/** The TLP 2.0 marking-definition id of each level (TLP2_MARKINGS the other way round). */
export const TLP2_MARKING_IDS: Readonly<Record<TlpLevel, string>> = Object.freeze(Object.fromEntries(Object.entries(TLP2_MARKINGS).map(([id, level]) => [level, id])) as Record<TlpLevel, string>)

/** `created` of every TLP 2.0 marking definition, as OASIS publishes them (examples/tlp-*.json). */
export const TLP2_CREATED = '2022-10-01T00:00:00.000Z'

const TLP2_NAMES: Readonly<Record<TlpLevel, string>> = { clear: 'TLP:CLEAR', green: 'TLP:GREEN', amber: 'TLP:AMBER', 'amber+strict': 'TLP:AMBER+STRICT', red: 'TLP:RED' }

/** The TLP level a predefined TLP 1.0 or 2.0 marking-definition id stands for; undefined for any other id. */
export function tlpOfMarking (id: string): TlpLevel | undefined {
  return Object.hasOwn(PREDEFINED, id) ? PREDEFINED[id] : undefined
}

/**
 * The standard TLP 2.0 marking-definition object of a level, exactly as OASIS publishes it
 * (cti-stix-common-objects, extension-definition-specifications/tlp-2.0/examples), a fresh copy.
 * TLP 2.0 definitions are not predefined by STIX 2.1: a bundle that references one carries it.
 */
export function tlp2MarkingDefinition (level: TlpLevel): StixObject {
  return {
    type: 'marking-definition',
    spec_version: '2.1',
    id: TLP2_MARKING_IDS[level],
    created: TLP2_CREATED,
    name: TLP2_NAMES[level],
    extensions: { [TLP2_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: level } }
  }
}
