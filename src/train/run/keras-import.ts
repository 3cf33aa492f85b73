/**
 * Keras files of the Keras recipe's architecture → a project model directory the Worker serves unchanged:
 * tfjs model.json + uint8 weights + metadata.json + the evaluation report + the Keras recipe's Keras files
 * (re-exported from the stored weights), written atomically.
 * Everything is read and checked before anything is written, so a refused file leaves nothing.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type DigitSet, METADATA_JSON } from '../../shared/model-spec.ts';
import { readUserFile, UsageError, UserError } from '../cli/cli.ts';
import { loadSplit } from '../data/mnist.ts';
import { checkArchitecture, type KerasArchitecture, parseKerasArchitecture } from '../formats/keras/architecture.ts';
import { isHdf5 } from '../formats/keras/h5.ts';
import { isZip, readKerasArchive } from '../formats/keras/keras-zip.ts';
import { type H5Layout, matchWeights, readKerasH5, type WeightMap } from '../formats/keras/weights.ts';
import {
  encodeModel,
  modelArtifacts,
  modelDirFiles,
  modelHeader,
  type Quantization,
  writeDirAtomically,
} from '../formats/tfjs.ts';
import { ensureWasmBackend } from '../kernels/wasm-backend.ts';
import { predictProbabilities } from '../report/evaluation.ts';
import { computeMetrics } from '../report/metrics.ts';
import { modelExtras } from '../report/model-extras.ts';
import { buildModel } from './model.ts';

export type KerasFormat = H5Layout | 'keras3-archive';

export interface KerasModel {
  weights: WeightMap;
  format: KerasFormat;
  kerasVersion: string | null;
  backend: string | null;
  savedAt: string | null;
  files: string[];
}

const FORMAT_NAMES: Record<KerasFormat, string> = {
  'keras2-weights': 'architecture JSON + save_weights HDF5 (Keras 2 layout)',
  'full-model': 'full-model HDF5 (model.save, model_config inside)',
  'keras3-weights': 'architecture JSON + Keras 3 .weights.h5',
  'keras3-archive': 'Keras 3 .keras archive',
};

/**
 * Reads and checks Keras files: `[model.json, weights.h5]`, `[model.h5]` (full model) or
 * `[model.keras]`, in any order. Throws UserError/ArchitectureError with a message for the user.
 */
