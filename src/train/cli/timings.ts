// `npm run train -- --timings`: when each phase of a run ended, from process start, and the CPU the
// whole process (every thread) had used by then. On a busy machine wall times mislead; CPU does not.
// Marks are always recorded (a few dozen, microseconds each); the table is printed only when asked.

interface Mark {
  label: string;
  /** ms since this process started. */
  wall: number;
  /** ms of user + system CPU of the process by then; null for marks a worker thread reported. */
  cpu: number | null;
}

const marks: Mark[] = [];

/** Milliseconds since the epoch, comparable across threads (each thread has its own timeOrigin). */
export const absoluteNow = (): number => performance.timeOrigin + performance.now();

export function mark(label: string): void {
  const { user, system } = process.cpuUsage();
  marks.push({ label, wall: performance.now(), cpu: (user + system) / 1000 });
}

/** Marks a worker thread took with `absoluteNow()`, placed on this process's clock. */
export function addThreadMarks(rank: number, threadMarks: readonly (readonly [string, number])[]): void {
  for (const [label, at] of threadMarks) {
    marks.push({ label: `  worker ${rank}: ${label}`, wall: at - performance.timeOrigin, cpu: null });
  }
}

mark('node + tsx started, first module evaluated');

/** The table: each mark's time since start, and the wall and CPU seconds since the previous main-thread mark. */
export function timingsTable(): string {
  const s = (ms: number) => (ms / 1000).toFixed(2).padStart(7);
  const rows = [`${'phase (ends at)'.padEnd(52)}     at  Δ wall   Δ CPU`];
  let previous = { wall: 0, cpu: 0 };
  for (const m of [...marks].sort((a, b) => a.wall - b.wall)) {
    if (m.cpu === null) {
      rows.push(`${m.label.padEnd(52)}${s(m.wall)}`);
      continue;
    }
    rows.push(`${m.label.padEnd(52)}${s(m.wall)}${s(m.wall - previous.wall)}${s(m.cpu - previous.cpu)}`);
    previous = { wall: m.wall, cpu: m.cpu };
  }
  return rows.join('\n');
}

/** Prints the table on stderr as the process exits (after the worker threads are gone). */
export function printTimingsAtExit(): void {
  process.once('exit', () => {
    mark('process exit');
    process.stderr.write(`\n${timingsTable()}\n`);
  });
}
