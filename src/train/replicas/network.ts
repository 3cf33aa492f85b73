// The CNN's arithmetic on plain tensors, layer by layer from LAYERS: what every training replica runs.
// It is the Keras model of model.ts (same weights, same order) without tfjs-layers: a step creates
// no Keras bookkeeping, and a worker thread needs no model.
// The whole bundle, not tfjs-core: core's Node build registers no gradients.
import * as tf from '@tensorflow/tfjs';
import { type DigitSet, IMAGE_SIZE, LAYERS, NUM_CLASSES, PIXEL_COUNT } from '../../shared/model-spec.ts';
import { seededRandom } from '../../shared/random.ts';
import { type AugmentConfig, augmentDigit } from '../data/augment.ts';
import {
  CONV_BIAS_RELU,
  CONV_BIAS_RELU_POOL,
  CONV_FILTER_BIAS_GRAD,
  CONV_INPUT_GRAD,
  disposeUntakenReluOutputs,
  dropoutMaskInfo,
  MAX_POOL_RELU_GRAD,
  RELU_GRAD,
  takeReluOutput,
  withStockProducts,
} from '../kernels/kernels.ts';

export interface ParamSpec {
  /** The Keras weight name, `<layer>/kernel` or `<layer>/bias`. */
  name: string;
  shape: number[];
  /** Offset and length in the flat float32 vector of all weights. */
  offset: number;
  size: number;
}

/** The trainable weights in the Keras model's order (`model.trainableWeights`), packed end to end. */
export function paramSpecs(): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, size });
    offset += size;
  };
  let [height, width, channels] = [IMAGE_SIZE, IMAGE_SIZE, 1];
  for (const layer of LAYERS) {
    if (layer.kind === 'conv2d') {
      add(`${layer.name}/kernel`, [layer.kernelSize, layer.kernelSize, channels, layer.filters]);
      add(`${layer.name}/bias`, [layer.filters]);
      [height, width, channels] = [height - layer.kernelSize + 1, width - layer.kernelSize + 1, layer.filters];
    } else if (layer.kind === 'maxPooling2d') {
      [height, width] = [Math.floor(height / layer.poolSize), Math.floor(width / layer.poolSize)];
    } else if (layer.kind === 'flatten') {
      [height, width, channels] = [1, 1, height * width * channels];
    } else if (layer.kind === 'dense') {
      add(`${layer.name}/kernel`, [channels, layer.units]);
      add(`${layer.name}/bias`, [layer.units]);
      channels = layer.units;
    }
  }
  return specs;
}

export const PARAMS = paramSpecs();
export const PARAM_COUNT = PARAMS.reduce((n, p) => n + p.size, 0);

/**
 * Dropout masks drawn per example from (seed, step, position in the batch): seeded, different at
 * every step, and the same whichever worker gets the example, so N workers train like one.
 */
export interface DropoutDraw {
  seed: number;
  step: number;
  /** Position of the shard's first example in the whole batch. */
  firstPosition: number;
}

/**
 * Logits of the network (the softmax lives in the loss). Dropout is applied only when `dropout` is
 * given. Outside gradients the second convolution runs as Winograd F(4×4, 3×3) unless `exact`:
 * then it is XNNPACK's, as in stock tfjs.
 */
export function logits(
  params: readonly tf.Tensor[],
  x: tf.Tensor4D,
  dropout?: DropoutDraw,
  exact = false,
): tf.Tensor2D {
  let h: tf.Tensor = x;
  let p = 0;
  let dropoutIndex = 0;
  for (let l = 0; l < LAYERS.length; l++) {
    const layer = LAYERS[l];
    switch (layer.kind) {
      case 'conv2d': {
        const [w, b] = [params[p] as tf.Tensor4D, params[p + 1] as tf.Tensor1D];
        p += 2;
        const next = LAYERS[l + 1];
        if (next?.kind === 'maxPooling2d' && next.poolSize === 2) {
          h = convBiasReluPool(h as tf.Tensor4D, w, b, exact);
          l++;
        } else {
          h = convBiasRelu(h as tf.Tensor4D, w, b);
        }
        break;
      }
      case 'maxPooling2d':
        h = tf.maxPool(h as tf.Tensor4D, layer.poolSize, layer.poolSize, 'valid');
        break;
      case 'dropout':
        if (dropout) h = tf.mul(h, dropoutMask(h.shape, layer.rate, dropout, dropoutIndex));
        dropoutIndex++;
        break;
      case 'flatten':
        h = tf.reshape(h, [h.shape[0], -1]);
        break;
      case 'dense': {
        const activation = layer.activation === 'softmax' ? 'linear' : layer.activation;
        h = tf.fused.matMul({ a: h as tf.Tensor2D, b: params[p] as tf.Tensor2D, bias: params[p + 1], activation });
        p += 2;
        break;
      }
    }
  }
  return h as tf.Tensor2D;
}

