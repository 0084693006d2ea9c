import { DragnetError } from '../errors.js'
import { canonicalJson } from '../record/index.js'
import { localTlpMarkings, stixObjectsFromInput, strictestTlpMarking, TLP1_MARKINGS } from '../stix/index.js'
import { jsonDepth, MAX_DOCUMENT_DEPTH } from '../util/depth.js'
import type { ImportItem, ParsedImport, SkippedValue } from './types.js'

/** The TLP 1.0 marking definitions STIX 2.1 predefines (TLP:WHITE is TLP 2.0's CLEAR). */
export const TLP_MARKINGS = TLP1_MARKINGS

/** Refuses a document deeper than any import walks, before anything walks it. */
export function checkDocumentDepth (json: unknown): void {
  if (jsonDepth(json, MAX_DOCUMENT_DEPTH) > MAX_DOCUMENT_DEPTH) {
    throw new DragnetError('DRAGNET_TOO_DEEP', `the input nests deeper than ${MAX_DOCUMENT_DEPTH} levels`)
  }
}

/**
 * STIX 2.1 content: a bundle, a bare array of objects or one object. Every object becomes an
 * item as it is (the node validates it); an object repeated byte-for-byte (in canonical form)
 * counts as a duplicate.
 */
export function parseStix (json: unknown): ParsedImport {
  checkDocumentDepth(json)
  const objects = stixObjectsFromInput(json)
  // TLP marking definitions of the whole bundle: the node sees the bundle in chunks.
  const markings = localTlpMarkings(objects)
  const items: ImportItem[] = []
  const skipped: SkippedValue[] = []
  const seen = new Set<string>()
  let duplicates = 0
  objects.forEach((obj, i) => {
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
    const id = obj != null && typeof obj === 'object' && typeof (obj as Record<string, unknown>).id === 'string' ? (obj as Record<string, unknown>).id as string : undefined
    const item: ImportItem = { object: obj as Record<string, unknown>, values: 1, where: id != null ? `objects[${i}] ${id}` : `objects[${i}]` }
    try {
      const marked = strictestTlpMarking(obj, markings)
      if (marked != null) item.tlp = marked.tlp
    } catch (err) {
      skipped.push({ where: item.where, value: id ?? '', reason: `rejected:${(err as DragnetError).code}`, detail: (err as Error).message })
      return
    }
    items.push(item)
  })
  return { format: 'stix', values: objects.length, items, duplicates, skipped }
}
