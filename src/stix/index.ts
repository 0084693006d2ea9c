import { analyzeObject, classifyValue, normalizeObservable } from './observables.js'
import type { PatternAst } from './pattern-ast.js'
import { parsePattern } from './pattern.js'
import type { Observable, StixObject } from './types.js'
import { checkStixObject } from './validate.js'
import { stageClock } from '../util/stages.js'

export type { Observable, ObservableKind, StixObject } from './types.js'
export type * from './pattern-ast.js'
export { compareVersionNames, parseStixInstant, parseStixTimestamp, stixInstantKey, type StixInstant } from './timestamp.js'
export { identifierType, MAX_STIX_DEPTH } from './validate.js'
export { localTlpMarkings, strictestTlpMarking, stricterTlp, tlpOfMarkingDefinition, isTlpLevel, TLP_RANK, TLP1_MARKINGS, TLP2_MARKINGS, TLP2_EXTENSION, type MarkingTlp, type TlpLevel } from './markings.js'
export { tlpOfMarking, tlp2MarkingDefinition, TLP2_CREATED, TLP2_MARKING_IDS } from './markings.js'
export { stixObjectsFromInput } from './input.js'
export { SCO_TYPES } from './observables.js'
export { classifyValue, normalizeObservable, parsePattern }

export interface StixAnalysis {
  /** the input, now known to be a valid STIX 2.1 object */
  object: StixObject
  /** observables it asserts (deduplicated, normalised) */
  observables: Observable[]
  /** SCO types it carries or names (see referencedScoTypes) */
  scoTypes: string[]
  /** the parsed pattern of an indicator with pattern_type "stix" */
  pattern?: PatternAst
}

/**
 * Validates a STIX 2.1 object. `where` names it in errors when it has no id (`objects[3]`).
 * Throws DRAGNET_NOT_STIX, DRAGNET_STIX_VERSION, DRAGNET_STIX_INVALID or DRAGNET_BAD_PATTERN,
 * each with `details.object` and `details.property`.
 */
export function validateStixObject (obj: unknown, where?: string): StixObject {
  return checkStixObject(obj, where).object
}

/** Validation, observables and SCO types in one pass, parsing an indicator's pattern once. */
export function analyzeStixObject (obj: unknown, where?: string): StixAnalysis {
  const clock = stageClock()
  const t0 = clock?.now() ?? 0
  const { object, pattern } = checkStixObject(obj, where)
  const t1 = clock?.add('stix', t0) ?? 0
  const { observables, scoTypes } = analyzeObject(object, pattern)
  clock?.add('observables', t1)
  return pattern === undefined ? { object, observables, scoTypes } : { object, observables, scoTypes, pattern }
}

function patternOf (obj: StixObject): PatternAst | undefined {
  return obj.type === 'indicator' && obj.pattern_type === 'stix' && typeof obj.pattern === 'string'
    ? parsePattern(obj.pattern, obj.id)
    : undefined
}

/**
 * Observables an object asserts, deduplicated: from an indicator's STIX pattern (positive `=`,
 * `IN`, and `ISSUBSET` on networks; never under `!=` or NOT), from an SCO itself, and from the
 * deprecated embedded `objects` of observed-data. Meant for validated objects; ingest should
 * call analyzeStixObject, which does not parse the pattern a second time.
 */
export function extractObservables (obj: StixObject): Observable[] {
  return analyzeObject(obj, patternOf(obj)).observables
}

/**
 * The SCO types an object carries or names: an SCO's own type; every object type in an
 * indicator's STIX pattern, plus the types its reference paths lead to (`email-message:from_ref`
 * reaches `email-addr`); the types of observed-data's embedded objects and object_refs.
 */
export function referencedScoTypes (obj: StixObject): string[] {
  return analyzeObject(obj, patternOf(obj)).scoTypes
}
