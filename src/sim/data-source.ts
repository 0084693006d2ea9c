import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { classifyValue, stixObjectsFromInput } from '../stix/index.js'
import type { StixObject } from '../stix/types.js'
import { indicator, type IndicatorInit } from './stix-factory.js'

/**
 * Realistic content for simulations and benchmarks: real indicator values and STIX objects from
 * the team's shared data (DRAGNET_SHARED_DATA, or ../shared/data beside the checkout). Without
 * it, values are synthesised in the same shapes, and the caller is told so.
 */
export function sharedDataDir (): string | null {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [process.env.DRAGNET_SHARED_DATA]
  let dir = here
  for (let i = 0; i < 5; i++) {
    candidates.push(join(dir, '..', 'shared', 'data'))
    dir = dirname(dir)
  }
  for (const c of candidates) if (c != null && c !== '' && existsSync(join(c, 'SOURCES.md'))) return resolve(c)
  return null
}

export interface ContentSource {
  origin: 'shared-data' | 'synthetic'
  values: Array<{ kind: IndicatorInit['kind'], value: string, family: string }>
  stix: StixObject[]
}

let cached: ContentSource | null = null

/** Indicator values from the maltrail lists (domains, IPs, URLs) and STIX objects from the bundles. */
export async function loadContent (): Promise<ContentSource> {
  if (cached != null) return cached
  const dir = sharedDataDir()
  if (dir == null) {
    cached = { origin: 'synthetic', values: synthValues(20_000), stix: [] }
    return cached
  }
  const values: ContentSource['values'] = []
  const seen = new Set<string>()
  const trails = join(dir, 'iocs', 'maltrail')
  for (const f of (await readdir(trails)).filter(n => n.endsWith('.txt')).sort()) {
    const family = f.replace(/\.txt$/, '').replace(/^.*__/, '')
    for (let line of (await readFile(join(trails, f), 'utf8')).split('\n')) {
      line = line.trim()
      if (line === '' || line.startsWith('#')) continue
      // Trails mix bare domains, IP:port, URLs and paths; keep what names one observable.
      let v = line.split(/\s+/)[0]
      if (!/^[a-z]+:\/\//i.test(v)) v = v.replace(/:\d+$/, '').replace(/\/.*$/, '')
      const o = classifyValue(v)
      if (o == null || seen.has(o.value)) continue
      if (o.kind !== 'ipv4' && o.kind !== 'domain' && o.kind !== 'url' && o.kind !== 'ipv6') continue
      seen.add(o.value)
      values.push({ kind: o.kind, value: o.value, family })
    }
  }
  const stix: StixObject[] = []
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name))
      else if (e.name.endsWith('.json')) {
        try {
          for (const o of stixObjectsFromInput(JSON.parse(await readFile(join(d, e.name), 'utf8')))) stix.push(o as StixObject)
        } catch { /* not STIX 2.1 content: the data set has licence files and such */ }
      }
    }
  }
  await walk(join(dir, 'stix'))
  cached = { origin: 'shared-data', values, stix }
  return cached
}

function synthValues (n: number): ContentSource['values'] {
  const out: ContentSource['values'] = []
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) out.push({ kind: 'ipv4', value: `203.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, family: 'synthetic' })
    else if (i % 3 === 1) out.push({ kind: 'domain', value: `c2-${i.toString(36)}.example-bad${i % 97}.net`, family: 'synthetic' })
    else out.push({ kind: 'url', value: `http://dl-${i.toString(36)}.example-bad${i % 89}.org/gate.php?id=${i}`, family: 'synthetic' })
  }
  return out
}

/** `n` distinct indicator objects with real values (cycling with fresh ids if n exceeds the pool). */
export async function realisticIndicators (n: number, seed = 'bench'): Promise<StixObject[]> {
  const { values } = await loadContent()
  const out: StixObject[] = []
  for (let i = 0; i < n; i++) {
    const v = values[i % values.length]
    out.push(indicator({
      kind: v.kind,
      value: v.value,
      seed: `${seed}:${i}`,
      name: `${v.family} ${v.kind}`,
      description: `${v.family} infrastructure reported in public sources (maltrail static trail)`,
      labels: [v.family, 'c2'],
      confidence: 50 + (i % 50)
    }))
  }
  return out
}
