// Writing models to disk: quantized tfjs weights and atomic directory replacement.
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { concatBytes } from '../../shared/bytes.ts';
import { INPUT_SHAPE, MAX_PIXEL_VALUE, MODEL_JSON, parameterCount, WEIGHTS_FILE } from '../../shared/model-spec.ts';
import { modelVersion } from './model-version.ts';

export type Quantization = 'uint8' | 'float16' | 'none';

export interface QuantizedWeights {
  specs: tf.io.WeightsManifestEntry[];
  data: Uint8Array;
}

/**
 * Re-encodes float32 weights in the standard tfjs manifest form, so stock `tf.loadLayersModel`
 * dequantizes them: uint8 is affine per tensor (value = q·scale + min), float16 is IEEE half.
 */
export function quantizeWeights(
  specs: tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
  dtype: Quantization,
): QuantizedWeights {
  if (dtype === 'none') return { specs, data: new Uint8Array(data) };
  const chunks: Uint8Array[] = [];
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32' || spec.quantization) throw new Error(`Cannot quantize ${spec.name} (${spec.dtype})`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(data, offset, size);
    offset += size * 4;
    if (dtype === 'uint8') {
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const scale = max > min ? (max - min) / 255 : 1;
      const q = new Uint8Array(size);
      for (let i = 0; i < size; i++) q[i] = Math.round((values[i] - min) / scale);
      chunks.push(q);
      outSpecs.push({ ...spec, quantization: { dtype: 'uint8', min, scale } });
    } else {
      const half = new Uint16Array(size);
      for (let i = 0; i < size; i++) half[i] = toFloat16(values[i]);
      chunks.push(new Uint8Array(half.buffer));
      outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
    }
  }
  return { specs: outSpecs, data: concatBytes(chunks) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even float32 → float16 bits (weights are far from the subnormal range). */
function toFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  let mantissa = x & 0x7fffff;
  if (exponent <= 0) return sign; // flush tiny values to zero
  if (exponent >= 31) return sign | 0x7c00;
  const round = mantissa & 0x1fff;
  mantissa >>>= 13;
  let half = sign | (exponent << 10) | mantissa;
  if (round > 0x1000 || (round === 0x1000 && mantissa & 1)) half++;
  return half;
}

/** Captures a model's artifacts in memory (float32 weights, tfjs LayersModel topology). */
export async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!captured?.weightSpecs || !captured.weightData) throw new Error('Model produced no weights');
  return captured;
}

export interface ModelFiles {
  modelJson: string;
  weights: Uint8Array;
  /** Content hash of the weight file: the model's version. */
  version: string;
  weightSpecs: tf.io.WeightsManifestEntry[];
}

/** What every model's metadata.json starts with, however the model was made. */
export function modelHeader(version: string, trainedAt: Date | string) {
  return {
    name: 'mnist-cnn',
    version,
    trainedAt: typeof trainedAt === 'string' ? trainedAt : trainedAt.toISOString(),
    format: 'tfjs layers-model',
    parameters: parameterCount(),
    input: {
      shape: [...INPUT_SHAPE],
      pixels: 'grayscale 0–255, white digit on black, row-major',
      scaling: `x / ${MAX_PIXEL_VALUE}`,
    },
  };
}

/** The files of a tfjs LayersModel directory: model.json + one weight file. */
export function encodeModel(artifacts: tf.io.ModelArtifacts, dtype: Quantization): ModelFiles {
  const weightData = tf.io.concatenateArrayBuffers(
    Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData!],
  );
  const { specs, data } = quantizeWeights(artifacts.weightSpecs!, weightData, dtype);
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
  };
  return {
    modelJson: JSON.stringify(modelJson),
    weights: data,
    version: modelVersion(data),
    weightSpecs: specs,
  };
}

/** Loads model files with stock tfjs, the way any client would. */
export function loadModelFiles(files: Pick<ModelFiles, 'modelJson' | 'weights'>): Promise<tf.LayersModel> {
  const json = JSON.parse(files.modelJson) as { modelTopology: object; weightsManifest: tf.io.WeightsManifestConfig };
  const weightData = files.weights.buffer.slice(
    files.weights.byteOffset,
    files.weights.byteOffset + files.weights.byteLength,
  );
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
      weightData: weightData as ArrayBuffer,
    }),
  );
}

export function modelDirFiles(files: ModelFiles): Record<string, Uint8Array | string> {
  return { [MODEL_JSON]: files.modelJson, [WEIGHTS_FILE]: files.weights };
}

/**
 * Writes `files` so that a reader or a crash never sees half of them: the one atomic writer.
 * By default `dir` is replaced with a directory holding exactly `files`. Everything is written and
 * fsynced in a sibling temporary directory first, then swapped in by rename, so a crash leaves either
 * the old complete directory (possibly as `<dir>.old-*`) or the new one, never a half-written mix.
 * With `{ keep: true }` the files are added to (or replace files in) the existing `dir` and its other
 * files stay: each is written to a temporary name beside it, fsynced and renamed over, so a reader
 * sees the old file or the new one, never half of one.
 */
export async function writeDirAtomically(
  dir: string,
  files: Record<string, Uint8Array | string>,
  options: { keep?: boolean } = {},
): Promise<void> {
  const stamp = `${process.pid}-${Date.now()}`;
  if (options.keep) return addFilesAtomically(dir, files, stamp);
  const tmp = `${dir}.tmp-${stamp}`;
  const old = `${dir}.old-${stamp}`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, content] of Object.entries(files)) await writeSynced(path.join(tmp, name), content);
    const existed = await stat(dir).then(
      () => true,
      () => false,
    );
    if (existed) await rename(dir, old);
    await rename(tmp, dir);
    if (existed) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

async function addFilesAtomically(dir: string, files: Record<string, Uint8Array | string>, stamp: string) {
  const written: string[] = [];
  try {
    for (const [name, content] of Object.entries(files)) {
      const tmp = path.join(dir, `.${name}.tmp-${stamp}`);
      written.push(tmp);
      await writeSynced(tmp, content);
    }
    for (const [name] of Object.entries(files)) {
      await rename(path.join(dir, `.${name}.tmp-${stamp}`), path.join(dir, name));
    }
  } finally {
    await Promise.all(written.map((tmp) => rm(tmp, { force: true })));
  }
}

async function writeSynced(file: string, content: Uint8Array | string): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
