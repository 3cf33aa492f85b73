// Node side of the workerd tests: workerd cannot read files, so MNIST test digits and the outputs
// of stock tfjs (tfjs-layers on the cpu backend) are read here and handed over with `provide`.
import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { METADATA_JSON, MODEL_DIR, MODEL_JSON, PIXEL_COUNT, WEIGHTS_FILE } from '../../src/shared/model-spec.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

/** MNIST test digits the workerd tests send (the whole set goes through wrangler in test/e2e). */
export const FIXTURE_DIGITS = 1_000;
/** Digits also run through stock tfjs to compare probabilities. */
export const REFERENCE_DIGITS = 32;

declare module 'vitest' {
  export interface ProvidedContext {
    /** FIXTURE_DIGITS × 784 raw pixels, base64. */
    mnistImages: string;
    mnistLabels: number[];
    /** Stock tfjs-layers probabilities for the first REFERENCE_DIGITS digits. */
    referenceProbabilities: number[][];
  }
}

async function stockTfjsProbabilities(images: Uint8Array): Promise<number[][]> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const read = (file: string) => readFileSync(`${MODEL_DIR}/${file}`);
  const model = JSON.parse(read(MODEL_JSON).toString('utf8'));
  const weights = read(WEIGHTS_FILE);
  const layers = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: model.modelTopology,
      weightSpecs: model.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
  const input = tf.tensor4d(Float32Array.from(images, (p) => p / 255), [images.length / PIXEL_COUNT, 28, 28, 1]);
  const output = layers.predict(input) as import('@tensorflow/tfjs').Tensor;
  const probabilities = (await output.array()) as number[][];
  tf.dispose([input, output]);
  layers.dispose();
  return probabilities;
}

export default async function setup(project: TestProject) {
  readFileSync(`${MODEL_DIR}/${METADATA_JSON}`); // fail early, with a clear path, when no model is committed
  const mnist = loadMnistTest();
  const images = mnist.images.subarray(0, FIXTURE_DIGITS * PIXEL_COUNT);
  project.provide('mnistImages', Buffer.from(images).toString('base64'));
  project.provide('mnistLabels', Array.from(mnist.labels.subarray(0, FIXTURE_DIGITS)));
  project.provide('referenceProbabilities', await stockTfjsProbabilities(images.subarray(0, REFERENCE_DIGITS * PIXEL_COUNT)));
}
