// The hand-written wasm gradient kernels against the cpu backend's reference gradients.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/shared/random.ts';
import { useWasmBackend } from '../../src/train/backend.ts';

function randomArray(size: number, random: () => number): Float32Array {
  return Float32Array.from({ length: size }, () => random() * 2 - 1);
}

type Pad = 'valid' | 'same';

// tfjs does not export the op; the gradient of conv2d calls the kernel this way.
function backpropFilter(x: tf.Tensor, dy: tf.Tensor, strides: number): tf.Tensor {
  const attrs = { strides, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 1, 2] };
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

async function convGradients(
  backend: string,
  x: Float32Array,
  xShape: number[],
  w: Float32Array,
  wShape: number[],
  pad: Pad,
) {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, xShape as [number, number, number, number]);
    const wt = tf.tensor4d(w, wShape as [number, number, number, number]);
    // A non-uniform upstream gradient: d(Σ y²)/dy = 2y.
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf
        .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad)
        .square()
        .sum(),
    )([xt, wt]);
    return { dx: dx.dataSync().slice() as Float32Array, dw: dw.dataSync().slice() as Float32Array };
  });
}

function maxRelativeError(actual: Float32Array, expected: Float32Array): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  for (let i = 0; i < expected.length; i++) err = Math.max(err, Math.abs(actual[i] - expected[i]));
  return err / scale;
}

describe('wasm Conv2DBackpropFilter / Conv2DBackpropInput', () => {
  beforeAll(async () => {
    await useWasmBackend();
  });

  const cases: { name: string; x: number[]; w: number[]; pad: Pad }[] = [
    { name: 'conv1 of the model (1→32, valid)', x: [4, 28, 28, 1], w: [3, 3, 1, 32], pad: 'valid' },
    { name: 'conv2 of the model (32→64, valid)', x: [2, 26, 26, 32], w: [3, 3, 32, 64], pad: 'valid' },
    { name: 'odd sizes, same padding', x: [3, 9, 7, 5], w: [3, 3, 5, 4], pad: 'same' },
    { name: 'non-square 2×4 filter, valid', x: [2, 8, 10, 3], w: [2, 4, 3, 6], pad: 'valid' },
    { name: 'even 4×4 filter, same padding', x: [2, 7, 7, 2], w: [4, 4, 2, 3], pad: 'same' },
  ];

  for (const c of cases) {
    it(`match the cpu backend: ${c.name}`, async () => {
      const random = seededRandom(c.x.reduce((a, b) => a * 31 + b, 7));
      const x = randomArray(
        c.x.reduce((a, b) => a * b),
        random,
      );
      const w = randomArray(
        c.w.reduce((a, b) => a * b),
        random,
      );
      const cpu = await convGradients('cpu', x, c.x, w, c.w, c.pad);
      const wasm = await convGradients('wasm', x, c.x, w, c.w, c.pad);
      expect(wasm.dx.length).toBe(cpu.dx.length);
      expect(wasm.dw.length).toBe(cpu.dw.length);
      expect(maxRelativeError(wasm.dx, cpu.dx)).toBeLessThan(1e-4);
      expect(maxRelativeError(wasm.dw, cpu.dw)).toBeLessThan(1e-4);
    });
  }

  it('are the kernels the wasm backend actually runs', async () => {
    await tf.setBackend('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const dy = tf.ones([1, 3, 3, 2]);
    const x = tf.ones([1, 5, 5, 1]);
    const dw = backpropFilter(x, dy, 1);
    expect(Array.from(dw.dataSync())).toEqual(new Array(18).fill(9));
  });

  it('reject strides they do not implement with a clear error', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 8, 8, 1]) as tf.Tensor4D;
    const dy = tf.ones([1, 3, 3, 2]) as tf.Tensor4D;
    expect(() => backpropFilter(x, dy, 2)).toThrow(/stride 1 only/);
    const w = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
    expect(() => tf.conv2dTranspose(dy, w, [1, 8, 8, 1], 2, 'valid')).toThrow(/stride 1 only/);
  });

  it('leave no intermediate tensors behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 6, 6, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    const before = tf.memory().numBytes;
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid').sum(),
    )([x, w]);
    expect(tf.memory().numBytes - before).toBe(dx.size * 4 + dw.size * 4);
    tf.dispose([dx, dw]);
  });

  it('transposed matMul gives the same product as the explicit transpose', async () => {
    await tf.setBackend('wasm');
    const random = seededRandom(3);
    const a = tf.tensor2d(randomArray(6 * 5, random), [6, 5]);
    const b = tf.tensor2d(randomArray(6 * 4, random), [6, 4]);
    const viaFlag = tf.matMul(a, b, true, false).dataSync();
    await tf.setBackend('cpu');
    const reference = tf
      .matMul(tf.tensor2d(a.dataSync(), [6, 5]).transpose(), tf.tensor2d(b.dataSync(), [6, 4]))
      .dataSync();
    expect(maxRelativeError(viaFlag as Float32Array, reference as Float32Array)).toBeLessThan(1e-5);
  });
});