const VALID_CONV = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 } as const;

/**
 * relu(conv(x, w) + b) as ONE forward kernel (XNNPACK fuses bias and relu; tfjs's own fused conv2d
 * unfuses itself whenever gradients are recorded) and a registered gradient: relu's gradient, then
 * convGradients. A registered gradient, not tf.customGrad, which copies its inputs and outputs at
 * every call.
 */
function convBiasRelu(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D): tf.Tensor4D {
  return tf.engine().runKernel(CONV_BIAS_RELU, { x, filter: w, bias: b }, { ...VALID_CONV }) as tf.Tensor4D;
}

tf.registerGradient({
  kernelName: CONV_BIAS_RELU,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [x, filter, y] = saved;
    // relu's gradient at the input's width (zero columns to the right): the layout the filter
    // gradient multiplies without copying, and a valid input gradient once padded on the right.
    const paddedWidth = x.shape[2]!;
    const dyA = tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, y }, { paddedWidth }) as tf.Tensor;
    return convGradients(x, filter, dyA);
  },
});

/**
 * maxPool₂ₓ₂(relu(conv(x, w) + b)): the conv layer and the max-pool after it as one kernel, so that
 * their backward passes are one pass too: the pooled gradient goes to each window's first maximum
 * if that is > 0 (relu's gradient), written at the input's width, instead of MaxPoolGrad writing the
 * full-size gradient and relu's gradient reading it again. While a gradient is recorded the kernel
 * keeps the relu output for it (takeReluOutput).
 */
function convBiasReluPool(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, exact: boolean): tf.Tensor4D {
  // Winograd's faster arithmetic; while a gradient is recorded with the exact rule for ties (see the kernel).
  const training = tf.engine().state.gradientDepth > 0;
  const [pooled] = tf
    .engine()
    .runKernel(
      CONV_BIAS_RELU_POOL,
      { x, filter: w, bias: b },
      { ...VALID_CONV, winograd: !exact, training },
    ) as tf.Tensor[];
  return pooled as tf.Tensor4D;
}

tf.registerGradient({
  kernelName: CONV_BIAS_RELU_POOL,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [x, filter, pooled] = saved;
    // The relu output the kernel kept, as a tensor of this backward pass (disposed with its scope).
    const y = tf.engine().makeTensorFromTensorInfo(takeReluOutput(pooled));
    const paddedWidth = x.shape[2]!;
    const dyA = tf.engine().runKernel(MAX_POOL_RELU_GRAD, { dy: dy as tf.Tensor, y }, { paddedWidth }) as tf.Tensor;
    return convGradients(x, filter, dyA);
  },
});

/**
 * The filter and bias gradients in one kernel and the input gradient (only computed if asked for: the
 * first layer's input is the data) from dyA, the gradient before relu at x's width (zero columns).
 */
function convGradients(x: tf.Tensor, filter: tf.Tensor, dyA: tf.Tensor) {
  const [dW, dBias] = tf
    .engine()
    .runKernel(CONV_FILTER_BIAS_GRAD, { x, dy: dyA }, { filterShape: filter.shape }) as tf.Tensor[];
  return {
    x: () => tf.engine().runKernel(CONV_INPUT_GRAD, { dy: dyA, filter }, { inputShape: x.shape }) as tf.Tensor,
    filter: () => dW,
    bias: () => dBias,
  };
}

/**
 * Keras's inverted dropout: kept units are scaled by 1/(1−rate) so nothing changes at inference.
 * Each example's units are drawn from `seededRandom(exampleSeed(…))`, inlined: the
 * same stream, compared as 32-bit integers (u/2³² ≥ rate exactly when u ≥ rate·2³²), and the kept
 * value looked up rather than branched on (a coin flip mispredicts): 16.6 → 3.5 ms a step.
 */
