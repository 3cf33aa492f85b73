// The training loop: the seed's recipe on tf.data batches shuffled per epoch with a seeded order.
import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES, PIXEL_COUNT, scalePixels } from '../shared/model-spec.ts';
import { seededRandom } from '../shared/random.ts';
import type { DigitSet } from './data.ts';
import type { AdadeltaConfig } from './optimizer.ts';
import type { EpochRecord } from './pictures.ts';

export interface Recipe {
  epochs: number;
  batchSize: number;
  /** Train on the first N training images only (smoke runs, benchmarks). */
  trainLimit: number | null;
  seed: number;
  optimizer: AdadeltaConfig;
}

export interface TrainHooks {
  onEpochStart?(epoch: number, steps: number): void;
  onBatchEnd?(step: number, logs: { loss: number; accuracy: number; msPerStep: number }): void;
  /** Awaited, with every epoch so far (resumed ones included): a checkpoint can be written here. */
  onEpochEnd?(record: EpochRecord, history: readonly EpochRecord[]): Promise<void> | void;
}

export interface TrainSummary {
  history: EpochRecord[];
  trainSeconds: number;
  imagesPerSecond: number;
  msPerStep: number;
}

/** tfjs reports metrics as float32 (0.992 arrives as 0.99199998): keep the digits that mean something. */
export function roundMetric(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Gathers the given examples into network-ready tensors: xs [n,28,28,1] in [0,1], ys one-hot. */
export function toTensors(set: DigitSet, indices?: ArrayLike<number>): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const n = indices ? indices.length : set.count;
  const pixels = new Float32Array(n * PIXEL_COUNT);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = indices ? indices[i] : i;
    scalePixels(set.images.subarray(src * PIXEL_COUNT, (src + 1) * PIXEL_COUNT), pixels.subarray(i * PIXEL_COUNT));
    labels[i] = set.labels[src];
  }
  return tf.tidy(() => ({
    xs: tf.tensor4d(pixels, [n, IMAGE_SIZE, IMAGE_SIZE, 1]),
    ys: tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES).toFloat() as tf.Tensor2D,
  }));
}

/** The example order of one epoch; a function of (seed, epoch) so a resumed run sees the same order. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const random = seededRandom(seed * 1_000_003 + epoch);
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export async function trainModel(
  model: tf.LayersModel,
  recipe: Recipe,
  train: DigitSet,
  test: DigitSet,
  hooks: TrainHooks = {},
  previousEpochs: readonly EpochRecord[] = [],
): Promise<TrainSummary> {
  const history = [...previousEpochs];
  const initialEpoch = history.length;
  const steps = Math.ceil(train.count / recipe.batchSize);
  let epoch = initialEpoch;
  const batches = tf.data.generator(function* () {
    const order = epochOrder(train.count, recipe.seed, epoch);
    for (let start = 0; start < train.count; start += recipe.batchSize) {
      yield toTensors(train, order.subarray(start, start + recipe.batchSize));
    }
  });
  const { xs: testXs, ys: testYs } = toTensors(test);
  let epochStarted = 0;
  let lastBatchEnded = 0;
  let epochsRun = 0;
  let stepSeconds = 0;
  const started = performance.now();
  try {
    await model.fitDataset(batches, {
      epochs: recipe.epochs,
      initialEpoch,
      validationData: [testXs, testYs],
      validationBatchSize: 500,
      verbose: 0,
      callbacks: {
        onEpochBegin: async (e) => {
          epoch = e;
          epochStarted = performance.now();
          hooks.onEpochStart?.(e + 1, steps);
        },
        onBatchEnd: async (step, logs) => {
          lastBatchEnded = performance.now();
          const msPerStep = (lastBatchEnded - epochStarted) / (step + 1);
          hooks.onBatchEnd?.(step + 1, { loss: logs?.loss ?? NaN, accuracy: logs?.acc ?? NaN, msPerStep });
        },
        onEpochEnd: async (e, logs) => {
          const seconds = (performance.now() - epochStarted) / 1000;
          epochsRun++;
          stepSeconds += (lastBatchEnded - epochStarted) / 1000;
          const record: EpochRecord = {
            epoch: e + 1,
            loss: roundMetric(logs!.loss),
            accuracy: roundMetric(logs!.acc),
            testLoss: roundMetric(logs!.val_loss),
            testAccuracy: roundMetric(logs!.val_acc),
            seconds: Math.round(seconds * 10) / 10,
          };
          history.push(record);
          await hooks.onEpochEnd?.(record, history);
        },
      },
    });
  } finally {
    tf.dispose([testXs, testYs]);
  }
  const trainSeconds = (performance.now() - started) / 1000;
  return {
    history,
    trainSeconds,
    // Throughput counts training steps only, not the per-epoch validation.
    imagesPerSecond: (epochsRun * train.count) / stepSeconds,
    msPerStep: (stepSeconds * 1000) / (epochsRun * steps),
  };
}

/** Test loss and accuracy of any model on a digit set, in batches. */
export async function evaluate(model: tf.LayersModel, set: DigitSet, batchSize = 500): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(start + batchSize, set.count);
    const slice: DigitSet = {
      count: end - start,
      images: set.images.subarray(start * PIXEL_COUNT, end * PIXEL_COUNT),
      labels: set.labels.subarray(start, end),
    };
    const { xs, ys } = toTensors(slice);
    const [loss, hits] = tf.tidy(() => {
      const probs = model.predict(xs) as tf.Tensor2D;
      const l = tf.metrics.categoricalCrossentropy(ys, probs).sum();
      const h = probs.argMax(1).equal(ys.argMax(1)).sum();
      return [l, h];
    });
    lossSum += (await loss.data())[0];
    correct += (await hits.data())[0];
    tf.dispose([xs, ys, loss, hits]);
  }
  return { loss: roundMetric(lossSum / set.count), accuracy: correct / set.count };
}
