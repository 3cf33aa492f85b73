// `npm run train -- --fine-tune models/mnist-cnn --extra data/feedback [--epochs N]`: starts from the
// served model and trains it on corrections pulled from the edge (npm run feedback:pull), mixed with
// MNIST so that it does not forget MNIST. Part of the corrections is held out. The report gives MNIST
// test accuracy and held-out-correction accuracy before and after; the model directory is replaced
// only if MNIST test accuracy dropped by at most 0.2 points (--force overrides), and its
// metadata.json says what it was fine-tuned from. It runs on the trainer's replica group: every
// batch split over the threads, with the source recipe's augmentation and seeded dropout, so that
// --workers 1 and 2 give the same model.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as tf from '@tensorflow/tfjs';
import {
  type DigitSet,
  LAYERS,
  METADATA_JSON,
  MODEL_JSON,
  PIXEL_COUNT,
  WEIGHTS_FILE,
} from '../../shared/model-spec.ts';
import { seededRandom } from '../../shared/random.ts';
import type { AugmentConfig } from '../data/augment.ts';
import { FeedbackDataError, type FeedbackSet, loadFeedbackDir } from '../data/feedback.ts';
import { IdxFormatError } from '../data/idx.ts';
import { loadSplit } from '../data/mnist.ts';
import {
  encodeModel,
  loadModelFiles,
  modelArtifacts,
  modelDirFiles,
  type Quantization,
  writeDirAtomically,
} from '../formats/tfjs.ts';
import { useWasmBackend } from '../kernels/backend.ts';
import { PARAM_COUNT, PARAMS } from '../replicas/network.ts';
import { ADAM_DEFAULTS, adamStep } from '../replicas/optimizer.ts';
import { loadWeights, ReplicaGroup } from '../replicas/parallel.ts';
import { evaluate, roundMetric, trainableVariables } from './train.ts';

export const FINE_TUNE_HELP = `Usage: npm run train -- --fine-tune MODEL_DIR --extra FEEDBACK_DIR [options]

Fine-tunes the model in MODEL_DIR (e.g. models/mnist-cnn, the served one) on the corrections in
FEEDBACK_DIR (npm run feedback:pull), mixed with MNIST training digits. A part of the corrections
is held out for evaluation. Refuses to write the model if MNIST test accuracy drops by more than
${0.2} points. Runs on the trainer's replica group (one shard of each batch per thread), with
the augmentation of the recipe MODEL_DIR was trained with (metadata.json) and seeded dropout.

Options:
  --epochs N          passes over the mix (default 2)
  --out DIR           where the fine-tuned model goes (default: MODEL_DIR, replaced atomically)
  --force             write the model even if MNIST test accuracy dropped by more than 0.2 points
  --holdout F         fraction of the corrections held out for evaluation (default 0.25)
  --mnist N           MNIST training digits per epoch, a fresh seeded sample each epoch (default 2000)
  --share F           share of each epoch made of (repeated) corrections (default 0.1)
  --layers WHICH      dense (default: the convolutions stay as they are, faster, forgets less) or all
  --learning-rate X   Adam learning rate (default 0.00005)
  --batch-size N      (default 32)
  --seed N            split, sampling, shuffling, dropout and augmentation (default 1)
  --quantize TYPE     uint8, float16 or none (default: as MODEL_DIR)
  --workers N         threads of the replica group (default: ${availableParallelism()}, this machine's cores)
  -h, --help          show this help
`;

/** The run refuses to replace the model when MNIST test accuracy falls by more than this, in points. */
export const MAX_MNIST_DROP_POINTS = 0.2;

export interface FineTuneOptions {
  from: string;
  extra: string;
  out: string;
  epochs: number;
  force: boolean;
  holdout: number;
  mnistPerEpoch: number;
  share: number;
  learningRate: number;
  layers: 'dense' | 'all';
  batchSize: number;
  seed: number;
  quantize?: Quantization;
  workers: number;
}

export class FineTuneUsageError extends Error {}

