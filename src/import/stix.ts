import { canonicalJson, type Tlp } from '../record/index.js'
import { stixObjectsFromInput } from '../stix/index.js'
import type { ImportItem, ParsedImport } from './types.js'

/*
 * The TLP 1.0 marking definitions STIX 2.1 predefines (section 7.2.1.4). An object marked with
 * one of them asks for that TLP; TLP:WHITE is TLP 2.0's CLEAR.
 */
export const TLP_MARKINGS: Readonly<Record<string, Tlp>> = {
  'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9': 'clear',
  'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da': 'green',
  'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82': 'amber',
  'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed': 'red'
}

const STRICTNESS: Readonly<Record<Tlp, number>> = { clear: 0, green: 1, amber: 2, 'amber+strict': 3, red: 4 }

/** The strictest of two TLPs: two markings on one object leave it at the stricter. */
export function stricter (a: Tlp | undefined, b: Tlp): Tlp {
  return a == null || STRICTNESS[b] > STRICTNESS[a] ? b : a
}

function markedTlp (obj: unknown): Tlp | undefined {
  if (obj == null || typeof obj !== 'object') return undefined
  const refs = (obj as Record<string, unknown>).object_marking_refs
  if (!Array.isArray(refs)) return undefined
  let tlp: Tlp | undefined
  for (const r of refs) {
    const t = typeof r === 'string' ? TLP_MARKINGS[r] : undefined
    if (t != null) tlp = stricter(tlp, t)
  }
  return tlp
}

/**
 * STIX 2.1 content: a bundle, a bare array of objects or one object. Every object becomes an
 * item as it is (the node validates it); an object repeated byte-for-byte (in canonical form)
 * counts as a duplicate.
 */
export function parseStix (json: unknown): ParsedImport {
  const objects = stixObjectsFromInput(json)
  const items: ImportItem[] = []
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
    const tlp = markedTlp(obj)
    if (tlp != null) item.tlp = tlp
    items.push(item)
  })
  return { format: 'stix', values: objects.length, items, duplicates, skipped: [] }
}
