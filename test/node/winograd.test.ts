// Winograd F(4×4, 3×3) (winograd.ts, run by kernels.ts): the forward pass, the input gradient and the
// filter gradient against float64 direct convolutions on activations of real digits, and the
// evaluation's exact recomputation of near ties.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { NUM_CLASSES } from '../../src/shared/model-spec.ts';
import { seededRandom } from '../../src/shared/random.ts';
import { loadSplitSync, take } from '../../src/train/data/mnist.ts';
import { useWasmBackend } from '../../src/train/kernels/backend.ts';
import {
  CONV_BIAS_RELU_POOL,
  CONV_FILTER_BIAS_GRAD,
  CONV_INPUT_GRAD,
  takeReluOutput,
  withStockProducts,
} from '../../src/train/kernels/kernels.ts';
import { batchTensors, evaluateRange, logits } from '../../src/train/replicas/network.ts';
import { buildModel } from '../../src/train/run/model.ts';
import { trainableVariables } from '../../src/train/run/train.ts';

const VALID = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 } as const;

function randomTensor(shape: number[], random: () => number, scale = 1): tf.Tensor {
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => (random() * 2 - 1) * scale),
    shape,
  );
}

/**
 * `channels` feature maps of `count` real test digits at `height` × `width`: relu of a random 3×3
 * convolution of the digits (cropped), as a second convolution sees them, with MNIST's exact zeros.
 */
function digitActivations(count: number, height: number, width: number, channels: number, random: () => number) {
  const digits = take(loadSplitSync('t10k'), count);
  return tf.tidy(() => {
    const images = tf.tensor4d(
      Float32Array.from(digits.images, (v) => v / 255),
      [count, 28, 28, 1],
    );
    const maps = tf.relu(tf.conv2d(images, randomTensor([3, 3, 1, channels], random) as tf.Tensor4D, 1, 'valid'));
    return tf.slice(maps, [0, 1, 0, 0], [count, height, width, channels]) as tf.Tensor4D;
  });
}

/** y[n,h,w,o] = Σ x[n,h+i,w+j,c]·w[i,j,c,o] in float64, valid. */
function referenceConv(x: tf.Tensor4D, w: tf.Tensor4D): { values: Float64Array; shape: number[] } {
  const [n, height, width, channels] = x.shape;
  const outChannels = w.shape[3];
  const [outHeight, outWidth] = [height - 2, width - 2];
  const [xv, wv] = [x.dataSync(), w.dataSync()];
  const out = new Float64Array(n * outHeight * outWidth * outChannels);
  for (let b = 0; b < n; b++)
    for (let h = 0; h < outHeight; h++)
      for (let q = 0; q < outWidth; q++) {
        const at = ((b * outHeight + h) * outWidth + q) * outChannels;
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++)
            for (let c = 0; c < channels; c++) {
              const v = xv[((b * height + h + i) * width + q + j) * channels + c];
              if (v === 0) continue;
              const k = ((i * 3 + j) * channels + c) * outChannels;
              for (let o = 0; o < outChannels; o++) out[at + o] += v * wv[k + o];
            }
      }
  return { values: out, shape: [n, outHeight, outWidth, outChannels] };
}

/** A dy from real activations, and the same at x's width with zero columns, as relu's gradient writes it. */
function gradientOf(x: tf.Tensor4D, w: tf.Tensor4D): { dy: tf.Tensor4D; dyA: tf.Tensor4D } {
  const dy = tf.relu(tf.sub(tf.conv2d(x, w, 1, 'valid'), 0.3)) as tf.Tensor4D;
  const dyA = tf.pad(dy, [
    [0, 0],
    [0, 0],
    [0, 2],
    [0, 0],
  ]);
  return { dy, dyA };
}

function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  return err / scale;
}