export function parseFineTuneOptions(argv: string[]): FineTuneOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'fine-tune': { type: 'string' },
      extra: { type: 'string' },
      out: { type: 'string' },
      epochs: { type: 'string' },
      force: { type: 'boolean' },
      holdout: { type: 'string' },
      mnist: { type: 'string' },
      share: { type: 'string' },
      'learning-rate': { type: 'string' },
      layers: { type: 'string' },
      'batch-size': { type: 'string' },
      seed: { type: 'string' },
      quantize: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const from = values['fine-tune'];
  if (!from) throw new FineTuneUsageError('--fine-tune needs the model directory to start from, e.g. models/mnist-cnn');
  if (!values.extra)
    throw new FineTuneUsageError('--fine-tune needs --extra DIR, the corrections pulled with npm run feedback:pull');
  const number = (
    name: string,
    value: string | undefined,
    fallback: number,
    ok: (n: number) => boolean,
    what: string,
  ) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || !ok(n)) throw new FineTuneUsageError(`--${name} must be ${what}, got "${value}"`);
    return n;
  };
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const quantize = values.quantize as Quantization | undefined;
  const layers = values.layers ?? 'dense';
  if (layers !== 'dense' && layers !== 'all') throw new FineTuneUsageError('--layers must be dense or all');
  if (quantize !== undefined && !['uint8', 'float16', 'none'].includes(quantize))
    throw new FineTuneUsageError('--quantize must be uint8, float16 or none');
  return {
    from,
    extra: values.extra,
    out: values.out ?? from,
    epochs: number('epochs', values.epochs, 2, positiveInt, 'a positive integer'),
    force: values.force ?? false,
    holdout: number('holdout', values.holdout, 0.25, (n) => n >= 0 && n < 1, 'a fraction in [0, 1)'),
    mnistPerEpoch: number('mnist', values.mnist, 2000, (n) => Number.isInteger(n) && n >= 0, 'a whole number'),
    share: number('share', values.share, 0.1, (n) => n > 0 && n <= 1, 'a fraction in (0, 1]'),
    learningRate: number('learning-rate', values['learning-rate'], 5e-5, (n) => n > 0, 'a positive number'),
    layers,
    batchSize: number('batch-size', values['batch-size'], 32, positiveInt, 'a positive integer'),
    seed: number('seed', values.seed, 1, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer'),
    quantize,
    workers: number('workers', values.workers, availableParallelism(), positiveInt, 'a positive integer'),
  };
}

