// The Worker's forward pass (conv2 as Winograd, near ties exact) against its exact path (stock tfjs
// kernels) on the 10k MNIST test digits, in Node on the Worker's own modules: predictions equal,
// largest probability difference, near ties recomputed, and per-batch-size time of both paths.
// Run: npx tsx bench/winograd-equality.ts [digits=10000]
import './worker-modules.ts';
import { NUM_CLASSES, PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';

const { getRuntime } = await import('../src/worker/inference/runtime.ts');
const { classifier } = await getRuntime();
const mnist = loadMnistTest();
const n = Number(process.argv[2] ?? mnist.count);
const pixels = Float32Array.from(mnist.images.subarray(0, n * PIXEL_COUNT));
console.log(`conv2: ${classifier.conv2Kernel}`);
let [maxDiff, flips, correct] = [0, 0, 0];
const top = (p: Float32Array) => p.indexOf(Math.max(...p));
for (let from = 0; from < n; from += 256) {
  const count = Math.min(256, n - from);
  const x = pixels.subarray(from * PIXEL_COUNT, (from + count) * PIXEL_COUNT);
  const fast = await classifier.probabilities(x, count);
  const exact = await classifier.batchProbabilities(x, count, true);
  for (let i = 0; i < count; i++) {
    const a = fast.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    const b = exact.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    if (top(a) !== top(b)) flips++;
    if (top(a) === mnist.labels[from + i]) correct++;
    for (let d = 0; d < NUM_CLASSES; d++) maxDiff = Math.max(maxDiff, Math.abs(a[d] - b[d]));
  }
}
// Single digits through the fixed graph.
let singleDiff = 0;
for (let i = 0; i < Math.min(n, 500); i++) {
  const x = pixels.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT);
  const a = await classifier.probabilities(x, 1);
  const b = await classifier.batchProbabilities(x, 1, true);
  if (top(a) !== top(b)) flips++;
  for (let d = 0; d < NUM_CLASSES; d++) singleDiff = Math.max(singleDiff, Math.abs(a[d] - b[d]));
}
console.log(
  `${n} digits: ${flips} predictions differ, max |Δp| batch ${maxDiff.toExponential(2)}, single ${singleDiff.toExponential(2)}, accuracy ${((100 * correct) / n).toFixed(2)}%`,
);

const ms = (f: () => Promise<unknown>, reps: number) => async () => {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = process.cpuUsage();
    await f();
    const d = process.cpuUsage(t);
    times.push((d.user + d.system) / 1000);
  }
  return times.sort((a, b) => a - b)[times.length >> 1];
};
for (const size of [1, 8, 32, 256]) {
  const x = pixels.subarray(0, size * PIXEL_COUNT);
  const reps = size === 256 ? 9 : 41;
  const fast = await ms(() => classifier.probabilities(x, size), reps)();
  const exact = await ms(
    () => (size === 1 ? classifier.batchProbabilities(x, 1, true) : classifier.batchProbabilities(x, size, true)),
    reps,
  )();
  console.log(`batch ${size}: Winograd ${fast.toFixed(2)} ms, exact ${exact.toFixed(2)} ms (CPU, medians)`);
}
