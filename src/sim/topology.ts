import { Rng } from './random.js'

export type Edge = [number, number]
export type TopologyName = 'full' | 'ring' | `random:${number}` | 'scale-free'

function key (a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`
}

/**
 * Undirected edges over nodes 0..n-1, always connected:
 *   full         every pair
 *   ring         i — i+1
 *   random:K     a random graph of average degree about K (a random spanning tree first, so it is connected)
 *   scale-free   Barabási–Albert preferential attachment, 2 links per new node
 */
export function topology (name: string, n: number, seed: number | string): Edge[] {
  const rng = new Rng(`topology:${name}:${n}:${seed}`)
  const edges = new Map<string, Edge>()
  const add = (a: number, b: number): void => { if (a !== b && !edges.has(key(a, b))) edges.set(key(a, b), a < b ? [a, b] : [b, a]) }
  if (n < 2) return []
  if (name === 'full') {
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) add(a, b)
  } else if (name === 'ring') {
    for (let a = 0; a < n; a++) add(a, (a + 1) % n)
  } else if (name.startsWith('random:')) {
    const k = Number(name.slice(7))
    if (!Number.isFinite(k) || k < 1) throw new Error(`bad topology ${name}: random:K needs a degree K >= 1`)
    const order = rng.shuffle([...Array(n).keys()])
    for (let i = 1; i < n; i++) add(order[i], order[rng.int(i)])
    const target = Math.min(Math.round(n * k / 2), n * (n - 1) / 2)
    const degree = new Array(n).fill(0)
    for (const [a, b] of edges.values()) { degree[a]++; degree[b]++ }
    let guard = 0
    while (edges.size < target && guard++ < target * 50) {
      // Prefer low-degree ends so degrees stay near K rather than a few hubs.
      const a = rng.int(n)
      const b = rng.int(n)
      if (a === b || edges.has(key(a, b)) || degree[a] >= k + 1 || degree[b] >= k + 1) continue
      add(a, b); degree[a]++; degree[b]++
    }
  } else if (name === 'scale-free') {
    const ends: number[] = []
    add(0, 1); ends.push(0, 1)
    for (let i = 2; i < n; i++) {
      const links = Math.min(2, i)
      const chosen = new Set<number>()
      while (chosen.size < links) chosen.add(ends[rng.int(ends.length)])
      for (const j of chosen) { add(i, j); ends.push(i, j) }
    }
  } else {
    throw new Error(`unknown topology ${name}: use full, ring, random:K or scale-free`)
  }
  return [...edges.values()]
}

export function neighbours (n: number, edges: Edge[]): number[][] {
  const out: number[][] = Array.from({ length: n }, () => [])
  for (const [a, b] of edges) { out[a].push(b); out[b].push(a) }
  return out
}