function shuffled(count: number, random: () => number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

function pick(set: DigitSet, indices: number[]): DigitSet {
  const images = new Uint8Array(indices.length * PIXEL_COUNT);
  const labels = new Uint8Array(indices.length);
  indices.forEach((src, i) => {
    images.set(set.images.subarray(src * PIXEL_COUNT, (src + 1) * PIXEL_COUNT), i * PIXEL_COUNT);
    labels[i] = set.labels[src];
  });
  return { count: indices.length, images, labels };
}

/** Seeded split of the corrections into training and held-out parts (held out: round(n·fraction), at least 1 when n ≥ 4). */
export function splitCorrections(
  set: DigitSet,
  fraction: number,
  seed: number,
): { train: DigitSet; heldOut: DigitSet } {
  const order = shuffled(set.count, seededRandom(seed * 7919 + 11));
  const heldOutCount =
    fraction === 0 ? 0 : Math.min(set.count - 1, Math.max(set.count >= 4 ? 1 : 0, Math.round(set.count * fraction)));
  return { heldOut: pick(set, order.slice(0, heldOutCount)), train: pick(set, order.slice(heldOutCount)) };
}

/**
 * One epoch's mix, as indices into MNIST's training digits followed by the corrections: a fresh
 * sample of MNIST plus the corrections repeated to make `share` of it, shuffled.
 */
export function epochMix(
  mnistCount: number,
  correctionCount: number,
  options: Pick<FineTuneOptions, 'mnistPerEpoch' | 'share' | 'seed'>,
  epoch: number,
): number[] {
  const random = seededRandom(options.seed * 1_000_003 + epoch + 1);
  const mnistPart = shuffled(mnistCount, random).slice(0, options.mnistPerEpoch);
  const copies =
    options.share >= 1
      ? 1
      : Math.max(1, Math.round((options.share * mnistPart.length) / ((1 - options.share) * correctionCount)));
  const corrections = Array.from({ length: copies * correctionCount }, (_, i) => mnistCount + (i % correctionCount));
  const both = [...mnistPart, ...corrections];
  return shuffled(both.length, random).map((i) => both[i]);
}

/** The weights fine-tuning changes: all, or the dense layers' only (the convolutions stay as they are). */
function trainedParams(layers: FineTuneOptions['layers']) {
  const convolutions = LAYERS.filter((l) => l.kind === 'conv2d').map((l) => `${l.name}/`);
  return layers === 'all' ? PARAMS : PARAMS.filter((p) => !convolutions.some((c) => p.name.startsWith(c)));
}

/** The augmentation recorded in a model's metadata.json (null: trained on MNIST as it is, or not recorded). */
function recipeAugmentation(metadata: { recipe?: { augmentation?: unknown } }): AugmentConfig | null {
  const recorded = metadata.recipe?.augmentation;
  if (!recorded || typeof recorded !== 'object') return null;
  const { followedBy: _, ...config } = recorded as AugmentConfig & { followedBy?: string };
  return config;
}

function concat(...sets: DigitSet[]): DigitSet {
  const count = sets.reduce((n, s) => n + s.count, 0);
  const images = new Uint8Array(count * PIXEL_COUNT);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const s of sets) {
    images.set(s.images.subarray(0, s.count * PIXEL_COUNT), at * PIXEL_COUNT);
    labels.set(s.labels.subarray(0, s.count), at);
    at += s.count;
  }
  return { count, images, labels };
}

const accuracyOf = async (model: tf.LayersModel, set: DigitSet) =>
  set.count ? (await evaluate(model, set)).accuracy : null;
const percent = (a: number | null) => (a === null ? 'n/a' : `${(a * 100).toFixed(2)}%`);
const points = (before: number | null, after: number | null) =>
  before === null || after === null ? null : Math.round((after - before) * 1e4) / 100;

export interface FineTuneReport {
  from: { dir: string; version: string };
  corrections: { dir: string; total: number; train: number; heldOut: number; pulledAt?: string };
  mnistTest: { before: number; after: number; changePoints: number };
  heldOutCorrections: { before: number | null; after: number | null; changePoints: number | null };
  trainCorrections: { before: number | null; after: number | null };
  written: boolean;
  version: string;
  out: string;
}

