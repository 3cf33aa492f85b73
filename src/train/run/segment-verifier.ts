// Trains the segment verifier (shared/segment-verifier.ts) on candidate pieces of numbers made of
// MNIST training digits (data/segment-pieces.ts): a small dense network, stock tfjs on the wasm
// backend, seeded. Its files are a raw float32 weights.bin in the order of verifierWeightShapes,
// a model.json naming the layers and shapes, and a metadata.json with the seed, the data and the
// accuracy on held-out pieces (numbers made of other training digits than those it learns from).

import * as tf from '@tensorflow/tfjs';
import type { DigitSet } from '../../shared/model-spec.ts';
import { seededRandom } from '../../shared/random.ts';
import {
  VERIFIER_CLASSES,
  VERIFIER_INPUTS,
  VERIFIER_LAYERS,
  VERIFIER_METADATA_JSON,
  VERIFIER_MODEL_JSON,
  VERIFIER_WEIGHTS_FILE,
  verifierWeightShapes,
} from '../../shared/segment-verifier.ts';
import { type PieceSet, pieceSet } from '../data/segment-pieces.ts';
import { modelVersion } from '../formats/model-version.ts';
import { ensureWasmBackend } from '../kernels/wasm-backend.ts';

export interface VerifierOptions {
  seed: number;
  /** Number pictures whose candidates it learns from, and to measure it on. */
  trainPictures: number;
  validationPictures: number;
  epochs: number;
  batchSize?: number;
  learningRate?: number;
}

export const DEFAULT_VERIFIER_OPTIONS: VerifierOptions = {
  seed: 1,
  trainPictures: 3000,
  validationPictures: 450,
  epochs: 20,
};

/** Training digits the training pieces are drawn from; the rest make the validation pieces. */
const TRAIN_SHARE = 5 / 6;

export interface VerifierResult {
  files: Record<string, Uint8Array | string>;
  version: string;
  /** On the validation pieces. */
  accuracy: number;
  /** rows: true class, columns: predicted, in VERIFIER_CLASSES order. */
  confusion: number[][];
  trainPieces: number;
  /** Loss per epoch, on the training pieces. */
  losses: number[];
}

function digitRange(mnist: DigitSet, from: number, to: number): DigitSet {
  return {
    count: to - from,
    images: mnist.images.subarray(from * 784, to * 784),
    labels: mnist.labels.subarray(from, to),
  };
}

function buildModel(seed: number): tf.Sequential {
  const model = tf.sequential();
  VERIFIER_LAYERS.forEach((layer, i) => {
    model.add(
      tf.layers.dense({
        name: layer.name,
        units: layer.units,
        activation: layer.activation,
        inputShape: i === 0 ? [VERIFIER_INPUTS] : undefined,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + i }),
      }),
    );
  });
  return model;
}

function evaluate(model: tf.Sequential, set: PieceSet): { accuracy: number; confusion: number[][] } {
  const n = VERIFIER_CLASSES.length;
  const confusion = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const predicted = new Int32Array(set.count);
  const chunk = 4096;
  for (let from = 0; from < set.count; from += chunk) {
    const n = Math.min(chunk, set.count - from);
    const part = tf.tidy(() => {
      const x = tf.tensor2d(set.inputs.subarray(from * VERIFIER_INPUTS, (from + n) * VERIFIER_INPUTS), [
        n,
        VERIFIER_INPUTS,
      ]);
      return (model.predict(x, { batchSize: chunk }) as tf.Tensor).argMax(1).dataSync();
    });
    predicted.set(part, from);
  }
  let right = 0;
  for (let i = 0; i < set.count; i++) {
    confusion[set.labels[i]][predicted[i]]++;
    if (set.labels[i] === predicted[i]) right++;
  }
  return { accuracy: right / Math.max(1, set.count), confusion };
}

/** Trains the verifier on MNIST training digits; `log` hears each epoch. */
export async function trainVerifier(
  mnist: DigitSet,
  options: VerifierOptions,
  log: (line: string) => void = () => {},
): Promise<VerifierResult> {
  await ensureWasmBackend();
  const split = Math.floor(mnist.count * TRAIN_SHARE);
  const train = pieceSet(digitRange(mnist, 0, split), { pictures: options.trainPictures, seed: options.seed });
  const validation = pieceSet(digitRange(mnist, split, mnist.count), {
    pictures: options.validationPictures,
    seed: options.seed + 1_000_003,
  });
  log(`${train.count} training pieces, ${validation.count} validation pieces`);
  const model = buildModel(options.seed);
  model.compile({
    optimizer: tf.train.adam(options.learningRate ?? 0.002),
    loss: 'sparseCategoricalCrossentropy',
  });
  const random = seededRandom(options.seed);
  const order = Array.from({ length: train.count }, (_, i) => i);
  const x = new Float32Array(train.count * VERIFIER_INPUTS);
  const y = new Float32Array(train.count);
  const losses: number[] = [];
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    order.forEach((from, i) => {
      x.set(train.inputs.subarray(from * VERIFIER_INPUTS, (from + 1) * VERIFIER_INPUTS), i * VERIFIER_INPUTS);
      y[i] = train.labels[from];
    });
    const xs = tf.tensor2d(x, [train.count, VERIFIER_INPUTS]);
    const ys = tf.tensor1d(y);
    const history = await model.fit(xs, ys, {
      batchSize: options.batchSize ?? 128,
      epochs: 1,
      shuffle: false,
      verbose: 0,
    });
    xs.dispose();
    ys.dispose();
    losses.push(Number(history.history.loss[0]));
    log(`epoch ${epoch + 1}/${options.epochs}: loss ${losses.at(-1)?.toFixed(4)}`);
  }
  const { accuracy, confusion } = evaluate(model, validation);
  const shapes = verifierWeightShapes();
  const weights = model.getWeights();
  const size = shapes.reduce((sum, { shape }) => sum + shape.reduce((a, b) => a * b, 1), 0);
  const data = new Float32Array(size);
  let offset = 0;
  weights.forEach((w, i) => {
    const values = w.dataSync() as Float32Array;
    if (values.length !== shapes[i].shape.reduce((a, b) => a * b, 1)) throw new Error(`weight ${shapes[i].name}: size`);
    data.set(values, offset);
    offset += values.length;
  });
  model.dispose();
  const bytes = new Uint8Array(data.buffer);
  const version = modelVersion(bytes);
  const modelJson = { format: 'segment-verifier', inputs: VERIFIER_INPUTS, layers: VERIFIER_LAYERS, weights: shapes };
  const metadata = {
    name: 'segment-verifier',
    version,
    trainedAt: new Date().toISOString(),
    classes: VERIFIER_CLASSES,
    parameters: size,
    seed: options.seed,
    data: {
      source: 'MNIST training digits only (the test pictures are made of test digits)',
      trainDigits: `0–${split - 1}`,
      validationDigits: `${split}–${mnist.count - 1}`,
      trainPictures: options.trainPictures,
      validationPictures: options.validationPictures,
      trainPieces: train.count,
      validationPieces: validation.count,
    },
    epochs: options.epochs,
    validationAccuracy: Math.round(accuracy * 10_000) / 10_000,
    confusion,
  };
  return {
    files: {
      [VERIFIER_MODEL_JSON]: `${JSON.stringify(modelJson, null, 2)}\n`,
      [VERIFIER_WEIGHTS_FILE]: bytes,
      [VERIFIER_METADATA_JSON]: `${JSON.stringify(metadata, null, 2)}\n`,
    },
    version,
    accuracy,
    confusion,
    trainPieces: train.count,
    losses,
  };
}
