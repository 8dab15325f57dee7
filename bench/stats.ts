/** Latency percentiles (nearest-rank), in the unit of the samples. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentiles(samples: readonly number[]): Percentiles {
  if (!samples.length) return { p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[sorted.length - 1]! };
}
