// `npm run train`: trains the seed's CNN on the wasm backend and writes the model directory.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, MAX_PIXEL_VALUE, METADATA_JSON, MODEL_DIR, MODEL_JSON, WEIGHTS_FILE, parameterCount } from '../shared/model-spec.ts';
import { useWasmBackend, type BackendInfo } from './backend.ts';
import { loadSplit, take } from './data.ts';
import {
  encodeModel,
  loadModelFiles,
  modelArtifacts,
  modelDirFiles,
  writeDirAtomically,
  type Quantization,
} from './export.ts';
import { buildModel } from './model.ts';
import { KERAS_ADADELTA, KerasAdadelta } from './optimizer.ts';
import { learningCurvesPng, sampleGridPng, type EpochRecord } from './pictures.ts';
import { consoleProgress } from './progress.ts';
import { evaluate, trainModel, type Recipe } from './train.ts';

const HELP = `Usage: npm run train -- [options]

Trains the seed's MNIST CNN (Keras "simple 2D CNN") on the tfjs wasm backend and writes a tfjs
LayersModel directory with metadata.json, samples.png and curves.png.

Options:
  --epochs N          epochs (default 10)
  --batch-size N      batch size (default 128)
  --train-limit N     train on the first N training images only (default: all 60000)
  --out DIR           output directory (default ${MODEL_DIR})
  --seed N            seed for weight initialisation and shuffling (default 1)
  --quantize TYPE     weight storage: uint8 (default), float16 or none (float32)
  --resume            continue from DIR.checkpoint, written after every epoch
  -h, --help          show this help
`;

