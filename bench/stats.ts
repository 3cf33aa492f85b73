// Timing helpers for the benchmarks: medians over repeated runs, interleaved so noise hits both sides.

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** This process's CPU time in ms (user + system, all threads): steadier than wall time on a shared machine. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs each case once per round, `rounds` times, after one warm-up round; returns ms medians of `clock`. */
export async function compare(
  cases: Record<string, () => unknown | Promise<unknown>>,
  rounds: number,
  clock: () => number = () => performance.now(),
): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let round = -1; round < rounds; round++) {
    for (const [name, fn] of Object.entries(cases)) {
      const start = clock();
      await fn();
      if (round >= 0) times[name].push(clock() - start);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}
