import fc from 'fast-check'
import { compareBounds, compareItems, fingerprintOf, type Bound, type ReconItem } from '../../../src/sync/recon/index.js'

export const MAX_TS = Number.MAX_SAFE_INTEGER

/** mulberry32: deterministic item sets from a fast-check seed, so large sets stay cheap */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type TsMode = 'wide' | 'dup' | 'edge' | 'year'

function tsFor (rand: () => number, mode: TsMode): number {
  switch (mode) {
    case 'dup': return Math.floor(rand() * 4)
    case 'edge': {
      const r = rand()
      return r < 0.3 ? 0 : r < 0.6 ? MAX_TS - Math.floor(rand() * 3) : Math.floor(rand() * MAX_TS)
    }
    case 'year': return 1_700_000_000_000 + Math.floor(rand() * 31_536_000_000)
    default: return Math.floor(rand() * 1_000_000)
  }
}

/** ids with long shared prefixes and zero tails now and then, to stress bound encoding */
export function idFor (rand: () => number): Uint8Array {
  const id = new Uint8Array(32)
  const r = rand()
  if (r < 0.2) {
    id[Math.floor(rand() * 32)] = 1 + Math.floor(rand() * 255)
    if (rand() < 0.5) id[0] = Math.floor(rand() * 2)
  } else if (r < 0.35) {
    id.fill(0xab)
    id[20 + Math.floor(rand() * 12)] = Math.floor(rand() * 256)
  } else {
    for (let i = 0; i < 32; i++) id[i] = Math.floor(rand() * 256)
  }
  return id
}

export function makeItems (rand: () => number, n: number, mode: TsMode): ReconItem[] {
  const out: ReconItem[] = []
  for (let i = 0; i < n; i++) out.push({ ts: tsFor(rand, mode), id: idFor(rand) })
  return out
}

export const hex = (id: Uint8Array): string => Buffer.from(id).toString('hex')

/** sorted, one item per id (reconciliation reports ids, so an id must name one item) */
export function uniqueById (items: ReconItem[]): ReconItem[] {
  const seen = new Set<string>()
  const out: ReconItem[] = []
  for (const x of items) {
    const h = hex(x.id)
    if (!seen.has(h)) {
      seen.add(h)
      out.push(x)
    }
  }
  return out.sort(compareItems)
}

export function sortedUnique (items: ReconItem[]): ReconItem[] {
  const s = [...items].sort(compareItems)
  return s.filter((x, i) => i === 0 || compareItems(s[i - 1], x) !== 0)
}

export function hexes (ids: Uint8Array[]): string[] {
  return ids.map(hex).sort()
}

export function idsOf (items: ReconItem[]): string[] {
  return items.map(x => hex(x.id)).sort()
}

export function inRange (x: ReconItem, lo: Bound, hi: Bound): boolean {
  return compareBounds(x, lo) >= 0 && compareBounds(x, hi) < 0
}

/** fingerprint from first principles: BigInt sum of little-endian ids mod 2^256 */
export function modelFingerprint (items: ReconItem[], lo: Bound, hi: Bound): Uint8Array {
  let sum = 0n
  let count = 0
  for (const x of items) {
    if (!inRange(x, lo, hi)) continue
    count++
    let v = 0n
    for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(x.id[i])
    sum = (sum + v) & ((1n << 256n) - 1n)
  }
  const limbs = new Uint32Array(8)
  for (let k = 0; k < 8; k++) limbs[k] = Number((sum >> BigInt(32 * k)) & 0xffffffffn)
  return fingerprintOf({ count, sum: limbs })
}

/** fast-check items with hand-picked edge values: ts 0, 2^53-1, collisions; ids sharing prefixes */
export const itemArb: fc.Arbitrary<ReconItem> = fc.record({
  ts: fc.oneof(fc.constantFrom(0, 1, 2, MAX_TS), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: MAX_TS })),
  id: fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.tuple(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff)).map(([k, v, fill]) => {
      const id = new Uint8Array(32).fill(fill)
      id[k] = v
      return id
    })
  )
})

/** a bound between or on items, or the extremes */
export function boundArb (items: fc.Arbitrary<ReconItem>): fc.Arbitrary<Bound> {
  return fc.oneof(
    fc.constant<Bound>({ ts: 0, id: new Uint8Array(0) }),
    fc.constant<Bound>({ ts: Number.POSITIVE_INFINITY, id: new Uint8Array(0) }),
    items.map(x => ({ ts: x.ts, id: x.id })),
    fc.tuple(items, fc.integer({ min: 0, max: 32 })).map(([x, n]) => ({ ts: x.ts, id: x.id.slice(0, n) }))
  )
}