function positiveInt(name: string, value: string | undefined, fallback: number | null): number | null {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

class UsageError extends Error {}

interface Options {
  recipe: Recipe;
  outDir: string;
  quantize: Quantization;
  resume: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      'train-limit': { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      quantize: { type: 'string' },
      resume: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const quantize = (values.quantize ?? 'uint8') as Quantization;
  if (!['uint8', 'float16', 'none'].includes(quantize)) throw new UsageError(`--quantize must be uint8, float16 or none`);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer`);
  return {
    recipe: {
      epochs: positiveInt('epochs', values.epochs, 10)!,
      batchSize: positiveInt('batch-size', values['batch-size'], 128)!,
      trainLimit: positiveInt('train-limit', values['train-limit'], null),
      seed,
      optimizer: KERAS_ADADELTA,
    },
    outDir: values.out ?? MODEL_DIR,
    quantize,
    resume: values.resume ?? false,
  };
}

interface CheckpointState {
  recipe: Recipe;
  history: EpochRecord[];
  trainSeconds: number;
}

async function saveCheckpoint(dir: string, model: tf.LayersModel, state: CheckpointState): Promise<void> {
  const files = encodeModel(await modelArtifacts(model), 'none');
  const optimizer = await tf.io.encodeWeights(await model.optimizer.getWeights());
  await writeDirAtomically(dir, {
    ...modelDirFiles(files),
    'optimizer.bin': new Uint8Array(optimizer.data as ArrayBuffer),
    'optimizer.json': JSON.stringify(optimizer.specs),
    'state.json': JSON.stringify(state, null, 2),
  });
}

async function loadCheckpoint(dir: string): Promise<{ model: tf.LayersModel; state: CheckpointState }> {
  const read = (name: string) => readFile(path.join(dir, name));
  const state = JSON.parse((await read('state.json')).toString()) as CheckpointState;
  const model = await loadModelFiles({ modelJson: (await read(MODEL_JSON)).toString(), weights: new Uint8Array(await read(WEIGHTS_FILE)) });
  const optimizer = new KerasAdadelta(state.recipe.optimizer);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const data = await read('optimizer.bin');
  const specs = JSON.parse((await read('optimizer.json')).toString()) as tf.io.WeightsManifestEntry[];
  const weights = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer, specs);
  await optimizer.setWeights(Object.entries(weights).map(([name, tensor]) => ({ name, tensor })));
  return { model, state };
}

async function run(options: Options): Promise<void> {
  const backend: BackendInfo = await useWasmBackend();
  console.log(`tfjs ${tf.version.tfjs} on the ${backend.name} backend (SIMD ${backend.simd ? 'on' : 'off'}, ${backend.threads} thread)`);
  const checkpointDir = `${options.outDir}.checkpoint`;

  let model: tf.LayersModel;
  let recipe = options.recipe;
  let history: EpochRecord[] = [];
  let previousSeconds = 0;
  if (options.resume) {
    const checkpoint = await loadCheckpoint(checkpointDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new UsageError(`--resume: no checkpoint in ${checkpointDir}; train without --resume first`);
      throw error;
    });
    if (checkpoint.state.history.length >= options.recipe.epochs) {
      throw new UsageError(
        `--resume: ${checkpointDir} already holds ${checkpoint.state.history.length} epochs; ask for more with --epochs`,
      );
    }
    model = checkpoint.model;
    recipe = { ...checkpoint.state.recipe, epochs: options.recipe.epochs };
    history = checkpoint.state.history;
    previousSeconds = checkpoint.state.trainSeconds;
    console.log(`Resuming from ${checkpointDir} after epoch ${history.length}`);
  } else {
    model = buildModel({ seed: recipe.seed, optimizer: recipe.optimizer });
  }

  const [fullTrain, test] = await Promise.all([loadSplit('train'), loadSplit('t10k')]);
  const train = recipe.trainLimit ? take(fullTrain, recipe.trainLimit) : fullTrain;
  console.log(
    `Training on ${train.count} images, testing on ${test.count}: ${recipe.epochs} epochs, batch ${recipe.batchSize}, ` +
      `Adadelta lr ${recipe.optimizer.learningRate} ρ ${recipe.optimizer.rho} ε ${recipe.optimizer.epsilon}, seed ${recipe.seed}`,
  );

  const progress = consoleProgress(recipe.epochs);
  let elapsedBefore = previousSeconds;
  const epochStart = { at: performance.now() };
  const summary = await trainModel(model, recipe, train, test, {
    ...progress,
    onEpochStart(epoch, steps) {
      epochStart.at = performance.now();
      progress.onEpochStart?.(epoch, steps);
    },
    async onEpochEnd(record, epochs) {
      await progress.onEpochEnd?.(record, epochs);
      elapsedBefore += (performance.now() - epochStart.at) / 1000;
      await saveCheckpoint(checkpointDir, model, { recipe, history: [...epochs], trainSeconds: elapsedBefore });
    },
  }, history);

  const last = summary.history.at(-1)!;
  const files = encodeModel(await modelArtifacts(model), options.quantize);
  // Evaluate the stored weights as any client loads them: stock tfjs, dequantized on load.
  const stored = await evaluate(await loadModelFiles(files), test);
  const metadata = {
    name: 'mnist-cnn',
    version: files.version,
    trainedAt: new Date().toISOString(),
    format: 'tfjs layers-model',
    parameters: parameterCount(),
    input: {
      shape: [IMAGE_SIZE, IMAGE_SIZE, 1],
      pixels: 'grayscale 0–255, white digit on black, row-major',
      scaling: `x / ${MAX_PIXEL_VALUE}`,
    },
    recipe: {
      epochs: recipe.epochs,
      batchSize: recipe.batchSize,
      trainImages: train.count,
      testImages: test.count,
      shuffle: 'every epoch (seeded)',
      seed: recipe.seed,
      optimizer: { name: 'Adadelta (Keras)', ...recipe.optimizer },
      loss: 'categorical_crossentropy',
    },
    backend,
    tfjs: tf.version.tfjs,
    history: summary.history,
    test: { loss: last.testLoss, accuracy: last.testAccuracy },
    quantization: {
      dtype: options.quantize,
      test: stored,
      accuracyChangePoints: Math.round((stored.accuracy - last.testAccuracy) * 1e4) / 100,
      weightBytes: files.weights.byteLength,
    },
    testAccuracy: stored.accuracy,
    testLoss: stored.loss,
    timing: {
      wallSeconds: Math.round(elapsedBefore),
      imagesPerSecond: Math.round(summary.imagesPerSecond),
      msPerStep: Math.round(summary.msPerStep),
      machine: `${(await import('node:os')).cpus().length} cores, Node ${process.version}`,
    },
  };
  await writeDirAtomically(options.outDir, {
    ...modelDirFiles(files),
    [METADATA_JSON]: JSON.stringify(metadata, null, 2) + '\n',
    'samples.png': sampleGridPng(fullTrain),
    'curves.png': learningCurvesPng(summary.history),
  });
  console.log(`Test loss ${last.testLoss.toFixed(4)}, test accuracy ${(last.testAccuracy * 100).toFixed(2)}%`);
  console.log(
    `Stored as ${options.quantize}: test accuracy ${(stored.accuracy * 100).toFixed(2)}% ` +
      `(${metadata.quantization.accuracyChangePoints >= 0 ? '+' : ''}${metadata.quantization.accuracyChangePoints} points), ` +
      `${files.weights.byteLength} weight bytes`,
  );
  console.log(`Model ${files.version} written to ${options.outDir}`);
}

try {
  const options = parseOptions(process.argv.slice(2));
  if (options === null) {
    process.stdout.write(HELP);
  } else {
    await run(options);
  }
} catch (error) {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    console.error(`${error.message}\n\n${HELP}`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
