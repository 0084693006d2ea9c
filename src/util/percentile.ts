/*
 * One percentile for the simulator's report, the benches and the tests' latency bounds, so a
 * p99 means the same everywhere.
 */

/**
 * The nearest-rank percentile of `values` (any order; not modified): the smallest sample with at
 * least `p` % of the samples at or below it. NaN when there are none, so a bound checked against
 * it fails rather than passes.
 */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}
