// CPU cost of one /classify request, split into its parts, in Node on the same tfjs wasm SIMD
// kernels the Worker runs: JSON.parse + zod validation, and the forward pass per batch size.
// Run: npx tsx bench/engine.ts [rounds=30]
import { readFileSync } from 'node:fs';
import { getBackend, setBackend } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { METADATA_JSON, MODEL_DIR, MODEL_JSON, PIXEL_COUNT, WEIGHTS_FILE } from '../src/shared/model-spec.ts';
import { parseArtifacts } from '../src/worker/inference/artifacts.ts';
import { DigitClassifier } from '../src/worker/inference/classifier.ts';
import { fromJsonBody } from '../src/worker/input/parsers.ts';
import { ClassifyJsonBody } from '../src/worker/schemas.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { compare } from './stats.ts';

const rounds = Number(process.argv[2] ?? 30);
await setBackend('wasm'); // Node: the package's own loader reads the SIMD binary from disk
const read = (file: string) => readFileSync(`${MODEL_DIR}/${file}`);
const weights = read(WEIGHTS_FILE);
const classifier = DigitClassifier.load(
  parseArtifacts(
    JSON.parse(read(MODEL_JSON).toString('utf8')),
    JSON.parse(read(METADATA_JSON).toString('utf8')),
    weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  ),
);

const mnist = loadMnistTest();
const text = (n: number) =>
  JSON.stringify({
    images: Array.from({ length: n }, (_, i) =>
      Array.from(mnist.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT)),
    ),
  });
const sizes = [1, 32, 256];
const cases: Record<string, () => unknown> = {};
for (const n of sizes) {
  const body = text(n);
  const batch = await fromJsonBody(ClassifyJsonBody.parse(JSON.parse(body)));
  cases[`parse+validate ${n}`] = () => fromJsonBody(ClassifyJsonBody.parse(JSON.parse(body)));
  cases[`forward ${n}`] = () => classifier.classify(batch.pixels.slice(), n);
}
const medians = await compare(cases, rounds);
console.log(`backend: ${getBackend()}, ${rounds} rounds, medians`);
for (const n of sizes) {
  const parse = medians[`parse+validate ${n}`];
  const forward = medians[`forward ${n}`];
  console.log(
    `batch ${String(n).padStart(3)}: parse+validate ${parse.toFixed(2)} ms, forward ${forward.toFixed(2)} ms` +
      ` → ${((parse + forward) / n).toFixed(2)} ms/digit (${(forward / n).toFixed(2)} inference)`,
  );
}
