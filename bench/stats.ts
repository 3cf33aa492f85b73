// Timing helpers for the benchmarks: medians over repeated runs, interleaved so noise hits both sides.
import { spawn } from 'node:child_process';

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

/**
 * Runs a command from `cwd` to its exit: its wall time in s, process start to exit, and its stdout
 * (stderr passes through; stdout too, with `echo`). A non-zero exit rejects, naming the command.
 */
export function timedProcess(
  command: string,
  args: string[],
  { cwd, echo = false }: { cwd: string; echo?: boolean },
): Promise<{ seconds: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (echo) process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ seconds: (performance.now() - start) / 1000, stdout })
        : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

/** "2026-12-06 14:20 UTC": when a bench's figures were taken. */
export function utcHour(date = new Date()): string {
  return `${date.toISOString().slice(0, 10)} ${date.toISOString().slice(11, 16)} UTC`;
}
