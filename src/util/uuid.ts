import { createHash } from 'node:crypto'

/** A UUID (v4 layout) derived from a seed string, so generated content is reproducible. */
export function seededUuid (seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16], 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`
}
