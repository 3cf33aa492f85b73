// Evaluates a model directory with stock tfjs on the 10k MNIST test set, as an outside client would:
// `npx tsx scripts/evaluate-model.ts [models/mnist-cnn]`. Exits 1 below --min accuracy.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { METADATA_JSON, MODEL_DIR, MODEL_JSON, WEIGHTS_FILE } from '../src/shared/model-spec.ts';
import { loadSplit } from '../src/train/data.ts';
import { loadModelFiles } from '../src/train/export.ts';
import { evaluate } from '../src/train/train.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { min: { type: 'string', default: '0.992' } } });
const dir = positionals[0] ?? MODEL_DIR;
await tf.setBackend('wasm'); // stock kernels only: inference needs none of ours
const model = await loadModelFiles({
  modelJson: await readFile(path.join(dir, MODEL_JSON), 'utf8'),
  weights: new Uint8Array(await readFile(path.join(dir, WEIGHTS_FILE))),
});
const metadata = JSON.parse(await readFile(path.join(dir, METADATA_JSON), 'utf8')) as { version: string; testAccuracy: number };
const { loss, accuracy } = await evaluate(model, await loadSplit('t10k'));
console.log(`model ${metadata.version} (${dir}): test loss ${loss.toFixed(4)}, accuracy ${(accuracy * 100).toFixed(2)}% on 10,000 MNIST test digits`);
console.log(`metadata says ${(metadata.testAccuracy * 100).toFixed(2)}%`);
if (accuracy < Number(values.min)) {
  console.error(`below the required ${(Number(values.min) * 100).toFixed(2)}%`);
  process.exitCode = 1;
}
