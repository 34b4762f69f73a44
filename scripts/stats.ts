// Summary figures of measured samples, for the benchmarks' tables.

/** The median of sorted samples (the mean of the two middle ones when there is an even number). */
export function median(sorted: readonly number[]): number {
    const n = sorted.length;
    return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/**
 * The nearest-rank percentile of sorted samples: the smallest sample with at least p % of them at or
 * below it. With 20 samples p95 is the 19th and p99 the 20th, the maximum: no interpolation invents
 * a figure that was never measured.
 */
export function percentile(sorted: readonly number[], p: number): number {
    return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}
