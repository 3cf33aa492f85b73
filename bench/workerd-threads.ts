// CPU time of workerd's threads under a `wrangler dev` (Linux /proc): for the benchmarks that time
// what workerd itself spends on a request, whatever else the machine is running.
import { readdirSync, readFileSync } from 'node:fs';

function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/** The main threads (named "workerd", where the Workers' JavaScript runs) of the workerd processes under `root`. */
export function workerdMainThreads(root: number): string[] {
  return descendants(root)
    .filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd')
    .flatMap((pid) =>
      readdirSync(`/proc/${pid}/task`)
        .map((tid) => `/proc/${pid}/task/${tid}`)
        .filter((task) => readFileSync(`${task}/comm`, 'utf8').trim() === 'workerd'),
    );
}

/** Time the thread has spent on a CPU, in ms (schedstat: nanoseconds). */
export const threadCpuMs = (task: string) => Number(readFileSync(`${task}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
