// Worker threads start here, in plain JavaScript: Node 20 does not apply the parent's `--import tsx`
// hooks to a worker's entry file, so the worker registers tsx itself before loading TypeScript.
const started = performance.timeOrigin + performance.now();
const { register } = await import('tsx/esm/api');

register();
// Phase marks for `--timings`, reported with the ready message.
globalThis.__replicaMarks = [
  ['entry script running', started],
  ['tsx registered', performance.timeOrigin + performance.now()],
];
const { loadTfjs } = await import('../kernels/load-tfjs.mjs');
await loadTfjs();
await import('./replica-worker.ts');