export function dropoutMask(shape: number[], rate: number, draw: DropoutDraw, layerIndex: number): tf.Tensor {
  const perExample = shape.slice(1).reduce((a, b) => a * b, 1);
  const values = Float32Array.of(0, 1 / (1 - rate));
  const threshold = rate * 2 ** 32;
  if (tf.getBackend() === 'wasm' && threshold < 2 ** 32) {
    // In wasm, four units at a time (kernels.ts): the same draws; u ≥ threshold ⇔ u ≥ ⌈threshold⌉.
    const seeds = Int32Array.from({ length: shape[0] }, (_, e) => exampleSeed(draw, e, layerIndex) | 0);
    const info = dropoutMaskInfo(tf.backend(), shape, seeds, Math.ceil(threshold) >>> 0, values[1]);
    if (info) return tf.engine().makeTensorFromTensorInfo(info);
  }
  const mask = new Float32Array(shape[0] * perExample);
  for (let e = 0; e < shape[0]; e++) {
    // Mulberry32, as in seededRandom (src/shared/random.ts), on the int32 bits of its state.
    let state = exampleSeed(draw, e, layerIndex) | 0;
    for (let i = e * perExample, end = i + perExample; i < end; i++) {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      mask[i] = values[+((t ^ (t >>> 14)) >>> 0 >= threshold)];
    }
  }
  return tf.tensor(mask, shape);
}

/** The seed of example `example` of a shard's dropout draw at layer `layerIndex`. */
export function exampleSeed(draw: DropoutDraw, example: number, layerIndex: number): number {
  return mix(draw.seed, draw.step, draw.firstPosition + example, layerIndex);
}

/** A 32-bit hash of a few integers (murmur3's finaliser), to seed one example's dropout draw. */
function mix(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** v/255 for every byte v: the same float32 values as dividing, without a division per pixel. */
const PIXEL_SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** The augmented recipe's distortions, drawn per example like dropout (AUGMENT_STREAM's seeds). */
export interface AugmentDraw extends DropoutDraw {
  config: AugmentConfig;
}

/** Where augmentation's seeds come from: a stream apart from every layer's dropout draw. */
const AUGMENT_STREAM = 0x6175;

/**
 * Network-ready inputs for examples `indices` of `set`: pixels scaled to [0,1], one-hot labels;
 * with `augment`, each digit distorted and normalised first (src/train/data/augment.ts).
 */
export function batchTensors(
  set: DigitSet,
  indices: ArrayLike<number>,
  augment?: AugmentDraw,
): { x: tf.Tensor4D; labels: Uint8Array; oneHot: tf.Tensor2D } {
  const n = indices.length;
  const pixels = new Float32Array(n * PIXEL_COUNT);
  const labels = new Uint8Array(n);
  const oneHot = new Float32Array(n * NUM_CLASSES);
  for (let i = 0; i < n; i++) {
    const src = indices[i];
    let digit = set.images.subarray(src * PIXEL_COUNT, (src + 1) * PIXEL_COUNT);
    if (augment) digit = augmentDigit(digit, augment.config, seededRandom(exampleSeed(augment, i, AUGMENT_STREAM)));
    for (let j = 0; j < PIXEL_COUNT; j++) pixels[i * PIXEL_COUNT + j] = PIXEL_SCALE[digit[j]];
    labels[i] = set.labels[src];
    oneHot[i * NUM_CLASSES + labels[i]] = 1;
  }
  return {
    x: tf.tensor4d(pixels, [n, IMAGE_SIZE, IMAGE_SIZE, 1]),
    labels,
    oneHot: tf.tensor2d(oneHot, [n, NUM_CLASSES]),
  };
}

/** How many rows of `logits` (a [n,10] row-major array) put their maximum on the true label. */
export function countCorrect(logitValues: Float32Array, labels: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < NUM_CLASSES; c++)
      if (logitValues[i * NUM_CLASSES + c] > logitValues[i * NUM_CLASSES + best]) best = c;
    if (best === labels[i]) correct++;
  }
  return correct;
}

export interface ShardResult {
  /** Σ of the per-example cross-entropies over the shard. */
  lossSum: number;
  correct: number;
}

/**
 * Gradients of (Σ_shard cross-entropy) / batchSize. Dividing by the whole batch's size, not the
 * shard's, weights each shard by its size: the shards' gradients simply add up to the batch's.
 */