describe('Winograd F(4×4, 3×3)', () => {
  beforeAll(async () => {
    await useWasmBackend();
  });

  // 13 digits: three chunks of 4 and a partial one. 10×14 → 8×12: 2×3 tiles, other channel counts.
  for (const c of [
    { name: "the model's conv2 on 13 digits", count: 13, x: [26, 26, 32], outChannels: 64 },
    { name: '8→12 channels, a 10×14 input, 5 digits', count: 5, x: [10, 14, 8], outChannels: 12 },
  ]) {
    it(`maxPool(relu(conv + bias)) matches a float64 reference: ${c.name}`, () => {
      const random = seededRandom(c.count * 7 + c.outChannels);
      const [height, width, channels] = c.x;
      tf.tidy(() => {
        const x = digitActivations(c.count, height, width, channels, random);
        const w = randomTensor([3, 3, channels, c.outChannels], random, 0.2) as tf.Tensor4D;
        const bias = randomTensor([c.outChannels], random, 0.2);
        const [pooled, ...rest] = tf
          .engine()
          .runKernel(CONV_BIAS_RELU_POOL, { x, filter: w, bias }, { ...VALID, winograd: true }) as tf.Tensor[];
        expect(rest).toEqual([]); // the pooled output only: no relu output kept for a gradient
        const conv = referenceConv(x, w);
        const b = bias.dataSync();
        const relu = conv.values.map((v, i) => Math.max(0, v + b[i % c.outChannels]));
        const expected = tf.maxPool(tf.tensor4d(Float32Array.from(relu), conv.shape as never), 2, 2, 'valid');
        expect(pooled.shape).toEqual(expected.shape);
        expect(maxRelativeError(pooled.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
      });
    });
  }

  it('the training forward pass (pooled and relu outputs) matches a float64 reference, and equal patches tie exactly', () => {
    const random = seededRandom(21);
    tf.tidy(() => {
      const maps = digitActivations(5, 26, 26, 32, random);
      const w = randomTensor([3, 3, 32, 64], random, 0.2) as tf.Tensor4D;
      const bias = randomTensor([64], random, 0.2);
      // MNIST's background as the first step sees it (zeros) and as later steps do (one vector).
      for (const x of [maps, tf.where(tf.equal(maps, 0), tf.fill(maps.shape, 0.25), maps) as tf.Tensor4D]) {
        const [pooled, ...rest] = tf
          .engine()
          .runKernel(
            CONV_BIAS_RELU_POOL,
            { x, filter: w, bias },
            { ...VALID, winograd: true, training: true },
          ) as tf.Tensor[];
        expect(rest).toEqual([]); // the relu output is kept aside for the gradient
        const y = tf.engine().makeTensorFromTensorInfo(takeReluOutput(pooled));
        const conv = referenceConv(x, w);
        const b = bias.dataSync();
        const relu = Float32Array.from(conv.values, (v, i) => Math.max(0, v + b[i % 64]));
        expect(y.shape).toEqual(conv.shape);
        expect(maxRelativeError(y.dataSync(), relu)).toBeLessThan(1e-5);
        expect(maxRelativeError(pooled.dataSync(), tf.maxPool(y as tf.Tensor4D, 2, 2, 'valid').dataSync())).toBe(0);
        // Every position whose 3×3 patch is the background's: the same 64 values, bit for bit.
        const [xv, yv] = [x.dataSync(), y.dataSync()];
        const background = xv.slice(0, 32);
        const values = new Set<string>();
        let count = 0;
        for (let n = 0; n < 5; n++)
          for (let h = 0; h < 24; h++)
            for (let q = 0; q < 24; q++) {
              let constant = true;
              for (let i = 0; i < 3 && constant; i++)
                for (let j = 0; j < 3 && constant; j++)
                  for (let c = 0; c < 32 && constant; c++)
                    constant = xv[((n * 26 + h + i) * 26 + q + j) * 32 + c] === background[c];
              if (!constant) continue;
              count++;
              values.add(
                Array.from(yv.subarray(((n * 24 + h) * 24 + q) * 64, ((n * 24 + h) * 24 + q + 1) * 64)).join(),
              );
            }
        expect(count).toBeGreaterThan(500);
        expect(values.size).toBe(1);
        if (background.every((v) => v === 0)) {
          expect([...values][0]).toBe(Array.from(b, (v) => Math.max(0, v)).join()); // exactly relu(bias)
        }
      }
    });
  });

  // x 26×26: 7×7 blocks, the last row and column cropped to 2; 11×13: cropped to 3 and 1.
  for (const c of [
    { name: "the model's conv2 on 13 digits", count: 13, x: [26, 26, 32], outChannels: 64 },
    { name: '8→12 channels, an 11×13 input, 5 digits', count: 5, x: [11, 13, 8], outChannels: 12 },
  ]) {
    it(`the input gradient matches a float64 reference: ${c.name}`, () => {
      const random = seededRandom(c.count * 5 + c.outChannels);
      const [height, width, channels] = c.x;
      tf.tidy(() => {
        const x = digitActivations(c.count, height, width, channels, random);
        const w = randomTensor([3, 3, channels, c.outChannels], random, 0.2) as tf.Tensor4D;
        const { dy, dyA } = gradientOf(x, w);
        const dx = tf.engine().runKernel(CONV_INPUT_GRAD, { dy: dyA, filter: w }, { inputShape: x.shape }) as tf.Tensor;
        // dx[n,h,w,c] = Σ dy[n,h−i,w−j,o]·w[i,j,c,o], in float64.
        const [dyv, wv] = [dy.dataSync(), w.dataSync()];
        const [outHeight, outWidth] = [height - 2, width - 2];
        const expected = new Float64Array(x.size);
        for (let n = 0; n < c.count; n++)
          for (let h = 0; h < outHeight; h++)
            for (let q = 0; q < outWidth; q++)
              for (let o = 0; o < c.outChannels; o++) {
                const g = dyv[((n * outHeight + h) * outWidth + q) * c.outChannels + o];
                if (g === 0) continue;
                for (let i = 0; i < 3; i++)
                  for (let j = 0; j < 3; j++)
                    for (let ch = 0; ch < channels; ch++) {
                      expected[((n * height + h + i) * width + q + j) * channels + ch] +=
                        g * wv[((i * 3 + j) * channels + ch) * c.outChannels + o];
                    }
              }
        expect(dx.shape).toEqual(x.shape);
        expect(maxRelativeError(dx.dataSync(), expected)).toBeLessThan(1e-5);
      });
    });
  }

  // The model's conv2 is in kernels.test.ts; here a 10×18 input (2×4 tiles), 5 digits (chunk remainder).
  it('the filter and bias gradients match a float64 reference: 8→12 channels, a 10×18 input, 5 digits', () => {
    const random = seededRandom(41);
    const [count, height, width, channels, outChannels] = [5, 10, 18, 8, 12];
    tf.tidy(() => {
      const x = digitActivations(count, height, width, channels, random);
      const w = randomTensor([3, 3, channels, outChannels], random, 0.2) as tf.Tensor4D;
      const { dy, dyA } = gradientOf(x, w);
      const filterShape = [3, 3, channels, outChannels];
      const [dW, dBias] = tf.engine().runKernel(CONV_FILTER_BIAS_GRAD, { x, dy: dyA }, { filterShape }) as tf.Tensor[];
      // dW[i,j,c,o] = Σ x[n,h+i,w+j,c]·dy[n,h,w,o] and Σ dy, in float64.
      const [xv, dyv] = [x.dataSync(), dy.dataSync()];
      const [outHeight, outWidth] = [height - 2, width - 2];
      const expected = new Float64Array(9 * channels * outChannels);
      const bias = new Float64Array(outChannels);
      for (let n = 0; n < count; n++)
        for (let h = 0; h < outHeight; h++)
          for (let q = 0; q < outWidth; q++)
            for (let o = 0; o < outChannels; o++) {
              const g = dyv[((n * outHeight + h) * outWidth + q) * outChannels + o];
              bias[o] += g;
              for (let i = 0; i < 3; i++)
                for (let j = 0; j < 3; j++)
                  for (let c = 0; c < channels; c++) {
                    expected[((i * 3 + j) * channels + c) * outChannels + o] +=
                      g * xv[((n * height + h + i) * width + q + j) * channels + c];
                  }
            }
      expect(maxRelativeError(dW.dataSync(), expected)).toBeLessThan(1e-5);
      expect(maxRelativeError(dBias.dataSync(), bias)).toBeLessThan(1e-5);
    });
  });

  it('leave no tensors behind', () => {
    const random = seededRandom(3);
    const x = randomTensor([3, 10, 10, 4], random) as tf.Tensor4D;
    const w = randomTensor([3, 3, 4, 8], random) as tf.Tensor4D;
    const bias = randomTensor([8], random);
    const dyA = randomTensor([3, 8, 10, 8], random);
    const before = tf.memory();
    const [pooled] = tf
      .engine()
      .runKernel(CONV_BIAS_RELU_POOL, { x, filter: w, bias }, { ...VALID, winograd: true }) as tf.Tensor[];
    const dx = tf.engine().runKernel(CONV_INPUT_GRAD, { dy: dyA, filter: w }, { inputShape: x.shape }) as tf.Tensor;
    expect(tf.memory().numTensors - before.numTensors).toBe(2);
    expect(tf.memory().numBytes - before.numBytes).toBe((pooled.size + dx.size) * 4);
    tf.dispose([pooled, dx, x, w, bias, dyA]);
  });

  it('evaluation recomputes near ties exactly: two identical output units tie on every digit', () => {
    const set = take(loadSplitSync('t10k'), 40);
    const params: tf.Tensor[] = trainableVariables(buildModel({ seed: 5 })).map((v) => v.clone());
    // Unit 3 becomes a copy of unit 7 and both lead: every row's top two logits tie, and the other
    // classes keep enough probability (~1%) for a change in the logits to show.
    const [kernel, bias] = [params[6].arraySync() as number[][], params[7].arraySync() as number[]];
    for (const row of kernel) row[3] = row[7];
    bias[3] = bias[7] = 3;
    params[6].dispose();
    params[7].dispose();
    params[6] = tf.tensor2d(kernel);
    params[7] = tf.tensor1d(bias);
    const probabilities = new Float32Array(set.count * NUM_CLASSES);
    evaluateRange(params, set, 0, set.count, { chunk: 16, probabilities });
    const expected = tf.tidy(() => {
      const { x } = batchTensors(
        set,
        Array.from({ length: set.count }, (_, i) => i),
      );
      // As stock tfjs computes them: conv2 and the dense products on XNNPACK.
      return withStockProducts(() => tf.softmax(logits(params, x, undefined, true)).dataSync());
    });
    expect(Array.from(probabilities)).toEqual(Array.from(expected));
    tf.dispose(params);
  });
});
