import { createHash } from 'node:crypto'
import { ID_BYTES } from './item.js'

/*
 * The additive part of a fingerprint: the sum of a range's ids, each read as a little-endian
 * 256-bit integer, mod 2^256, kept as eight 32-bit limbs (limb 0 least significant). Sums are
 * additive and commutative, so the index caches them per subtree and an overlay view can add
 * or subtract a few items without touching the rest.
 *
 * Accumulators are Float64Array(9): [count, limb0..limb7] with limbs left unnormalised (a limb
 * may exceed 2^32 or go negative). A double holds integers up to 2^53 exactly, so an
 * accumulator can take 2^20 additions of 32-bit limbs before it must be normalised; every
 * caller here adds at most a few thousand terms.
 */

export const LIMBS = 8
const TWO32 = 4294967296

/** The fast path reads stored ids through a Uint32Array view, which is host-endian. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

export interface RangeSummary {
  count: number
  /** normalised 256-bit sum of ids, 8 little-endian 32-bit limbs */
  sum: Uint32Array
}

export function newAcc (): Float64Array {
  return new Float64Array(1 + LIMBS)
}

/** The id's limbs, read little-endian from bytes whatever the host's byte order. */
export function idWords (ids: Uint8Array, off = 0): Uint32Array {
  const w = new Uint32Array(LIMBS)
  for (let k = 0; k < LIMBS; k++) {
    const o = off + 4 * k
    w[k] = (ids[o] | (ids[o + 1] << 8) | (ids[o + 2] << 16) | (ids[o + 3] << 24)) >>> 0
  }
  return w
}

/** acc += sign * (count, sums[off..off+8)) */
export function accAddSum (acc: Float64Array, count: number, sums: Uint32Array, off: number, sign: number): void {
  acc[0] += sign * count
  for (let k = 0; k < LIMBS; k++) acc[1 + k] += sign * sums[off + k]
}

/** acc += sign * items [from, to) of a packed id array (with its Uint32Array view). */
export function accAddIds (acc: Float64Array, ids: Uint8Array, words: Uint32Array, from: number, to: number, sign: number): void {
  if (to <= from) return
  let c0 = 0
  let c1 = 0
  let c2 = 0
  let c3 = 0
  let c4 = 0
  let c5 = 0
  let c6 = 0
  let c7 = 0
  if (LITTLE_ENDIAN) {
    for (let i = from; i < to; i++) {
      const b = i * LIMBS
      c0 += words[b]
      c1 += words[b + 1]
      c2 += words[b + 2]
      c3 += words[b + 3]
      c4 += words[b + 4]
      c5 += words[b + 5]
      c6 += words[b + 6]
      c7 += words[b + 7]
    }
  } else {
    for (let i = from; i < to; i++) {
      const w = idWords(ids, i * ID_BYTES)
      c0 += w[0]
      c1 += w[1]
      c2 += w[2]
      c3 += w[3]
      c4 += w[4]
      c5 += w[5]
      c6 += w[6]
      c7 += w[7]
    }
  }
  acc[0] += sign * (to - from)
  acc[1] += sign * c0
  acc[2] += sign * c1
  acc[3] += sign * c2
  acc[4] += sign * c3
  acc[5] += sign * c4
  acc[6] += sign * c5
  acc[7] += sign * c6
  acc[8] += sign * c7
}

/** acc += sign * one loose id */
export function accAddId (acc: Float64Array, id: Uint8Array, sign: number): void {
  const w = idWords(id)
  acc[0] += sign
  for (let k = 0; k < LIMBS; k++) acc[1 + k] += sign * w[k]
}

/** Carries the limbs into [0, 2^32) each, mod 2^256 (negative limbs borrow). */
export function normalizeInto (acc: Float64Array, out: Uint32Array, off: number): void {
  let carry = 0
  for (let k = 0; k < LIMBS; k++) {
    const v = acc[1 + k] + carry
    const q = Math.floor(v / TWO32)
    out[off + k] = v - q * TWO32
    carry = q
  }
}

export function summaryOf (acc: Float64Array): RangeSummary {
  const sum = new Uint32Array(LIMBS)
  normalizeInto(acc, sum, 0)
  return { count: acc[0], sum }
}

/** dst[doff..] = dst[doff..] + sign * src[soff..], mod 2^256, both normalised. */
export function sumAddInto (dst: Uint32Array, doff: number, src: Uint32Array, soff: number, sign: number): void {
  let carry = 0
  for (let k = 0; k < LIMBS; k++) {
    const v = dst[doff + k] + sign * src[soff + k] + carry
    const q = Math.floor(v / TWO32)
    dst[doff + k] = v - q * TWO32
    carry = q
  }
}

export const FINGERPRINT_BYTES = 16
const FP_DOMAIN = new TextEncoder().encode('dragnet/recon/v1/fingerprint\n')
const fpScratch = new Uint8Array(8 + 4 * LIMBS)
const fpView = new DataView(fpScratch.buffer)

/*
 * What goes on the wire is H(domain || count || sum) truncated to 16 bytes, never the raw sum:
 * - the count is hashed in, so sets of different sizes whose sums collide (an item whose id
 *   is 0, or ids that add up to 2^256) still differ;
 * - hashing removes the linear structure of the sum, so truncating it cannot hide differences
 *   confined to the dropped limbs, and chance collisions are at the 2^-128 level per compare;
 * - the domain separates these digests from every other sha-256 use in dragnet.
 * What hashing cannot fix: a member who can mint many signed records could search (Wagner's
 * k-tree algorithm) for two equal-sized record sets with equal id sums and hide one behind the
 * other from anti-entropy. That only hides that member's own records from catch-up, and gossip
 * still carries them; it is the price of an incrementally maintained, additive fingerprint.
 */
export function fingerprintOf (s: RangeSummary): Uint8Array {
  fpView.setUint32(0, s.count % TWO32, true)
  fpView.setUint32(4, Math.floor(s.count / TWO32), true)
  for (let k = 0; k < LIMBS; k++) fpView.setUint32(8 + 4 * k, s.sum[k], true)
  const h = createHash('sha256')
  h.update(FP_DOMAIN)
  h.update(fpScratch)
  return new Uint8Array(h.digest().subarray(0, FINGERPRINT_BYTES))
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
