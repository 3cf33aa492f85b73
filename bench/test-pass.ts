// The pass over the 10k test digits that the trainer makes every epoch and once more on the stored
// weights: the trainer's forward pass (src/train/replicas/network.ts, conv2 as Winograd) against stock tfjs
// (`tf.loadLayersModel` + `predict`) on the committed model, one thread each, interleaved; CPU ms
// medians, the ratio, and how many of the 10,000 predictions differ.
// Run: npx tsx bench/test-pass.ts [rounds]
import * as tf from '@tensorflow/tfjs';
import { MODEL_DIR, NUM_CLASSES } from '../src/shared/model-spec.ts';
import { loadSplitSync } from '../src/train/data/mnist.ts';
import { loadStoredModel, readModelDir } from '../src/train/formats/model-dir.ts';
import { useWasmBackend } from '../src/train/kernels/backend.ts';
import { evaluateRange, PARAMS } from '../src/train/replicas/network.ts';
import { compare, cpuMs } from './stats.ts';

const rounds = Number(process.argv[2] ?? 3);
await useWasmBackend();
const test = loadSplitSync('t10k');
const model = await loadStoredModel(await readModelDir(MODEL_DIR));
const byName = new Map(model.weights.map((w) => [w.originalName ?? w.name, w.read()]));
const params = PARAMS.map((p) => byName.get(p.name) as tf.Tensor);
const x = tf.tensor4d(
  Float32Array.from(test.images, (v) => v / 255),
  [test.count, 28, 28, 1],
);
const ours = new Float32Array(test.count * NUM_CLASSES);
let stock: Float32Array = new Float32Array(0);

const t = await compare(
  {
    'stock tfjs (loadLayersModel, predict)': () => {
      const out = model.predict(x, { batchSize: 500 }) as tf.Tensor;
      stock = out.dataSync() as Float32Array;
      out.dispose();
    },
    'trainer (network.ts, Winograd)': () => evaluateRange(params, test, 0, test.count, { probabilities: ours }),
  },
  rounds,
  cpuMs,
);
let differ = 0;
let maxDifference = 0;
const argmax = (p: Float32Array, i: number) => {
  let best = 0;
  for (let c = 1; c < NUM_CLASSES; c++) if (p[i * NUM_CLASSES + c] > p[i * NUM_CLASSES + best]) best = c;
  return best;
};
for (let i = 0; i < test.count; i++) {
  if (argmax(ours, i) !== argmax(stock, i)) differ++;
  for (let c = 0; c < NUM_CLASSES; c++) {
    maxDifference = Math.max(maxDifference, Math.abs(ours[i * NUM_CLASSES + c] - stock[i * NUM_CLASSES + c]));
  }
}
console.log(
  `tfjs ${tf.version.tfjs}, ${tf.getBackend()} backend, ${MODEL_DIR}, ${test.count} test digits, ${rounds} rounds`,
);
for (const [name, ms] of Object.entries(t)) {
  console.log(`${name.padEnd(40)} ${ms.toFixed(0).padStart(6)} ms CPU   ${(ms / test.count).toFixed(3)} ms a digit`);
}
const [stockMs, oursMs] = Object.values(t);
console.log(`ratio stock / trainer: ${(stockMs / oursMs).toFixed(2)}`);
console.log(`predictions that differ: ${differ}; largest probability difference: ${maxDifference.toExponential(1)}`);
