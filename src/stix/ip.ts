import { isIPv4, isIPv6 } from 'node:net'

/** An IP network in binary form: 4 or 16 address bytes with host bits cleared, and a prefix length. */
export interface IpNet {
  version: 4 | 6
  bytes: Uint8Array
  prefix: number
}

export function parseIpv4 (text: string): Uint8Array | null {
  if (!isIPv4(text)) return null
  const out = new Uint8Array(4)
  const parts = text.split('.')
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i])
  return out
}

export function parseIpv6 (text: string): Uint8Array | null {
  const zone = text.indexOf('%')
  if (zone >= 0) text = text.slice(0, zone)
  if (!isIPv6(text)) return null
  const out = new Uint8Array(16)
  let head = text
  let tail = ''
  const dbl = text.indexOf('::')
  if (dbl >= 0) {
    head = text.slice(0, dbl)
    tail = text.slice(dbl + 2)
  }
  const groups = (s: string): number[] => {
    if (s === '') return []
    const res: number[] = []
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const v4 = parseIpv4(part)!
        res.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3])
      } else {
        res.push(parseInt(part, 16))
      }
    }
    return res
  }
  const h = groups(head)
  const t = groups(tail)
  for (let i = 0; i < h.length; i++) { out[2 * i] = h[i] >> 8; out[2 * i + 1] = h[i] & 0xff }
  const start = 8 - t.length
  for (let i = 0; i < t.length; i++) { out[2 * (start + i)] = t[i] >> 8; out[2 * (start + i) + 1] = t[i] & 0xff }
  return out
}

export function parseIp (text: string): { version: 4 | 6, bytes: Uint8Array } | null {
  const v4 = parseIpv4(text)
  if (v4 != null) return { version: 4, bytes: v4 }
  const v6 = parseIpv6(text)
  if (v6 != null) return { version: 6, bytes: v6 }
  return null
}

/** Parses `addr` or `addr/prefix`; host bits are cleared. A bare address is a /32 or /128. */
export function parseIpNet (text: string): IpNet | null {
  const slash = text.indexOf('/')
  const addr = slash >= 0 ? text.slice(0, slash) : text
  const ip = parseIp(addr)
  if (ip == null) return null
  const max = ip.version === 4 ? 32 : 128
  let prefix = max
  if (slash >= 0) {
    const p = text.slice(slash + 1)
    if (!/^\d{1,3}$/.test(p)) return null
    prefix = Number(p)
    if (prefix > max) return null
  }
  return { version: ip.version, bytes: maskBytes(ip.bytes, prefix), prefix }
}

export function maskBytes (bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice()
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8))
    out[i] &= bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff
  }
  return out
}

export function formatIp (version: 4 | 6, bytes: Uint8Array): string {
  if (version === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  const g: number[] = []
  for (let i = 0; i < 8; i++) g.push((bytes[2 * i] << 8) | bytes[2 * i + 1])
  // RFC 5952: compress the longest run (length >= 2) of zero groups, leftmost on ties.
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i }
    i = j
  }
  const hex = g.map(x => x.toString(16))
  if (bestStart < 0) return hex.join(':')
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':')
}

/** Canonical text of a network: `a.b.c.d` / `x::y` for a single host, `net/prefix` otherwise. */
export function formatIpNet (net: IpNet): string {
  const addr = formatIp(net.version, net.bytes)
  return net.prefix === (net.version === 4 ? 32 : 128) ? addr : `${addr}/${net.prefix}`
}

export function ipNetContains (outer: IpNet, inner: IpNet): boolean {
  if (outer.version !== inner.version || outer.prefix > inner.prefix) return false
  const masked = maskBytes(inner.bytes, outer.prefix)
  for (let i = 0; i < masked.length; i++) if (masked[i] !== outer.bytes[i]) return false
  return true
}
