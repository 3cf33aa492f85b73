// The training loop, top to bottom: for each epoch, for each batch of a seeded shuffle, the
// replicas' summed gradients and one Keras-Adadelta step; then one pass over the test set.
import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES, PIXEL_COUNT, scalePixels } from '../../shared/model-spec.ts';
import { seededRandom } from '../../shared/random.ts';
import { type AugmentConfig, DEFAULT_AUGMENTATION } from '../data/augment.ts';
import type { DigitSet } from '../data/mnist.ts';
import { PARAM_COUNT, PARAMS } from '../replicas/network.ts';
import type { AdadeltaConfig, KerasAdadelta } from '../replicas/optimizer.ts';
import type { ReplicaGroup } from '../replicas/parallel.ts';
import type { EpochRecord } from '../report/pictures.ts';

export type RecipeName = 'keras' | 'augmented';

export interface Recipe {
  /** `keras`: the tutorial's recipe exactly; `augmented`: distorted digits, more epochs, a decaying rate. */
  name: RecipeName;
  epochs: number;
  batchSize: number;
  /** Train on the first N training images only (smoke runs, benchmarks). */
  trainLimit: number | null;
  seed: number;
  optimizer: AdadeltaConfig;
  /** The learning rate falls from the optimizer's along a half cosine to this by the last step; null keeps it. */
  finalLearningRate: number | null;
  /** Distortions of the training digits (null: MNIST as it is). */
  augmentation: AugmentConfig | null;
  /** The last N epochs train on MNIST as it is, at the schedule's low end (a clean finish). */
  cleanEpochs: number;
  /**
   * The model is the mean of the weights at the ends of the last N epochs (stochastic weight
   * averaging, Izmailov et al. 2018); 0 or 1: the last epoch's weights.
   */
  averageEpochs: number;
}

/** What each recipe sets; the command line may change the epochs, batch size and seed. */
export const RECIPES: Record<
  RecipeName,
  Pick<Recipe, 'epochs' | 'finalLearningRate' | 'augmentation' | 'cleanEpochs' | 'averageEpochs'>
> = {
  keras: { epochs: 10, finalLearningRate: null, augmentation: null, cleanEpochs: 0, averageEpochs: 0 },
  augmented: {
    // 40 epochs of which the last 3 clean: the committed model's run (docs/training.md, "Fourth
    // try"); 30 epochs without the clean finish ended at 99.43–99.48% in three runs.
    epochs: 40,
    finalLearningRate: 0.05,
    augmentation: DEFAULT_AUGMENTATION,
    cleanEpochs: 3,
    // Averaging the last 3–8 epochs' weights measured 0.04–0.05 points below the last epoch's alone
    // on MNIST (docs/training.md, "Weight averaging"): an option (--average-epochs), not the recipe.
    averageEpochs: 0,
  },
};

/**
 * The running sum of the weights at the ends of epochs `from`, `from + 1`, … (`epochs` of them),
 * in float64 so that the order of the sum does not matter to float32's precision.
 */
export class WeightAverage {
  constructor(
    readonly sum = new Float64Array(PARAM_COUNT),
    public from = 0,
    public epochs = 0,
  ) {}

  /** Adds epoch `epoch`'s weights; a gap (a resumed run whose window moved) starts the sum afresh there. */
  add(epoch: number, weights: Float32Array): void {
    if (this.epochs === 0 || this.from + this.epochs !== epoch) {
      this.sum.fill(0);
      this.from = epoch;
      this.epochs = 0;
    }
    for (let i = 0; i < weights.length; i++) this.sum[i] += weights[i];
    this.epochs++;
  }

  mean(): Float32Array {
    const mean = new Float32Array(this.sum.length);
    for (let i = 0; i < mean.length; i++) mean[i] = this.sum[i] / this.epochs;
    return mean;
  }
}

