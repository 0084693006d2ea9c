import { DragnetError } from '../errors.js'
import { canonicalJson } from '../record/index.js'
import { localTlpMarkings, stixObjectsFromInput, strictestTlpMarking, TLP1_MARKINGS } from '../stix/index.js'
import { jsonDepth, MAX_DOCUMENT_DEPTH } from '../util/depth.js'
import type { ImportItem, ParsedImport, SkippedValue, UpgradedObject } from './types.js'
import { isStix20Bundle, looksStix20, upgradeStix20 } from './stix20.js'

/** The TLP 1.0 marking definitions STIX 2.1 predefines (TLP:WHITE is TLP 2.0's CLEAR). */
export const TLP_MARKINGS = TLP1_MARKINGS

/** Refuses a document deeper than any import walks, before anything walks it. */
export function checkDocumentDepth (json: unknown): void {
  if (jsonDepth(json, MAX_DOCUMENT_DEPTH) > MAX_DOCUMENT_DEPTH) {
    throw new DragnetError('DRAGNET_TOO_DEEP', `the input nests deeper than ${MAX_DOCUMENT_DEPTH} levels`)
  }
}

function objectsOf (json: unknown, bundle20: boolean): unknown[] {
  if (!bundle20) return stixObjectsFromInput(json)
  const objects = (json as Record<string, unknown>).objects
  if (objects === undefined) return []
  if (!Array.isArray(objects)) throw new DragnetError('DRAGNET_NOT_STIX', 'bundle: property objects of a bundle must be an array', { object: 'bundle', property: 'objects' })
  return objects
}

function idOf (obj: unknown): string | undefined {
  return obj != null && typeof obj === 'object' && typeof (obj as Record<string, unknown>).id === 'string' ? (obj as Record<string, unknown>).id as string : undefined
}

/**
 * STIX content: a bundle, a bare array of objects or one object. Every object becomes an item
 * as it is (the node validates it); an object repeated byte-for-byte (in canonical form) counts
 * as a duplicate. STIX 2.0 (a 2.0 bundle, or objects that are 2.0 by their spec_version) is
 * upgraded to 2.1 first (see stix20.ts): each item says what changed, and an object that cannot
 * be upgraded is skipped with the reason.
 */
export function parseStix (json: unknown): ParsedImport {
  checkDocumentDepth(json)
  const bundle20 = isStix20Bundle(json)
  const objects = objectsOf(json, bundle20)
  // TLP marking definitions of the whole bundle: the node sees the bundle in chunks.
  const markings = localTlpMarkings(objects)
  const items: ImportItem[] = []
  const skipped: SkippedValue[] = []
  const upgraded: UpgradedObject[] = []
  const seen = new Set<string>()
  let duplicates = 0
  objects.forEach((raw, i) => {
    const id = idOf(raw)
    const where = id != null ? `objects[${i}] ${id}` : `objects[${i}]`
    let obj = raw
    let changes: string[] | undefined
    if (bundle20 ? (raw as Record<string, unknown> | null)?.spec_version !== '2.1' : looksStix20(raw)) {
      const u = upgradeStix20(raw, `objects[${i}]`)
      if ('refused' in u) {
        skipped.push({ where, value: id ?? '', reason: 'stix-2.0-not-upgradable', detail: u.refused })
        return
      }
      obj = u.object
      changes = u.changes
    }
    let key: string | undefined
    try {
      key = canonicalJson(obj)
    } catch {
      key = undefined
    }
    if (key != null) {
      if (seen.has(key)) { duplicates++; return }
      seen.add(key)
    }
    const item: ImportItem = { object: obj as Record<string, unknown>, values: 1, where }
    try {
      const marked = strictestTlpMarking(obj, markings)
      if (marked != null) item.tlp = marked.tlp
    } catch (err) {
      skipped.push({ where, value: id ?? '', reason: `rejected:${(err as DragnetError).code}`, detail: (err as Error).message })
      return
    }
    items.push(item)
    if (changes != null) upgraded.push({ where, id: id ?? '', changes })
  })
  const out: ParsedImport = { format: 'stix', values: objects.length, items, duplicates, skipped }
  if (upgraded.length > 0 || (bundle20 && skipped.length > 0)) out.upgraded = upgraded
  return out
}
