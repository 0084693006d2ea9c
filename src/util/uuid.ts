import { createHash } from 'node:crypto'

/** A UUID (v4 layout) derived from a seed string, so generated content is reproducible. */
export function seededUuid (seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16], 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/**
 * A name-based UUID, version 5 (RFC 9562 section 5.5: SHA-1 of namespace ‖ name). STIX 2.1
 * recommends v5 for ids derived from content, so anyone can derive the same id.
 */
export function uuidv5 (name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex')
  if (ns.length !== 16) throw new TypeError(`not a UUID: ${namespace}`)
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest()
  h[6] = (h[6] & 0x0f) | 0x50
  h[8] = (h[8] & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}
