// Reading a project model directory (model.json + weights.bin + metadata.json); files are added to it
// with writeDirAtomically(dir, files, { keep: true }) (tfjs.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { METADATA_JSON, MODEL_JSON, WEIGHTS_FILE } from '../../shared/model-spec.ts';
import { UserError } from '../cli/cli.ts';
import { loadModelFiles } from './tfjs.ts';

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
