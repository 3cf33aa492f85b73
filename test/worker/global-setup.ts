// Node side of the workerd tests: workerd cannot read files, so MNIST test digits and the outputs
// of stock tfjs (tfjs-layers on the cpu backend) are read here and handed over with `provide`.
import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { INPUT_SHAPE, METADATA_JSON, MODEL_DIR, PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { readModelDir } from '../../src/train/formats/model-dir.ts';
import { loadModelFiles } from '../../src/train/formats/tfjs.ts';
import { decodeToGray } from '../../src/worker/input/decode-image.ts';
import { renderPaperDigit } from '../support/client-images.ts';
import { withRowFilters } from '../support/filtered-png.ts';
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
    /** 0.3 MP RGB scans with their rows filtered as libpng does (base64), and their gray as Node decodes them. */
    filteredScans: Array<{ png: string; width: number; height: number; gray: string }>;
  }
}

async function stockTfjsProbabilities(images: Uint8Array): Promise<number[][]> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const layers = await loadModelFiles(await readModelDir(MODEL_DIR));
  const input = tf.tensor4d(
    Float32Array.from(images, (p) => p / 255),
    [images.length / PIXEL_COUNT, ...INPUT_SHAPE],
  );
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
  const scans = await Promise.all(
    [3, 8].map(async (k) => {
      const png = withRowFilters(
        renderPaperDigit(images.subarray(k * PIXEL_COUNT, (k + 1) * PIXEL_COUNT), 632, 474, 'png'),
      );
      const gray = await decodeToGray(png);
      const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
      return { png: b64(png), width: gray.width, height: gray.height, gray: b64(Uint8Array.from(gray.data)) };
    }),
  );
  project.provide('filteredScans', scans);
  project.provide(
    'referenceProbabilities',
    await stockTfjsProbabilities(images.subarray(0, REFERENCE_DIGITS * PIXEL_COUNT)),
  );
}