export async function readKerasModel(files: string[]): Promise<KerasModel> {
  if (files.length === 0 || files.length > 2)
    throw new UsageError('give a .keras file, a full-model .h5, or the architecture .json and the weights .h5');
  const inputs = await Promise.all(files.map(async (file) => ({ file, bytes: await readUserFile(file) })));
  const json = inputs.filter((i) => !isHdf5(i.bytes) && !isZip(i.bytes));
  const h5 = inputs.filter((i) => isHdf5(i.bytes));
  const zip = inputs.filter((i) => isZip(i.bytes));
  for (const other of json) {
    if (!/^\s*[{[]/.test(new TextDecoder().decode(other.bytes.subarray(0, 64)))) {
      throw new UserError(`${other.file}: neither JSON, HDF5 nor a .keras archive`);
    }
  }
  if (zip.length === 1 && inputs.length === 1) {
    const { file, bytes } = zip[0];
    const archive = readKerasArchive(bytes, file);
    const arch = parseKerasArchitecture(archive.config, `${file} (config.json)`);
    checkArchitecture(arch, file);
    const weights = await readKerasH5(archive.weights, `${file} (model.weights.h5)`, arch);
    return {
      weights: matchWeights(weights.layers, file),
      format: 'keras3-archive',
      kerasVersion: archive.metadata.keras_version ?? null,
      backend: null,
      savedAt: archive.metadata.date_saved ?? null,
      files,
    };
  }
  if (h5.length !== 1 || json.length + h5.length !== inputs.length) {
    throw new UsageError('give a .keras file, a full-model .h5, or the architecture .json and the weights .h5');
  }
  let arch: KerasArchitecture | null = null;
  if (json.length === 1) arch = parseKerasArchitecture(new TextDecoder().decode(json[0].bytes), json[0].file);
  if (arch) checkArchitecture(arch, json[0].file);
  const { file, bytes } = h5[0];
  const read = await readKerasH5(bytes, file, arch);
  if (read.architecture) {
    checkArchitecture(read.architecture, `${file} (model_config)`);
    arch ??= read.architecture;
  }
  if (!arch) {
    throw new UserError(
      `${file} holds only weights (model.save_weights); give the architecture too: npm run import -- model_digit.json ${file}`,
    );
  }
  return {
    weights: matchWeights(read.layers, file),
    format: read.layout,
    kerasVersion: read.kerasVersion ?? arch.kerasVersion,
    backend: read.backend,
    savedAt: null,
    files,
  };
}

/** The Keras recipe's tfjs model holding the given Keras weights (Keras and tfjs share kernel layouts). */
export function tfjsModelWith(weights: WeightMap): tf.Sequential {
  const model = buildModel();
  for (const layer of model.layers) {
    const names = layer.weights.map((w) => w.originalName);
    if (names.length === 0) continue;
    layer.setWeights(
      names.map((name) => {
        const tensor = weights.get(name);
        if (!tensor) throw new Error(`no Keras weight for ${name}`);
        return tf.tensor(tensor.values, tensor.shape);
      }),
    );
  }
  return model;
}

export interface ImportOptions {
  outDir: string;
  quantize?: Quantization;
  /** Digits to measure accuracy on (default: the 10k MNIST test set). */
  testSet?: DigitSet;
}

export interface ImportResult {
  outDir: string;
  version: string;
  format: KerasFormat;
  kerasVersion: string | null;
  accuracy: number;
  storedAccuracy: number;
}

/** `npm run import`: reads, checks, converts, measures and writes the model directory atomically. */
export async function importKeras(files: string[], options: ImportOptions): Promise<ImportResult> {
  const keras = await readKerasModel(files);
  await ensureWasmBackend();
  const test = options.testSet ?? (await loadSplit('t10k'));
  const quantize = options.quantize ?? 'uint8';
  const model = tfjsModelWith(keras.weights);
  let encoded: ReturnType<typeof encodeModel>;
  let before: ReturnType<typeof computeMetrics>;
  try {
    before = computeMetrics(await predictProbabilities(model, test), test.labels);
    encoded = encodeModel(await modelArtifacts(model), quantize);
  } finally {
    model.dispose();
  }
  const metadataBase = {
    ...modelHeader(encoded.version, savedAtIso(keras.savedAt) ?? new Date()),
    source: {
      kind: 'keras',
      format: FORMAT_NAMES[keras.format],
      kerasVersion: keras.kerasVersion,
      kerasBackend: keras.backend,
      files: keras.files.map((f) => path.basename(f)),
      importedAt: new Date().toISOString(),
    },
    tfjs: tf.version.tfjs,
  };
  // The report and the Keras files are made from the stored files, as `npm run evaluate` and
  // `npm run export` would: the directory looks like one the trainer leaves.
  const { evaluation, files: extraFiles } = await modelExtras(
    { modelJson: encoded.modelJson, weights: encoded.weights, metadata: metadataBase },
    { set: test },
  );
  const metadata = {
    ...metadataBase,
    test: { images: test.count, loss: before.loss, accuracy: before.accuracy },
    quantization: {
      dtype: quantize,
      test: { loss: evaluation.loss, accuracy: evaluation.accuracy },
      accuracyChangePoints: Math.round((evaluation.accuracy - before.accuracy) * 1e4) / 100,
      weightBytes: encoded.weights.byteLength,
    },
    testAccuracy: evaluation.accuracy,
    testLoss: evaluation.loss,
  };
  await writeDirAtomically(options.outDir, {
    ...modelDirFiles(encoded),
    [METADATA_JSON]: `${JSON.stringify(metadata, null, 2)}\n`,
    ...extraFiles,
  });
  return {
    outDir: options.outDir,
    version: encoded.version,
    format: keras.format,
    kerasVersion: keras.kerasVersion,
    accuracy: before.accuracy,
    storedAccuracy: evaluation.accuracy,
  };
}

/** Keras 3 writes "2026-11-29@17:34:25" (local time, no zone); read as UTC, the best guess. */
function savedAtIso(value: string | null): string | null {
  const m = value?.match(/^(\d{4}-\d{2}-\d{2})@(\d{2}:\d{2}:\d{2})$/);
  return m ? `${m[1]}T${m[2]}.000Z` : null;
}

export function describeFormat(format: KerasFormat): string {
  return FORMAT_NAMES[format];
}
