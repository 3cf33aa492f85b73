// Timing helpers for the benchmarks: medians over repeated runs, interleaved so noise hits both sides.

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs each case once per round, `rounds` times, after one warm-up round; returns ms medians. */
export async function compare(
  cases: Record<string, () => unknown | Promise<unknown>>,
  rounds: number,
): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let round = -1; round < rounds; round++) {
    for (const [name, fn] of Object.entries(cases)) {
      const start = performance.now();
      await fn();
      if (round >= 0) times[name].push(performance.now() - start);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}
