// The hand-written wasm gradient kernels against the cpu backend's reference gradients.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/shared/random.ts';
import { loadSplitSync } from '../../src/train/data/mnist.ts';
import { useWasmBackend } from '../../src/train/kernels/backend.ts';
import { CONV_FILTER_BIAS_GRAD, MAX_POOL_RELU_GRAD, RELU_GRAD } from '../../src/train/kernels/kernels.ts';

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

/** tf.pad's paddings for NHWC tensors written at a width two columns wider (a 3-wide filter's padded width). */
const TWO_PADDED_COLUMNS: Array<[number, number]> = [
  [0, 0],
  [0, 0],
  [0, 2],
  [0, 0],
];

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

  // The cpu backend takes seconds per image at conv2's size; a float64 loop takes milliseconds.
  function referenceFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], top: number, left: number) {
    const [n, inHeight, inWidth, channels] = x.shape;
    const [, outHeight, outWidth, outChannels] = dy.shape;
    const [filterHeight, filterWidth] = filterShape;
    const xv = x.dataSync();
    const dyv = dy.dataSync();
    const dw = new Float64Array(filterHeight * filterWidth * channels * outChannels);
    for (let b = 0; b < n; b++)
      for (let h = 0; h < outHeight; h++)
        for (let w = 0; w < outWidth; w++) {
          const g = ((b * outHeight + h) * outWidth + w) * outChannels;
          for (let i = 0; i < filterHeight; i++) {
            const ih = h + i - top;
            if (ih < 0 || ih >= inHeight) continue;
            for (let j = 0; j < filterWidth; j++) {
              const iw = w + j - left;
              if (iw < 0 || iw >= inWidth) continue;
              for (let c = 0; c < channels; c++) {
                const v = xv[((b * inHeight + ih) * inWidth + iw) * channels + c];
                const at = ((i * filterWidth + j) * channels + c) * outChannels;
                for (let o = 0; o < outChannels; o++) dw[at + o] += v * dyv[g + o];
              }
            }
          }
        }
    return Float32Array.from(dw);
  }

  // Batches of several chunks (6 images at conv2) with a partial last one, on activations of real digits.
  for (const c of [
    { name: 'conv2 of the model on 13 digits', n: 13, filterShape: [3, 3, 32, 64], pad: 'valid' as Pad },
    { name: '16→64 channels, same padding, 21 digits', n: 21, filterShape: [3, 3, 16, 64], pad: 'same' as Pad },
  ]) {
    it(`Conv2DBackpropFilter matches a float64 reference: ${c.name}`, async () => {
      await tf.setBackend('wasm');
      const digits = loadSplitSync('t10k');
      const random = seededRandom(11);
      const [filterHeight, filterWidth, channels, outChannels] = c.filterShape;
      tf.tidy(() => {
        const images = tf
          .tensor4d(digits.images.subarray(0, c.n * 784), [c.n, 28, 28, 1])
          .toFloat()
          .div(255);
        // x as conv2 sees it: relu(conv1(digits)), many exact zeros.
        const w1 = tf.tensor4d(randomArray(9 * channels, random), [3, 3, 1, channels]);
        const x = tf.relu(tf.conv2d(images as tf.Tensor4D, w1, 1, 'valid'));
        const w = tf.tensor4d(
          randomArray(
            c.filterShape.reduce((a, b) => a * b),
            random,
          ),
          c.filterShape as never,
        );
        const dy = tf.relu(tf.conv2d(x, w, 1, c.pad).sub(0.5)) as tf.Tensor4D;
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
          strides: 1,
          pad: c.pad,
          dataFormat: 'NHWC',
          filterShape: c.filterShape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const pad = c.pad === 'same' ? (filterHeight - 1) >> 1 : 0;
        const expected = referenceFilterGrad(x, dy, c.filterShape, pad, c.pad === 'same' ? (filterWidth - 1) >> 1 : 0);
        expect(dw.shape).toEqual([filterHeight, filterWidth, channels, outChannels]);
        expect(maxRelativeError(dw.dataSync() as Float32Array, expected)).toBeLessThan(1e-5);
      });
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

  // Relu's outputs: many exact zeros and repeated values, so max-pool windows hold ties.
  function reluLike(shape: number[], random: () => number): Float32Array {
    return Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () =>
      Math.max(0, Math.round(random() * 8 - 4) / 4),
    );
  }

  for (const c of [
    { name: '2×2 on conv2-like activations', x: [3, 24, 24, 64], pool: 2 },
    { name: '2×2, odd sizes (rows and columns left over)', x: [2, 9, 7, 3], pool: 2 },
    { name: '3×3 windows', x: [2, 9, 12, 5], pool: 3 },
  ]) {
    it(`MaxPoolGrad matches the cpu backend (first maximum of ties): ${c.name}`, async () => {
      const random = seededRandom(c.x.reduce((a, b) => a * 7 + b, 5));
      const x = reluLike(c.x, random);
      const grad = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const xt = tf.tensor4d(x, c.x as [number, number, number, number]);
          const pooled = tf.maxPool(xt, c.pool, c.pool, 'valid');
          const weights = tf.tensor(randomArray(pooled.size, seededRandom(2)), pooled.shape);
          return tf
            .grad((a: tf.Tensor) =>
              tf
                .maxPool(a as tf.Tensor4D, c.pool, c.pool, 'valid')
                .mul(weights)
                .sum(),
            )(xt)
            .dataSync();
        });
      };
      expect(Array.from(await grad('wasm'))).toEqual(Array.from(await grad('cpu')));
    });
  }

  for (const channels of [64, 3]) {
    it(`relu's gradient is dy·step(y), at the padded width with zero columns (${channels} channels)`, async () => {
      const random = seededRandom(channels);
      const shape = [3, 5, 4, channels];
      const y = reluLike(shape, random);
      y[1] = -0;
      const dy = randomArray(y.length, random);
      await tf.setBackend('wasm');
      const dyA = tf
        .engine()
        .runKernel(RELU_GRAD, { dy: tf.tensor(dy, shape), y: tf.tensor(y, shape) }, { paddedWidth: 6 }) as tf.Tensor;
      expect(dyA.shape).toEqual([3, 5, 6, channels]);
      const expected = tf.tidy(() =>
        tf
          .tensor(
            dy.map((v, i) => (y[i] > 0 ? v : 0)),
            shape,
          )
          .pad(TWO_PADDED_COLUMNS)
          .dataSync(),
      );
      expect(Array.from(dyA.dataSync())).toEqual(Array.from(expected));
    });
  }

  for (const shape of [
    [3, 24, 24, 64],
    [2, 9, 7, 3],
  ]) {
    it(`the fused max-pool and relu gradient matches the cpu backend's, at the padded width (${shape})`, async () => {
      const random = seededRandom(shape[1]);
      const y = reluLike(shape, random);
      const pooledShape = [shape[0], shape[1] >> 1, shape[2] >> 1, shape[3]];
      const dy = randomArray(
        pooledShape.reduce((a, b) => a * b),
        random,
      );
      await tf.setBackend('cpu');
      // d/dv maxPool(relu(v)) at v = y, where relu(y) = y: MaxPoolGrad, then step(y).
      const expected = tf.tidy(() =>
        tf
          .grad((v: tf.Tensor) =>
            tf
              .maxPool(tf.relu(v) as tf.Tensor4D, 2, 2, 'valid')
              .mul(tf.tensor(dy, pooledShape))
              .sum(),
          )(tf.tensor(y, shape))
          .pad(TWO_PADDED_COLUMNS)
          .dataSync(),
      );
      await tf.setBackend('wasm');
      const paddedWidth = shape[2] + 2;
      const actual = tf
        .engine()
        .runKernel(
          MAX_POOL_RELU_GRAD,
          { dy: tf.tensor(dy, pooledShape), y: tf.tensor(y, shape) },
          { paddedWidth },
        ) as tf.Tensor;
      expect(actual.shape).toEqual([shape[0], shape[1], paddedWidth, shape[3]]);
      // Exactly equal, +0 and −0 alike (the cpu backend multiplies negative gradients by 0).
      const got = actual.dataSync();
      expect(expected.filter((v, i) => v !== got[i]).length).toBe(0);
    });
  }

  it("the model's filter and bias gradient kernel matches a float64 reference on 13 digits", async () => {
    await tf.setBackend('wasm');
    const digits = loadSplitSync('t10k');
    const random = seededRandom(12);
    const filterShape = [3, 3, 32, 64];
    tf.tidy(() => {
      const images = tf
        .tensor4d(digits.images.subarray(0, 13 * 784), [13, 28, 28, 1])
        .toFloat()
        .div(255);
      const w1 = tf.tensor4d(randomArray(9 * 32, random), [3, 3, 1, 32]);
      const x = tf.relu(tf.conv2d(images as tf.Tensor4D, w1, 1, 'valid'));
      const w = tf.tensor4d(randomArray(9 * 32 * 64, random), filterShape as never);
      const dy = tf.relu(tf.conv2d(x, w, 1, 'valid').sub(0.5)) as tf.Tensor4D;
      const wide = dy.pad([
        [0, 0],
        [0, 0],
        [0, 2],
        [0, 0],
      ]);
      const [dw, dBias] = tf.engine().runKernel(CONV_FILTER_BIAS_GRAD, { x, dy: wide }, { filterShape }) as tf.Tensor[];
      expect(
        maxRelativeError(dw.dataSync() as Float32Array, referenceFilterGrad(x, dy, filterShape, 0, 0)),
      ).toBeLessThan(1e-5);
      const sums = new Float64Array(64);
      dy.dataSync().forEach((v, i) => {
        sums[i % 64] += v;
      });
      expect(maxRelativeError(dBias.dataSync() as Float32Array, Float32Array.from(sums))).toBeLessThan(1e-5);
    });
  });

  it("conv1's filter and bias gradient (the trainer's module) matches a float64 reference on 13 digits", async () => {
    await tf.setBackend('wasm');
    const digits = loadSplitSync('t10k');
    const random = seededRandom(13);
    const filterShape = [3, 3, 1, 32];
    tf.tidy(() => {
      const x = tf
        .tensor4d(digits.images.subarray(0, 13 * 784), [13, 28, 28, 1])
        .toFloat()
        .div(255) as tf.Tensor4D;
      const w = tf.tensor4d(randomArray(9 * 32, random), filterShape as never);
      const dy = tf.relu(tf.conv2d(x, w, 1, 'valid').sub(0.1)) as tf.Tensor4D;
      const wide = dy.pad([
        [0, 0],
        [0, 0],
        [0, 2],
        [0, 0],
      ]);
      const [dw, dBias] = tf.engine().runKernel(CONV_FILTER_BIAS_GRAD, { x, dy: wide }, { filterShape }) as tf.Tensor[];
      expect(
        maxRelativeError(dw.dataSync() as Float32Array, referenceFilterGrad(x, dy, filterShape, 0, 0)),
      ).toBeLessThan(1e-5);
      const sums = new Float64Array(32);
      dy.dataSync().forEach((v, i) => {
        sums[i % 32] += v;
      });
      expect(maxRelativeError(dBias.dataSync() as Float32Array, Float32Array.from(sums))).toBeLessThan(1e-5);
    });
  });

  it("A·B and Aᵀ·B in the trainer's module (k in blocks, rows past 4) match the cpu backend", async () => {
    const random = seededRandom(5);
    for (const [m, k, n] of [
      [6, 600, 16],
      [13, 37, 8],
    ]) {
      const a = randomArray(m * k, random);
      const b = randomArray(k * n, random);
      const products = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const bt = tf.tensor2d(b, [k, n]);
          return [
            tf.matMul(tf.tensor2d(a, [m, k]), bt).dataSync() as Float32Array,
            tf.matMul(tf.tensor2d(a, [k, m]), bt, true, false).dataSync() as Float32Array,
          ];
        });
      };
      const [wasm, cpu] = [await products('wasm'), await products('cpu')];
      for (const i of [0, 1]) expect(maxRelativeError(wasm[i], cpu[i])).toBeLessThan(1e-5);
    }
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

  it('a·bᵀ with a large b (computed as (b·aᵀ)ᵀ) and tiled transposes match the cpu backend', async () => {
    const random = seededRandom(4);
    // 3 rows: XNNPACK's product; 8: the trainer's module's (aᵀ has 8 columns).
    for (const rows of [3, 8]) {
      const a = randomArray(rows * 37, random);
      const b = randomArray(70 * 37, random);
      const product = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => tf.matMul(tf.tensor2d(a, [rows, 37]), tf.tensor2d(b, [70, 37]), false, true).dataSync());
      };
      const [wasm, cpu] = [await product('wasm'), await product('cpu')];
      expect(maxRelativeError(wasm as Float32Array, cpu as Float32Array)).toBeLessThan(1e-5);
    }
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