/** The learning rate of global step `step` of `totalSteps`. */
export function learningRateAt(recipe: Recipe, step: number, totalSteps: number): number {
  const { learningRate } = recipe.optimizer;
  if (recipe.finalLearningRate === null) return learningRate;
  const progress = Math.min(1, step / Math.max(1, totalSteps - 1));
  return (
    recipe.finalLearningRate + ((learningRate - recipe.finalLearningRate) * (1 + Math.cos(Math.PI * progress))) / 2
  );
}

/** Where a run stopped inside an epoch: enough to carry on exactly as if it had not stopped. */
export interface Position {
  /** 0-based epoch, and steps of it already applied. */
  epoch: number;
  step: number;
  lossSum: number;
  correct: number;
  seen: number;
  /** Seconds of this epoch so far. */
  seconds: number;
}

export interface TrainHooks {
  onEpochStart?(epoch: number, steps: number, firstStep: number): void;
  onBatchEnd?(step: number, logs: { loss: number; accuracy: number; msPerStep: number }): void;
  /** Awaited, with every epoch so far (resumed ones included): a checkpoint can be written here. */
  onEpochEnd?(record: EpochRecord, history: readonly EpochRecord[]): Promise<void> | void;
}

export interface TrainOptions {
  hooks?: TrainHooks;
  /** Epochs already done (a resumed run) and where inside the next one to start. */
  history?: readonly EpochRecord[];
  position?: Position | null;
  /** Polled after every step; true stops the run there, with `stoppedAt` set. */
  shouldStop?: () => boolean;
  /** Test hook: pretend the loss of this global step (0-based) came out NaN. */
  nanAtStep?: number;
  /** The recipe's weight average so far (a resumed run's, from its checkpoint); filled in as epochs end. */
  average?: WeightAverage;
}

export interface TrainSummary {
  history: EpochRecord[];
  /** Set when `shouldStop` ended the run early. */
  stoppedAt: Position | null;
  /** Training steps only (no validation), over the epochs run here. */
  imagesPerSecond: number;
  msPerStep: number;
  /** Milliseconds each rank spent augmenting per step, on average (null: no augmentation). */
  augmentMsPerStep: number | null;
  /** The test figures of the averaged weights, which the model then holds (null: no averaging). */
  averaged: { epochs: number; testLoss: number; testAccuracy: number } | null;
}

export class DivergedError extends Error {
  override name = 'DivergedError';
}