/** The whole fine-tune; returns the report (written: false when refused). */
export async function fineTune(
  options: FineTuneOptions,
  print: (line: string) => void = console.log,
): Promise<FineTuneReport> {
  const started = performance.now();
  const log = (line: string) => print(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);
  await useWasmBackend();
  const read = (name: string) => readFile(path.join(options.from, name));
  const sourceMetadata = JSON.parse((await read(METADATA_JSON)).toString('utf8')) as Record<string, unknown> & {
    version: string;
    testAccuracy?: number;
    quantization?: { dtype?: Quantization };
  };
  const model = await loadModelFiles({
    modelJson: (await read(MODEL_JSON)).toString('utf8'),
    weights: new Uint8Array(await read(WEIGHTS_FILE)),
  });
  const feedback: FeedbackSet = await loadFeedbackDir(options.extra);
  const pulledAt = (
    JSON.parse((await readFile(path.join(options.extra, 'corrections.json'))).toString('utf8')) as { pulledAt?: string }
  ).pulledAt;
  const { train: corrections, heldOut } = splitCorrections(feedback, options.holdout, options.seed);
  const [mnistTrain, mnistTest] = await Promise.all([loadSplit('train'), loadSplit('t10k')]);
  log(
    `Fine-tuning ${sourceMetadata.version} from ${options.from} on ${corrections.count} corrections (${heldOut.count} held out) from ${options.extra}, mixed with MNIST`,
  );

  // The served model's MNIST figure is in its metadata when that metadata is provably about these
  // weights (its version is their content hash, as encodeModel computes it): no need to measure again.
  const weightsHash = createHash('sha256')
    .update(await read(WEIGHTS_FILE))
    .digest('hex')
    .slice(0, 16);
  const recorded =
    weightsHash === sourceMetadata.version && typeof sourceMetadata.testAccuracy === 'number'
      ? sourceMetadata.testAccuracy
      : null;
  const augmentation = recipeAugmentation(sourceMetadata as { recipe?: { augmentation?: unknown } });
  const group = await ReplicaGroup.start({
    workers: options.workers,
    maxBatch: options.batchSize,
    variables: trainableVariables(model),
    train: concat(mnistTrain, corrections),
    test: mnistTest,
    augmentation,
  });
  const testFigures = async (params?: readonly tf.Tensor[]) => {
    const { lossSum, correct } = await group.evaluate(params);
    return { loss: roundMetric(lossSum / mnistTest.count), accuracy: correct / mnistTest.count };
  };
  let files: ReturnType<typeof encodeModel>;
  let before: { mnist: number; heldOut: number | null; train: number | null };
  let after: typeof before;
  let afterTest: { loss: number; accuracy: number };
  const quantize = options.quantize ?? sourceMetadata.quantization?.dtype ?? 'uint8';
  try {
    before = {
      mnist: recorded ?? (await testFigures()).accuracy,
      heldOut: await accuracyOf(model, heldOut),
      train: await accuracyOf(model, corrections),
    };
    log(
      `Before: MNIST test ${percent(before.mnist)}${recorded === null ? '' : ' (metadata.json, for these weights)'}, held-out corrections ${percent(before.heldOut)}, training corrections ${percent(before.train)}`,
    );

    // Adam on the trained weights only, applied on the main thread to the group's shared weights
    // (a fine-tune's steps are few and small; training's Adadelta is split across the ranks instead).
    const adam = { ...ADAM_DEFAULTS, learningRate: options.learningRate };
    const moments = { m: new Float32Array(PARAM_COUNT), v: new Float32Array(PARAM_COUNT) };
    const trained = trainedParams(options.layers);
    let step = 0;
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const mix = epochMix(mnistTrain.count, corrections.count, options, epoch);
      let lossSum = 0;
      for (let at = 0; at < mix.length; at += options.batchSize) {
        const batch = await group.gradients(mix.slice(at, at + options.batchSize), { seed: options.seed, step });
        lossSum += batch.lossSum;
        step++;
        const gradient = group.sumGradients();
        for (const p of trained) {
          const range = (a: Float32Array) => a.subarray(p.offset, p.offset + p.size);
          adamStep(adam, step, range(group.weights), range(gradient), { m: range(moments.m), v: range(moments.v) });
        }
        group.weightsChanged();
      }
      log(
        `Epoch ${epoch + 1}/${options.epochs}: ${mix.length} digits (${mix.length - Math.min(options.mnistPerEpoch, mnistTrain.count)} corrections), loss ${(lossSum / mix.length).toFixed(4)}`,
      );
    }
    loadWeights(trainableVariables(model), group.weights);

    // Evaluated as it would be served: the stored (quantized) weights, loaded by stock tfjs.
    files = encodeModel(await modelArtifacts(model), quantize);
    const stored = await loadModelFiles(files);
    afterTest = await testFigures(trainableVariables(stored));
    after = {
      mnist: afterTest.accuracy,
      heldOut: await accuracyOf(stored, heldOut),
      train: await accuracyOf(stored, corrections),
    };
  } finally {
    await group.close();
  }
  const mnistChange = points(before.mnist, after.mnist)!;
  log(
    `After:  MNIST test ${percent(after.mnist)} (${mnistChange >= 0 ? '+' : ''}${mnistChange} points), held-out corrections ${percent(after.heldOut)}, training corrections ${percent(after.train)}`,
  );

  const report: FineTuneReport = {
    from: { dir: options.from, version: sourceMetadata.version },
    corrections: {
      dir: options.extra,
      total: feedback.count,
      train: corrections.count,
      heldOut: heldOut.count,
      pulledAt,
    },
    mnistTest: { before: before.mnist, after: after.mnist, changePoints: mnistChange },
    heldOutCorrections: {
      before: before.heldOut,
      after: after.heldOut,
      changePoints: points(before.heldOut, after.heldOut),
    },
    trainCorrections: { before: before.train, after: after.train },
    written: false,
    version: files.version,
    out: options.out,
  };
  if (-mnistChange > MAX_MNIST_DROP_POINTS && !options.force) {
    log(
      `Refused: MNIST test accuracy dropped by ${-mnistChange} points (limit ${MAX_MNIST_DROP_POINTS}); ${options.out} is unchanged. --force writes it anyway.`,
    );
    return report;
  }

  const fineTuned = new Date().toISOString();
  const metadata = {
    ...sourceMetadata,
    version: files.version,
    trainedAt: fineTuned,
    testAccuracy: afterTest.accuracy,
    testLoss: afterTest.loss,
    test: { loss: afterTest.loss, accuracy: afterTest.accuracy },
    // Only what was measured here: the stored weights' figures (no float-vs-quantized comparison).
    quantization: { dtype: quantize, test: afterTest, weightBytes: files.weights.byteLength },
    fineTune: {
      from: sourceMetadata.version,
      fromTrainedAt: sourceMetadata.trainedAt,
      at: fineTuned,
      corrections: report.corrections,
      recipe: {
        epochs: options.epochs,
        mnistPerEpoch: options.mnistPerEpoch,
        correctionShare: options.share,
        optimizer: { name: 'Adam', ...ADAM_DEFAULTS, learningRate: options.learningRate },
        layers: options.layers,
        batchSize: options.batchSize,
        seed: options.seed,
        augmentation,
        dropout: 'seeded',
      },
      mnistTest: report.mnistTest,
      heldOutCorrections: report.heldOutCorrections,
      forced: -mnistChange > MAX_MNIST_DROP_POINTS,
    },
  };
  const extras: Record<string, Uint8Array> = {};
  for (const picture of ['samples.png', 'curves.png']) {
    const file = path.join(options.from, picture);
    if (
      await stat(file).then(
        () => true,
        () => false,
      )
    )
      extras[picture] = new Uint8Array(await readFile(file));
  }
  await writeDirAtomically(options.out, {
    ...modelDirFiles(files),
    [METADATA_JSON]: `${JSON.stringify(metadata, null, 2)}\n`,
    ...extras,
  });
  log(
    `Model ${files.version} (fine-tuned from ${sourceMetadata.version}) written to ${options.out}${metadata.fineTune.forced ? ` despite the MNIST drop of ${-mnistChange} points (--force)` : ''}`,
  );
  return { ...report, written: true };
}

/** `npm run train -- --fine-tune …`: exit code 0 written, 1 refused, 2 usage. */
export async function fineTuneMain(argv: string[]): Promise<number> {
  let options: FineTuneOptions | null;
  try {
    options = parseFineTuneOptions(argv);
  } catch (error) {
    if (
      error instanceof FineTuneUsageError ||
      (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      console.error(`${error.message}\n\n${FINE_TUNE_HELP}`);
      return 2;
    }
    throw error;
  }
  if (!options) {
    process.stdout.write(FINE_TUNE_HELP);
    return 0;
  }
  try {
    const report = await fineTune(options);
    return report.written ? 0 : 1;
  } catch (error) {
    // Missing or malformed inputs: a message, not a stack trace.
    const expected =
      error instanceof FeedbackDataError ||
      error instanceof IdxFormatError ||
      (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string');
    if (!expected) throw error;
    console.error((error as Error).message);
    return 1;
  }
}
