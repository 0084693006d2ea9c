/*
 * "Do we already hold this id?" is asked for every record that arrives, and most answers are no
 * during catch-up. Record ids are sha-256 digests, uniformly random, so slices of the id serve as
 * the hash functions. Layers are added as the set grows (a scalable Bloom filter) so the
 * false-positive rate stays near 1% without rebuilding; a positive answer is confirmed in LevelDB.
 */
const BITS_PER_ITEM = 10
const HASHES = 7

class Layer {
  readonly bits: Uint32Array
  readonly mask: number
  readonly capacity: number
  count = 0

  constructor (capacity: number) {
    let size = 1024
    while (size < capacity * BITS_PER_ITEM) size *= 2
    this.bits = new Uint32Array(size / 32)
    this.mask = size - 1
    this.capacity = capacity
  }

  add (h: Uint32Array): void {
    for (let i = 0; i < HASHES; i++) {
      const b = h[i] & this.mask
      this.bits[b >>> 5] |= 1 << (b & 31)
    }
    this.count++
  }

  has (h: Uint32Array): boolean {
    for (let i = 0; i < HASHES; i++) {
      const b = h[i] & this.mask
      if ((this.bits[b >>> 5] & (1 << (b & 31))) === 0) return false
    }
    return true
  }
}

const scratch = new Uint32Array(HASHES)

function hexValue (c: number): number {
  // '0'-'9' → 0-9, 'a'-'f' → 10-15 (ids are lower-case hex)
  return c <= 57 ? c - 48 : c - 87
}

function hashesOf (idHex: string): Uint32Array {
  // Skip the 4 hex chars of multihash prefix; each 8 hex chars of digest is an independent hash.
  let at = 4
  for (let i = 0; i < HASHES; i++) {
    let w = 0
    for (let j = 0; j < 8; j++) w = (w << 4) | hexValue(idHex.charCodeAt(at++))
    scratch[i] = w >>> 0
  }
  return scratch
}

/** Bumped whenever the hashing changes: snapshots of filters built another way are not loaded. */
export const BLOOM_SCHEME = 2

export interface BloomSnapshot { layers: Array<{ capacity: number, count: number, bits: Uint32Array }> }

export class IdBloom {
  private readonly layers: Layer[]

  // Small to start (128 KiB): layers double as the store grows, so a node with few records (a
  // simulation runs hundreds) does not hold and fault in megabytes it never uses.
  constructor (initialCapacity = 1 << 16) {
    this.layers = [new Layer(initialCapacity)]
  }

  toSnapshot (): BloomSnapshot {
    return { layers: this.layers.map(l => ({ capacity: l.capacity, count: l.count, bits: l.bits })) }
  }

  static fromSnapshot (s: BloomSnapshot): IdBloom {
    const b = new IdBloom(1)
    b.layers.length = 0
    for (const l of s.layers) {
      const layer = new Layer(l.capacity)
      if (layer.bits.length !== l.bits.length) throw new Error('bloom snapshot does not match its capacity')
      layer.bits.set(l.bits)
      layer.count = l.count
      b.layers.push(layer)
    }
    return b
  }

  add (idHex: string): void {
    this.addHashes(hashesOf(idHex))
  }

  mightHave (idHex: string): boolean {
    return this.mightHaveHashes(hashesOf(idHex))
  }

  addHashes (h: Uint32Array): void {
    let top = this.layers[this.layers.length - 1]
    if (top.count >= top.capacity) {
      top = new Layer(top.capacity * 2)
      this.layers.push(top)
    }
    top.add(h)
  }

  mightHaveHashes (h: Uint32Array): boolean {
    for (const layer of this.layers) if (layer.has(h)) return true
    return false
  }
}

/** The same filter for arbitrary strings (STIX ids): two FNV-1a hashes, combined (Kirsch–Mitzenmacher). */
export class StringBloom {
  private readonly inner: IdBloom

  constructor (inner = new IdBloom()) {
    this.inner = inner
  }

  toSnapshot (): BloomSnapshot {
    return this.inner.toSnapshot()
  }

  static fromSnapshot (s: BloomSnapshot): StringBloom {
    return new StringBloom(IdBloom.fromSnapshot(s))
  }
  private readonly h = new Uint32Array(HASHES)

  private hashes (s: string): Uint32Array {
    let h1 = 0x811c9dc5
    let h2 = 0x01000193 ^ s.length
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 16777619)
      h2 = Math.imul(h2 ^ c, 2246822519)
    }
    for (let i = 0; i < HASHES; i++) this.h[i] = (h1 + Math.imul(i, h2)) >>> 0
    return this.h
  }

  add (s: string): void {
    this.inner.addHashes(this.hashes(s))
  }

  mightHave (s: string): boolean {
    return this.inner.mightHaveHashes(this.hashes(s))
  }
}
