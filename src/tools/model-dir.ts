// Reading a project model directory (model.json + weights.bin + metadata.json) and adding files to it.
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { METADATA_JSON, MODEL_JSON, WEIGHTS_FILE } from '../shared/model-spec.ts';
import { loadModelFiles } from '../train/export.ts';
import { UserError } from './cli.ts';

export interface StoredModel {
  dir: string;
  modelJson: string;
  weights: Uint8Array;
  /** metadata.json, or null when the directory has none. */
  metadata: Record<string, unknown> | null;
}

export async function readModelDir(dir: string): Promise<StoredModel> {
  const read = async (name: string) => {
    try {
      return await readFile(path.join(dir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new UserError(
          `${dir} is not a model directory: ${name} is missing (expected ${MODEL_JSON} + ${WEIGHTS_FILE})`,
        );
      }
      throw error;
    }
  };
  const modelJson = (await read(MODEL_JSON)).toString('utf8');
  const weights = new Uint8Array(await read(WEIGHTS_FILE));
  const metadataText = await readFile(path.join(dir, METADATA_JSON), 'utf8').catch(() => null);
  return { dir, modelJson, weights, metadata: metadataText === null ? null : JSON.parse(metadataText) };
}

/** Loads the stored (quantized) weights with stock tfjs, dequantized as any client would. */
export function loadStoredModel(stored: Pick<StoredModel, 'modelJson' | 'weights'>): Promise<tf.LayersModel> {
  return loadModelFiles(stored);
}

/** The float32 values of every weight, dequantized from the stored manifest, by tfjs weight name. */
export function decodeStoredWeights(
  stored: Pick<StoredModel, 'modelJson' | 'weights'>,
): Map<string, { shape: number[]; values: Float32Array }> {
  const json = JSON.parse(stored.modelJson) as { weightsManifest: tf.io.WeightsManifestConfig };
  const specs = json.weightsManifest.flatMap((group) => group.weights);
  const buffer = stored.weights.buffer.slice(
    stored.weights.byteOffset,
    stored.weights.byteOffset + stored.weights.byteLength,
  ) as ArrayBuffer;
  const tensors = tf.io.decodeWeights(buffer, specs);
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, tensor] of Object.entries(tensors)) {
    out.set(name, { shape: tensor.shape, values: tensor.dataSync() as Float32Array });
    tensor.dispose();
  }
  return out;
}

/**
 * Adds or replaces files in an existing directory, each written to a temporary name, fsynced and
 * renamed: a reader sees the old file or the new one, never half of one.
 */
export async function writeFilesAtomically(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const stamp = `${process.pid}-${Date.now()}`;
  const written: string[] = [];
  try {
    for (const [name, content] of Object.entries(files)) {
      const tmp = path.join(dir, `.${name}.tmp-${stamp}`);
      written.push(tmp);
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [name] of Object.entries(files)) {
      await rename(path.join(dir, `.${name}.tmp-${stamp}`), path.join(dir, name));
    }
  } finally {
    await Promise.all(written.map((tmp) => rm(tmp, { force: true })));
  }
}
