import { loadContent, realisticIndicators } from '../../src/sim/data-source.js'
import type { StixObject } from '../../src/stix/types.js'

/** Benchmark content: real indicator values when the shared data is there; says which it used. */
export async function benchIndicators (n: number): Promise<StixObject[]> {
  const content = await loadContent()
  process.env.BENCH_DATA_SOURCE = content.origin === 'shared-data' ? `${content.values.length} real values (shared data)` : 'synthetic values (shared data not found)'
  return await realisticIndicators(n)
}
