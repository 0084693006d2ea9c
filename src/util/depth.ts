/*
 * Nesting depth of untrusted JSON, measured without recursion. JSON.parse in V8 does not
 * recurse, but almost everything after it does (canonical encoding, STIX checks, JSON.stringify,
 * YAML's toJS): a 35 KB body of brackets is 17,000 levels and overflows any of them. Every
 * decoder measures depth first and refuses what is deeper than it will walk.
 */

/** Deepest document (API body, input file, policy file) any decoder accepts. */
export const MAX_DOCUMENT_DEPTH = 300

/**
 * Depth of nested arrays/objects; a scalar has depth 0. Stops counting once past `limit`, so
 * the answer is exact up to `limit` and only "more than `limit`" beyond it.
 */
export function jsonDepth (value: unknown, limit: number): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    const depth = d + 1
    if (depth > max) {
      max = depth
      if (max > limit) return max
    }
    if (Array.isArray(v)) {
      for (const item of v) if (item !== null && typeof item === 'object') stack.push([item, depth])
    } else {
      for (const key in v as Record<string, unknown>) {
        const item = (v as Record<string, unknown>)[key]
        if (item !== null && typeof item === 'object') stack.push([item, depth])
      }
    }
  }
  return max
}
