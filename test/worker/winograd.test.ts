// conv2 as Winograd inside workerd, on the Worker's own runtime (no requests: the HTTP sweeps run in
// test/e2e): the prebuilt relaxed-SIMD module is the one picked, and its answers are the exact
// path's (stock tfjs kernels) and stock tfjs-layers'.
import { describe, expect, inject, it } from 'vitest';
import { RELAXED_PROBE } from '../../src/shared/kernels/winograd';
import { NUM_CLASSES, PIXEL_COUNT } from '../../src/shared/model-spec';
import { getRuntime } from '../../src/worker/inference/runtime';
import { mnist } from './helpers';

const top = (p: Float32Array) => p.indexOf(Math.max(...p));

describe('conv2 as Winograd in workerd', () => {
  it('runs the relaxed-SIMD module, which workerd validates', async () => {
    expect(WebAssembly.validate(RELAXED_PROBE)).toBe(true);
    expect((await getRuntime()).classifier.conv2Kernel).toBe('winograd-relaxed');
  });

  it('answers the fixture digits as the exact path does, in batches and one by one', async () => {
    const { classifier } = await getRuntime();
    const { count } = mnist();
    const pixels = new Float32Array(count * PIXEL_COUNT);
    for (let i = 0; i < count; i++) pixels.set(mnist().pixels(i), i * PIXEL_COUNT);
    let worst = 0;
    for (let from = 0; from < count; from += 256) {
      const n = Math.min(256, count - from);
      const x = pixels.subarray(from * PIXEL_COUNT, (from + n) * PIXEL_COUNT);
      const [fast, exact] = [await classifier.probabilities(x, n), await classifier.batchProbabilities(x, n, true)];
      for (let i = 0; i < n; i++) {
        const [a, b] = [
          fast.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES),
          exact.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES),
        ];
        expect(top(a), `digit ${from + i}`).toBe(top(b));
        for (let d = 0; d < NUM_CLASSES; d++) worst = Math.max(worst, Math.abs(a[d] - b[d]));
      }
    }
    for (let i = 0; i < 64; i++) {
      const x = pixels.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT);
      const [a, b] = [await classifier.probabilities(x, 1), await classifier.batchProbabilities(x, 1, true)];
      expect(top(a)).toBe(top(b));
      for (let d = 0; d < NUM_CLASSES; d++) worst = Math.max(worst, Math.abs(a[d] - b[d]));
    }
    expect(worst).toBeLessThan(1e-5);
    expect(worst).toBeGreaterThan(0); // Winograd did run: its rounding differs from the direct convolution's
  });

  it('matches stock tfjs-layers on the reference digits to 1e-5', async () => {
    const { classifier } = await getRuntime();
    const reference = inject('referenceProbabilities');
    const pixels = new Float32Array(reference.length * PIXEL_COUNT);
    for (let i = 0; i < reference.length; i++) pixels.set(mnist().pixels(i), i * PIXEL_COUNT);
    const probs = await classifier.probabilities(pixels, reference.length);
    for (const [i, row] of reference.entries()) {
      for (const [d, p] of row.entries()) expect(Math.abs(probs[i * NUM_CLASSES + d] - p)).toBeLessThan(1e-5);
    }
  });
});
