import { DragnetError } from '../errors.js'

/** Unsigned LEB128 up to 2^53 (protobuf-style varint). */
export function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

export function writeVarint (n: number, out: Uint8Array, offset: number): number {
  while (n >= 0x80) {
    out[offset++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  out[offset++] = n
  return offset
}

export function encodeVarint (n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n))
  writeVarint(n, out, 0)
  return out
}

/** Reads a varint at `offset`; returns [value, next offset], or null when the bytes end first. */
export function readVarint (buf: Uint8Array, offset: number, what = 'varint'): [number, number] | null {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    if (offset + i >= buf.length) return null
    const b = buf[offset + i]
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) {
      if (i > 0 && b === 0) throw new DragnetError('DRAGNET_BAD_REQUEST', `${what}: non-minimal varint`)
      if (value > Number.MAX_SAFE_INTEGER) throw new DragnetError('DRAGNET_BAD_REQUEST', `${what}: varint too large`)
      return [value, offset + i + 1]
    }
    scale *= 128
  }
  throw new DragnetError('DRAGNET_BAD_REQUEST', `${what}: varint too long`)
}

/** A cursor over a message for strict decoding: every read is bounds-checked. */
export class Reader {
  offset = 0
  constructor (readonly buf: Uint8Array, readonly what: string) {}

  get remaining (): number {
    return this.buf.length - this.offset
  }

  varint (): number {
    const r = readVarint(this.buf, this.offset, this.what)
    if (r == null) throw new DragnetError('DRAGNET_BAD_REQUEST', `${this.what}: truncated`)
    this.offset = r[1]
    return r[0]
  }

  byte (): number {
    if (this.offset >= this.buf.length) throw new DragnetError('DRAGNET_BAD_REQUEST', `${this.what}: truncated`)
    return this.buf[this.offset++]
  }

  bytes (n: number): Uint8Array {
    if (n < 0 || this.offset + n > this.buf.length) throw new DragnetError('DRAGNET_BAD_REQUEST', `${this.what}: truncated`)
    const out = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  end (): void {
    if (this.offset !== this.buf.length) throw new DragnetError('DRAGNET_BAD_REQUEST', `${this.what}: ${this.buf.length - this.offset} trailing bytes`)
  }
}

/** Growable output buffer for encoders. */
export class Writer {
  private buf: Uint8Array
  length = 0

  constructor (initial = 256) {
    this.buf = new Uint8Array(initial)
  }

  private ensure (n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }

  varint (n: number): this {
    this.ensure(9)
    this.length = writeVarint(n, this.buf, this.length)
    return this
  }

  byte (b: number): this {
    this.ensure(1)
    this.buf[this.length++] = b
    return this
  }

  bytes (b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
    return this
  }

  finish (): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}