/** tfjs reports metrics as float32 (0.992 arrives as 0.99199998): keep the digits that mean something. */
export function roundMetric(value: number): number {
  return Math.round(value * 1e6) / 1e6;
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

/** The Keras model's trainable weights as tfjs variables, checked against the order replicas use. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  PARAMS.forEach((p, i) => {
    const v = variables[i];
    if (!v?.name.startsWith(p.name) || v.shape.join() !== p.shape.join()) {
      throw new Error(`Model weight ${i} is ${v?.name} [${v?.shape}], expected ${p.name} [${p.shape}]`);
    }
  });
  return variables;
}

export async function trainModel(
  model: tf.LayersModel,
  group: ReplicaGroup,
  recipe: Recipe,
  train: DigitSet,
  options: TrainOptions = {},
): Promise<TrainSummary> {
  const { hooks = {}, shouldStop = () => false, average = new WeightAverage() } = options;
  const history = [...(options.history ?? [])];
  const optimizer = model.optimizer as KerasAdadelta;
  const steps = Math.ceil(train.count / recipe.batchSize);
  let stepSeconds = 0;
  let stepsRun = 0;
  let imagesRun = 0;
  const augmentMsAtStart = group.augmentMs;
  const summary = (stoppedAt: Position | null): TrainSummary => ({
    history,
    stoppedAt,
    imagesPerSecond: imagesRun / stepSeconds,
    msPerStep: (stepSeconds * 1000) / stepsRun,
    augmentMsPerStep: recipe.augmentation ? (group.augmentMs - augmentMsAtStart) / group.workers / stepsRun : null,
    averaged: null,
  });

  for (let epoch = history.length; epoch < recipe.epochs; epoch++) {
    const order = epochOrder(train.count, recipe.seed, epoch);
    const resumed = options.position?.epoch === epoch ? options.position : null;
    let {
      step: firstStep,
      lossSum,
      correct,
      seen,
      seconds,
    } = resumed ?? { step: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 };
    hooks.onEpochStart?.(epoch + 1, steps, firstStep);
    const epochStart = performance.now() - seconds * 1000;

    for (let step = firstStep; step < steps; step++) {
      const stepStart = performance.now();
      const globalStep = epoch * steps + step;
      const indices = order.subarray(step * recipe.batchSize, (step + 1) * recipe.batchSize);
      const augment = recipe.augmentation !== null && epoch < recipe.epochs - recipe.cleanEpochs;
      const batch = await group.gradients(indices, { seed: recipe.seed, step: globalStep }, augment);
      if (globalStep === options.nanAtStep) batch.lossSum = NaN;
      if (!Number.isFinite(batch.lossSum)) {
        throw new DivergedError(
          `The loss became ${batch.lossSum} at epoch ${epoch + 1}, step ${step + 1}: training stopped before ` +
            `applying that step; the last checkpoint and model are untouched`,
        );
      }
      await group.update(optimizer, learningRateAt(recipe, globalStep, recipe.epochs * steps));

      lossSum += batch.lossSum;
      correct += batch.correct;
      seen += batch.count;
      stepSeconds += (performance.now() - stepStart) / 1000;
      stepsRun++;
      imagesRun += batch.count;
      const msPerStep = (performance.now() - epochStart) / (step + 1);
      hooks.onBatchEnd?.(step + 1, { loss: lossSum / seen, accuracy: correct / seen, msPerStep });
      // A macrotask per step, so that a Ctrl-C handler runs even with one worker (no waiting at all).
      await new Promise((resolve) => setImmediate(resolve));
      if (shouldStop() && step + 1 < steps) {
        return summary({
          epoch,
          step: step + 1,
          lossSum,
          correct,
          seen,
          seconds: (performance.now() - epochStart) / 1000,
        });
      }
    }

    // The recipe validates on the test set once per epoch; the last epoch's figures are the final ones.
    const test = await group.evaluate();
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: roundMetric(lossSum / seen),
      accuracy: roundMetric(correct / seen),
      testLoss: roundMetric(test.lossSum / group.state.test.count),
      testAccuracy: roundMetric(test.correct / group.state.test.count),
      seconds: Math.round((performance.now() - epochStart) / 100) / 10,
    };
    history.push(record);
    if (recipe.averageEpochs > 1 && epoch >= recipe.epochs - recipe.averageEpochs) average.add(epoch, group.weights);
    await hooks.onEpochEnd?.(record, history);
    if (shouldStop() && epoch + 1 < recipe.epochs) {
      return summary({ epoch: epoch + 1, step: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 });
    }
  }
  if (recipe.averageEpochs <= 1 || average.epochs < 2) return summary(null);
  // The model becomes the average: every replica (the main thread's, whose variables the model
  // exports, included) loads it at the test pass that measures it.
  group.weights.set(average.mean());
  group.weightsChanged();
  const test = await group.evaluate();
  return {
    ...summary(null),
    averaged: {
      epochs: average.epochs,
      testLoss: roundMetric(test.lossSum / group.state.test.count),
      testAccuracy: roundMetric(test.correct / group.state.test.count),
    },
  };
}

// Keras-model helpers for tools and tests, independent of the training loop.

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

/** Test loss and accuracy of any model on a digit set, in batches. */
export async function evaluate(
  model: tf.LayersModel,
  set: DigitSet,
  batchSize = 500,
): Promise<{ loss: number; accuracy: number }> {
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