export function shardGradients(
  variables: readonly tf.Variable[],
  set: DigitSet,
  indices: ArrayLike<number>,
  batchSize: number,
  dropout?: DropoutDraw,
  augment?: AugmentDraw,
  onAugmented?: (ms: number) => void,
): { grads: tf.Tensor[]; result: ShardResult } {
  const started = performance.now();
  const { x, labels, oneHot } = batchTensors(set, indices, augment);
  if (augment) onAugmented?.(performance.now() - started);
  let logitValues: Float32Array = new Float32Array(0);
  let lossSum = NaN;
  let value: tf.Scalar;
  let grads: tf.NamedTensorMap;
  try {
    ({ value, grads } = tf.variableGrads(() => {
      const out = logits(variables, x, dropout);
      logitValues = out.dataSync() as Float32Array;
      const sum = tf.losses.softmaxCrossEntropy(oneHot, out, undefined, 0, tf.Reduction.SUM);
      lossSum = sum.dataSync()[0];
      return tf.div(sum, batchSize) as tf.Scalar;
    }, variables as tf.Variable[]));
  } finally {
    disposeUntakenReluOutputs(tf.backend());
  }
  tf.dispose([x, oneHot, value]);
  return {
    grads: variables.map((v) => grads[v.name]),
    result: { lossSum, correct: countCorrect(logitValues, labels) },
  };
}

/**
 * Logit gap below which a prediction is recomputed with XNNPACK's convolution: Winograd's logits
 * differ from it by ~1e-5 (1.1e-5 at most on the 10k test digits), so above this gap both pick the
 * same class, and a model's accuracy here is the one stock tfjs measures.
 */
export const NEAR_TIE = 1e-3;

/**
 * Σ cross-entropy and correct count of examples [from, to) of `set`, in chunks. With `probabilities`
 * (a [set.count, 10] row-major array), also writes the softmax outputs of those rows into it.
 */
export function evaluateRange(
  params: readonly tf.Tensor[],
  set: DigitSet,
  from: number,
  to: number,
  options: { chunk?: number; probabilities?: Float32Array } = {},
): ShardResult {
  const { chunk = 500, probabilities } = options;
  let lossSum = 0;
  let correct = 0;
  for (let start = from; start < to; start += chunk) {
    const end = Math.min(start + chunk, to);
    const indices = Array.from({ length: end - start }, (_, i) => start + i);
    const { x, labels, oneHot } = batchTensors(set, indices);
    const [values, loss] = tf.tidy(() => {
      const out = exactNearTies(params, set, indices, logits(params, x));
      // The Keras model's last layer: softmax of these logits, as tfjs-layers computes it.
      if (probabilities) probabilities.set(tf.softmax(out).dataSync(), start * NUM_CLASSES);
      return [
        out.dataSync() as Float32Array,
        tf.losses.softmaxCrossEntropy(oneHot, out, undefined, 0, tf.Reduction.SUM).dataSync()[0],
      ];
    });
    lossSum += loss;
    correct += countCorrect(values, labels);
    tf.dispose([x, oneHot]);
  }
  return { lossSum, correct };
}

/** `out` with the rows whose two largest logits are within NEAR_TIE recomputed exactly. */
function exactNearTies(params: readonly tf.Tensor[], set: DigitSet, indices: number[], out: tf.Tensor2D): tf.Tensor2D {
  const values = out.dataSync() as Float32Array;
  const rows: number[] = [];
  for (let i = 0; i < indices.length; i++) {
    const row = values.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    let [first, second] = [-Infinity, -Infinity];
    for (const v of row) {
      if (v > first) [first, second] = [v, first];
      else if (v > second) second = v;
    }
    if (first - second < NEAR_TIE) rows.push(i);
  }
  if (rows.length === 0) return out;
  const { x } = batchTensors(
    set,
    rows.map((i) => indices[i]),
  );
  // conv2 and the dense products as stock tfjs runs them (XNNPACK).
  const exact = withStockProducts(() => logits(params, x, undefined, true).dataSync());
  x.dispose();
  const patched = values.slice();
  for (const [r, i] of rows.entries()) {
    patched.set(exact.subarray(r * NUM_CLASSES, (r + 1) * NUM_CLASSES), i * NUM_CLASSES);
  }
  return tf.tensor2d(patched, out.shape);
}
