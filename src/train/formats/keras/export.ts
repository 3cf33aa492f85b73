// The Keras recipe's save format from a project model directory: model_digit.json (to_json) and
// model_digit.h5 (save_weights, Keras 2 layout), plus model_digit.keras (Keras 3 archive).
import { ensureWasmBackend } from '../../kernels/wasm-backend.ts';
import { decodeStoredWeights, readModelDir, type StoredModel } from '../model-dir.ts';
import { writeDirAtomically } from '../tfjs.ts';
import { kerasModelJson } from './architecture.ts';
import { writeKerasArchive } from './keras-zip.ts';
import { type WeightMap, weightedLayers, writeKeras2WeightsH5, writeKeras3WeightsH5 } from './weights.ts';

export const KERAS_JSON_FILE = 'model_digit.json';
export const KERAS_H5_FILE = 'model_digit.h5';
export const KERAS_ARCHIVE_FILE = 'model_digit.keras';

export interface KerasExportOptions {
  /** Also write the Keras 3 `.keras` archive (default false: Keras 3 loads model_digit.h5 too). */
  keras3?: boolean;
}

/** The dequantized weights of a stored model, checked against the Keras recipe's layers and shapes. */
export function storedWeightMap(stored: Pick<StoredModel, 'modelJson' | 'weights'>): WeightMap {
  const decoded = decodeStoredWeights(stored);
  for (const { spec, kernel, bias } of weightedLayers()) {
    for (const [part, shape] of [
      ['kernel', kernel],
      ['bias', bias],
    ] as const) {
      const tensor = decoded.get(`${spec.name}/${part}`);
      if (!tensor) throw new Error(`model.json has no weight ${spec.name}/${part}`);
      if (JSON.stringify(tensor.shape) !== JSON.stringify(shape)) {
        throw new Error(`${spec.name}/${part} has shape [${tensor.shape}], expected [${shape}]`);
      }
    }
  }
  return decoded;
}

/** The Keras files for a model's weights, by file name (for writeDirAtomically). */
export async function kerasFiles(
  weights: WeightMap,
  options: KerasExportOptions = {},
): Promise<Record<string, Uint8Array | string>> {
  const files: Record<string, Uint8Array | string> = {
    [KERAS_JSON_FILE]: `${JSON.stringify(kerasModelJson(), null, 2)}\n`,
    [KERAS_H5_FILE]: await writeKeras2WeightsH5(weights),
  };
  if (options.keras3 ?? false) files[KERAS_ARCHIVE_FILE] = writeKerasArchive(await writeKeras3WeightsH5(weights));
  return files;
}

/**
 * Writes the Keras files next to a saved model (dequantizing its stored weights, so they equal
 * what the Worker serves); each file is replaced atomically. Returns the names written.
 */
export async function writeKerasFiles(modelDir: string, options: KerasExportOptions = {}): Promise<string[]> {
  const stored = await readModelDir(modelDir);
  await ensureWasmBackend();
  const files = await kerasFiles(storedWeightMap(stored), options);
  await writeDirAtomically(modelDir, files, { keep: true });
  return Object.keys(files);
}
