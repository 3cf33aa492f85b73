// The real-client test set and the decode → normalise pipeline on it, without a model: pictures
// re-rendered from MNIST test digits must normalise back to (nearly) the original 28×28 digit.
import { describe, expect, it } from 'vitest';
import { PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { imageToDigit } from '../../src/worker/input/decode-image.ts';
import { CLIENT_KINDS, type ClientKind, generateClientImages } from '../support/client-images.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

const mnist = loadMnistTest();

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / a.length;
}

describe('client-style pictures of MNIST test digits', () => {
  const images = generateClientImages(mnist, 100, 11);

  it('is deterministic for a seed and covers every kind', () => {
    const again = generateClientImages(mnist, 10, 11);
    expect(again.map((i) => [i.index, i.kind, i.bytes.length])).toEqual(
      images.slice(0, 10).map((i) => [i.index, i.kind, i.bytes.length]),
    );
    expect(Buffer.from(again[3].bytes).equals(Buffer.from(images[3].bytes))).toBe(true);
    expect(new Set(images.map((i) => i.kind))).toEqual(new Set(CLIENT_KINDS));
    expect(new Set(images.map((i) => i.index)).size).toBe(images.length);
    expect(images.every((i) => i.label === mnist.labels[i.index])).toBe(true);
  });

  it('normalises back close to the original digits (fidelity per kind)', async () => {
    const diffs = new Map<ClientKind, number[]>();
    for (const image of images) {
      const digit = await imageToDigit(image.bytes, image.mediaType);
      const original = mnist.images.subarray(image.index * PIXEL_COUNT, (image.index + 1) * PIXEL_COUNT);
      diffs.set(image.kind, [...(diffs.get(image.kind) ?? []), meanAbsDiff(digit, original)]);
    }
    const mean = (kind: ClientKind) => diffs.get(kind)!.reduce((a, b) => a + b, 0) / diffs.get(kind)!.length;
    console.log(
      CLIENT_KINDS.map((kind) => `${kind} ${mean(kind).toFixed(1)}`).join(', '),
      '(mean |Δ| of 0–255 pixels)',
    );
    // For scale: two MNIST test digits of the same class differ by ~33, a digit and itself shifted by one pixel by ~16.
    for (const kind of ['scan', 'canvas', 'jpeg'] as const) expect(mean(kind)).toBeLessThan(10);
    expect(mean('small')).toBeLessThan(15); // 34–60 px digits lose fine detail
    expect(mean('marker')).toBeLessThan(25); // thicker strokes than the original, by design
  });
});
