/**
 * The evaluation report of a model directory AS STORED (the quantized weights the Worker ships,
 * dequantized by stock `tf.loadLayersModel`): evaluation.json, confusion.png and mistakes.png.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type DigitSet, IMAGE_SIZE, NUM_CLASSES, PIXEL_COUNT, scalePixels } from '../../shared/model-spec.ts';
import { mark } from '../cli/timings.ts';
import { loadSplit, take } from '../data/mnist.ts';
import { loadStoredModel, readModelDir, type StoredModel } from '../formats/model-dir.ts';
import { writeDirAtomically } from '../formats/tfjs.ts';
import { ensureWasmBackend } from '../kernels/wasm-backend.ts';
import { confusionPng, mistakesPng } from './evaluation-pictures.ts';
import { computeMetrics, type Metrics } from './metrics.ts';
import { type RobustnessRow, robustnessRows } from './robustness.ts';

export const EVALUATION_JSON = 'evaluation.json';
export const CONFUSION_PNG = 'confusion.png';
export const MISTAKES_PNG = 'mistakes.png';

/** Softmax outputs for every digit of `set`, in batches. */
export async function predictProbabilities(
  model: tf.LayersModel,
  set: DigitSet,
  batchSize = 500,
): Promise<Float32Array> {
  const out = new Float32Array(set.count * NUM_CLASSES);
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const pixels = scalePixels(set.images.subarray(start * PIXEL_COUNT, (start + n) * PIXEL_COUNT));
    const probs = tf.tidy(() => model.predict(tf.tensor4d(pixels, [n, IMAGE_SIZE, IMAGE_SIZE, 1])) as tf.Tensor);
    out.set(await probs.data(), start * NUM_CLASSES);
    probs.dispose();
  }
  return out;
}

export interface Evaluation extends Metrics {
  model: { version: string | null; source: string | null };
  testSet: string;
  engine: string;
  evaluatedAt: string;
  /** The first N test digits under each kind of distortion, through the Worker's decoding (when asked). */
  robustness?: RobustnessRow[];
}

export interface EvaluateOptions {
  /** Digits to evaluate on (default: the 10k MNIST test set). */
  set?: DigitSet;
  setName?: string;
  /** Also measure the first N digits of the set under each distortion (src/train/report/robustness.ts). */
  robustness?: number;
}

/** The engine of `npm run evaluate`: what any client of the stored files runs. */
export const stockEngine = () =>
  `stock tf.loadLayersModel, tfjs ${tf.version.tfjs}, ${tf.getBackend()} backend, weights as stored`;

/** Evaluates stored model files with stock tfjs and returns the report with its three files. */
export async function evaluateStored(
  stored: Pick<StoredModel, 'modelJson' | 'weights' | 'metadata'>,
  options: EvaluateOptions = {},
): Promise<{ evaluation: Evaluation; files: Record<string, Uint8Array | string> }> {
  await ensureWasmBackend();
  const set = options.set ?? (await loadSplit('t10k'));
  const model = await loadStoredModel(stored);
  mark('report: stored model loaded (stock tfjs)');
  let probabilities: Float32Array;
  let robustness: RobustnessRow[] | undefined;
  try {
    probabilities = await predictProbabilities(model, set);
    mark('report: test digits predicted');
    if (options.robustness) {
      robustness = await robustnessRows(take(set, options.robustness), (s) => predictProbabilities(model, s));
      mark('report: robustness rows');
    }
  } finally {
    model.dispose();
  }
  return evaluationReport(probabilities, set, {
    ...options,
    metadata: stored.metadata,
    engine: stockEngine(),
    robustness,
  });
}

/**
 * The report from softmax outputs already computed for every digit of `set` (`engine` says by what):
 * evaluation.json, confusion.png and mistakes.png.
 */
export function evaluationReport(
  probabilities: Float32Array,
  set: DigitSet,
  options: { setName?: string; metadata: Record<string, unknown> | null; engine: string; robustness?: RobustnessRow[] },
): { evaluation: Evaluation; files: Record<string, Uint8Array | string> } {
  const setName =
    options.setName ??
    (set.count === 10_000
      ? 'MNIST test set (10,000 digits)'
      : `${set.count.toLocaleString('en-US')} MNIST test digits`);
  const metrics = computeMetrics(probabilities, set.labels);
  const metadata = options.metadata ?? {};
  const source = metadata.source as { kind?: string } | string | undefined;
  const evaluation: Evaluation = {
    model: {
      version: typeof metadata.version === 'string' ? metadata.version : null,
      source: typeof source === 'string' ? source : (source?.kind ?? 'trained'),
    },
    testSet: setName,
    engine: options.engine,
    evaluatedAt: new Date().toISOString(),
    ...(options.robustness ? { robustness: options.robustness } : {}),
    ...metrics,
  };
  const label = evaluation.model.version ? `model ${evaluation.model.version}` : 'model';
  const files = {
    [EVALUATION_JSON]: `${JSON.stringify(evaluation, null, 2)}\n`,
    [CONFUSION_PNG]: confusionPng(
      metrics,
      `${label}: accuracy ${(metrics.accuracy * 100).toFixed(2)}% on ${metrics.count.toLocaleString('en-US')} digits`,
    ),
    [MISTAKES_PNG]: mistakesPng(
      metrics,
      set,
      `${metrics.mistakes.length} of ${metrics.count.toLocaleString('en-US')} misclassified` +
        (metrics.mistakes.length > 60 ? ' (the 60 most confident shown)' : '') +
        ': true → predicted, confidence, test index',
    ),
  };
  mark('report: metrics, confusion.png, mistakes.png');
  return { evaluation, files };
}

/**
 * `npm run evaluate`: evaluates the model in `dir` as stored, with stock tfjs, and writes
 * evaluation.json, confusion.png and mistakes.png next to it (each file replaced atomically).
 */
export async function evaluateModelDir(dir: string, options: EvaluateOptions = {}): Promise<Evaluation> {
  const { evaluation, files } = await evaluateStored(await readModelDir(dir), options);
  await writeDirAtomically(dir, files, { keep: true });
  return evaluation;
}

/** The robustness rows as a table for the terminal. */
export function robustnessTable(rows: readonly RobustnessRow[]): string {
  return rows
    .map((r) => `  ${r.kind.padEnd(16)} ${(r.accuracy * 100).toFixed(2).padStart(6)}%  ${r.description}`)
    .join('\n');
}

export function summaryLine(evaluation: Evaluation, dir?: string): string {
  return (
    `${evaluation.model.version ? `model ${evaluation.model.version}` : 'model'}${dir ? ` (${path.normalize(dir)})` : ''}: ` +
    `accuracy ${(evaluation.accuracy * 100).toFixed(2)}%, loss ${evaluation.loss.toFixed(4)}, ` +
    `${evaluation.mistakes.length} mistakes on ${evaluation.testSet}`
  );
}
