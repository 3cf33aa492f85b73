// The replica group's worker threads, launched before the group exists and without loading tfjs
// here: each thread spends about a second loading tsx, tfjs and the wasm backend, which it can do
// while the main thread loads its own modules, the model and the data. A thread then waits for the
// group's shared memory (ReplicaGroup.start in parallel.ts).
import { Worker } from 'node:worker_threads';

export interface ReplicaThread {
  rank: number;
  worker: Worker;
  /** Set if the thread failed or exited before a group took it over. */
  failure: Error | null;
}

/** Threads for ranks 1..workers−1. Unreferenced until a group adopts them: a refused command line exits at once. */
export function launchReplicaThreads(workers: number): ReplicaThread[] {
  const threads: ReplicaThread[] = [];
  for (let rank = 1; rank < workers; rank++) {
    const worker = new Worker(new URL('./replica-worker.mjs', import.meta.url), { workerData: { rank }, execArgv: [] });
    const thread: ReplicaThread = { rank, worker, failure: null };
    // Without a listener an early 'error' would be thrown in the main thread.
    worker.on('error', (e) => (thread.failure ??= e));
    worker.once('exit', (code) => (thread.failure ??= new Error(`worker ${rank} exited with code ${code}`)));
    worker.unref();
    threads.push(thread);
  }
  return threads;
}

let launched: { workers: number; threads: ReplicaThread[] } | null = null;

/** The trainer's first step: threads for a group of `workers`, for `adoptLaunched` to pick up. */
export function launchEarly(workers: number): void {
  launched ??= { workers, threads: launchReplicaThreads(workers) };
}

/** The threads `launchEarly` started if they are for a group of `workers` (else they are stopped). */
export function adoptLaunched(workers: number): ReplicaThread[] | undefined {
  const early = launched;
  launched = null;
  if (!early) return undefined;
  if (early.workers === workers) return early.threads;
  for (const thread of early.threads) void thread.worker.terminate();
  return undefined;
}
