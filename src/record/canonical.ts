import { DragnetError } from '../errors.js'

export { jsonDepth } from '../util/depth.js'

// RFC 8785 (JSON Canonicalization Scheme): object members sorted by UTF-16 code units, no
// whitespace, ES number serialisation, JSON.stringify string escaping. The `canonicalize`
// package implements the same scheme but its current major needs Node 22; the property test
// in test/unit/record compares this encoder with canonicalize@2 on random values.

export function canonicalJson (value: unknown): string {
  return encodeValue(value, '')
}

function encodeValue (value: unknown, path: string): string {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) {
        throw new DragnetError('DRAGNET_NOT_CANONICAL', `string at ${path || '/'} holds a lone surrogate`, { property: path })
      }
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) {
        throw new DragnetError('DRAGNET_NOT_CANONICAL', `number at ${path || '/'} is not finite`, { property: path })
      }
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ','
          out += encodeValue(value[i], `${path}/${i}`)
        }
        return out + ']'
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new DragnetError('DRAGNET_NOT_CANONICAL', `value at ${path || '/'} is not plain JSON`, { property: path })
      }
      const obj = value as Record<string, unknown>
      // Default sort compares UTF-16 code units, which is exactly what RFC 8785 asks for.
      const keys = Object.keys(obj).sort()
      let out = '{'
      let first = true
      for (const key of keys) {
        const v = obj[key]
        if (v === undefined) continue
        if (!first) out += ','
        first = false
        out += encodeValue(key, path) + ':' + encodeValue(v, `${path}/${key}`)
      }
      return out + '}'
    }
    default:
      throw new DragnetError('DRAGNET_NOT_CANONICAL', `value at ${path || '/'} of type ${typeof value} is not JSON`, { property: path })
  }
}

/**
 * Whether `text` is the canonical encoding of `parsed` (its JSON.parse result), and how deep it
 * nests. Fast path: keys already in canonical order at every level, every string well formed,
 * and the native JSON.stringify reproducing the text — then the text is canonical. Integer-like
 * keys (which JS objects reorder) fall back to the full canonical encoder.
 */
export function checkCanonical (text: string, parsed: unknown, maxDepth: number): { canonical: boolean, depth: number } {
  let depth = 0
  let needFull = false
  const stack: Array<[unknown, number]> = [[parsed, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return { canonical: false, depth }
      continue
    }
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'number' && Object.is(v, -0)) needFull = true
      continue
    }
    const level = d + 1
    if (level > depth) {
      depth = level
      if (depth > maxDepth) return { canonical: false, depth }
    }
    if (Array.isArray(v)) {
      for (const item of v) stack.push([item, level])
      continue
    }
    let prev: string | null = null
    for (const key in v as Record<string, unknown>) {
      if (prev !== null && !(prev < key)) needFull = true
      if (!key.isWellFormed()) return { canonical: false, depth }
      prev = key
      stack.push([(v as Record<string, unknown>)[key], level])
    }
  }
  if (!needFull && JSON.stringify(parsed) === text) return { canonical: true, depth }
  try {
    return { canonical: canonicalJson(parsed) === text, depth }
  } catch {
    return { canonical: false, depth }
  }
}
