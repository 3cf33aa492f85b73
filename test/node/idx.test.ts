import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxFormatError, parseIdx } from '../../src/train/data/idx.ts';
import { digitSetFromIdx, loadSplit, mnistDataDir } from '../../src/train/data/mnist.ts';

const read = async (name: string) => new Uint8Array(await readFile(path.join(mnistDataDir(), name)));

describe('IDX reader on the real MNIST files', () => {
  it('reads the 10k test split with its dimensions and labels', async () => {
    const test = await loadSplit('t10k');
    expect(test.count).toBe(10_000);
    expect(test.images.length).toBe(10_000 * 784);
    // The first test digit of MNIST is a 7, the second a 2.
    expect(Array.from(test.labels.subarray(0, 3))).toEqual([7, 2, 1]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(850);
  });

  it('reads the 60k train split', async () => {
    const train = await loadSplit('train');
    expect(train.count).toBe(60_000);
    expect(train.labels[0]).toBe(5);
  });
});

describe('IDX reader on corrupted files', () => {
  it('rejects a truncated image file with the byte counts', async () => {
    const images = await read('t10k-images-idx3-ubyte');
    expect(() => parseIdx(images.subarray(0, images.length - 100), IDX_IMAGES_MAGIC, 'images')).toThrow(
      /images: truncated: 7839916 bytes, expected 7840016/,
    );
  });

  it('rejects a truncated header', async () => {
    const images = await read('t10k-images-idx3-ubyte');
    expect(() => parseIdx(images.subarray(0, 10), IDX_IMAGES_MAGIC)).toThrow(/truncated header/);
    expect(() => parseIdx(images.subarray(0, 2), IDX_IMAGES_MAGIC)).toThrow(/too short/);
  });

  it('rejects a labels file given where images are expected', async () => {
    const labels = await read('t10k-labels-idx1-ubyte');
    expect(() => parseIdx(labels, IDX_IMAGES_MAGIC)).toThrow(/magic number 0x00000801, expected 0x00000803/);
  });

  it('rejects a gzip-compressed file by its magic number', () => {
    const gzip = new Uint8Array([0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0, 0, 0]);
    expect(() => parseIdx(gzip, IDX_LABELS_MAGIC)).toThrow(IdxFormatError);
  });

  it('rejects trailing bytes', async () => {
    const labels = await read('t10k-labels-idx1-ubyte');
    const longer = new Uint8Array(labels.length + 1);
    longer.set(labels);
    expect(() => parseIdx(longer, IDX_LABELS_MAGIC)).toThrow(/trailing bytes/);
  });

  it('rejects images and labels that disagree in count', async () => {
    const images = await read('t10k-images-idx3-ubyte');
    const labels = await read('train-labels-idx1-ubyte');
    expect(() => digitSetFromIdx(images, labels)).toThrow(/10000 images but 60000 labels/);
  });

  it('rejects an out-of-range label', async () => {
    const labels = (await read('t10k-labels-idx1-ubyte')).slice();
    labels[8 + 42] = 12;
    const images = await read('t10k-images-idx3-ubyte');
    expect(() => digitSetFromIdx(images, labels)).toThrow(/label 12 at 42/);
  });
});

describe('IDX writer', () => {
  it('writes files the reader (and MNIST) agree on, byte for byte', async () => {
    const labels = await read('t10k-labels-idx1-ubyte');
    const images = await read('t10k-images-idx3-ubyte');
    const test = digitSetFromIdx(images, labels);
    // Byte comparison by Buffer: a deep toEqual over 7.8 MB takes half a minute.
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
    expect(same(encodeIdx(IDX_LABELS_MAGIC, [test.count], test.labels), labels)).toBe(true);
    expect(same(encodeIdx(IDX_IMAGES_MAGIC, [test.count, 28, 28], test.images), images)).toBe(true);
    const three = digitSetFromIdx(
      encodeIdx(IDX_IMAGES_MAGIC, [3, 28, 28], test.images.subarray(0, 3 * 784)),
      encodeIdx(IDX_LABELS_MAGIC, [3], test.labels.subarray(0, 3)),
    );
    expect(Array.from(three.labels)).toEqual([7, 2, 1]);
  });

  it('refuses dimensions that do not match the magic number or the data', () => {
    expect(() => encodeIdx(IDX_IMAGES_MAGIC, [2, 28], new Uint8Array(56))).toThrow(IdxFormatError);
    expect(() => encodeIdx(IDX_LABELS_MAGIC, [3], new Uint8Array(2))).toThrow(/need 3 bytes, got 2/);
  });
});
