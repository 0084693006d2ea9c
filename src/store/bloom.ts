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

function hashesOf (idHex: string): Uint32Array {
  // Skip the 4 hex chars of multihash prefix; each 8 hex chars of digest is an independent hash.
  for (let i = 0; i < HASHES; i++) scratch[i] = parseInt(idHex.slice(4 + i * 8, 12 + i * 8), 16) >>> 0
  return scratch
}

export class IdBloom {
  private readonly layers: Layer[]

  constructor (initialCapacity = 1 << 20) {
    this.layers = [new Layer(initialCapacity)]
  }

  add (idHex: string): void {
    let top = this.layers[this.layers.length - 1]
    if (top.count >= top.capacity) {
      top = new Layer(top.capacity * 2)
      this.layers.push(top)
    }
    top.add(hashesOf(idHex))
  }

  mightHave (idHex: string): boolean {
    const h = hashesOf(idHex)
    for (const layer of this.layers) if (layer.has(h)) return true
    return false
  }
}

/** The same filter for arbitrary strings (STIX ids): two FNV-1a hashes, combined (Kirsch–Mitzenmacher). */
export class StringBloom {
  private readonly inner = new IdBloom()
  private readonly hex = new Uint32Array(2)

  private hashHex (s: string): string {
    let h1 = 0x811c9dc5
    let h2 = 0x01000193 ^ s.length
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 16777619)
      h2 = Math.imul(h2 ^ c, 2246822519)
    }
    this.hex[0] = h1 >>> 0
    this.hex[1] = h2 >>> 0
    let out = '1220'
    for (let i = 0; i < 7; i++) out += ((this.hex[0] + Math.imul(i, this.hex[1])) >>> 0).toString(16).padStart(8, '0')
    return out
  }

  add (s: string): void {
    this.inner.add(this.hashHex(s))
  }

  mightHave (s: string): boolean {
    return this.inner.mightHave(this.hashHex(s))
  }
}
