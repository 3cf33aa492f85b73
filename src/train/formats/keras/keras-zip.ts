// Keras 3's `.keras` archive: a zip of config.json, metadata.json and model.weights.h5 (saving_lib).
import { unzipSync, zipSync } from 'fflate';
import { UserError } from '../../cli/cli.ts';
import { keras3Config, WRITTEN_KERAS3_VERSION } from './architecture.ts';

export const KERAS_CONFIG = 'config.json';
export const KERAS_METADATA = 'metadata.json';
export const KERAS_WEIGHTS = 'model.weights.h5';

/** Far above the Keras recipe's 4.8 MB of float32 weights; refuses zip bombs before inflating them. */
const MAX_ENTRY_BYTES = 256 * 1024 * 1024;

export interface KerasArchive {
  config: string;
  metadata: { keras_version?: string; date_saved?: string };
  weights: Uint8Array;
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export function readKerasArchive(bytes: Uint8Array, source: string): KerasArchive {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (file) => {
        if (file.originalSize > MAX_ENTRY_BYTES)
          throw new UserError(`${source}: ${file.name} would inflate to ${file.originalSize} bytes; refusing`);
        return [KERAS_CONFIG, KERAS_METADATA, KERAS_WEIGHTS].includes(file.name);
      },
    });
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`${source}: not a readable zip archive (${(error as Error).message})`);
  }
  for (const name of [KERAS_CONFIG, KERAS_WEIGHTS]) {
    if (!entries[name]) {
      const hint = name === KERAS_WEIGHTS ? ' (a .keras saved with the npz weights format is not supported)' : '';
      throw new UserError(`${source}: no ${name} inside; not a Keras 3 .keras archive${hint}`);
    }
  }
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  let metadata: KerasArchive['metadata'] = {};
  if (entries[KERAS_METADATA]) {
    try {
      metadata = JSON.parse(decode(entries[KERAS_METADATA]));
    } catch {
      throw new UserError(`${source}: ${KERAS_METADATA} is not valid JSON`);
    }
  }
  return { config: decode(entries[KERAS_CONFIG]), metadata, weights: entries[KERAS_WEIGHTS] };
}

/** Keras saves the archive uncompressed (zipfile's default); so do we. */
export function writeKerasArchive(weightsH5: Uint8Array, savedAt = new Date()): Uint8Array {
  const pad = (n: number) => String(n).padStart(2, '0');
  const dateSaved =
    `${savedAt.getUTCFullYear()}-${pad(savedAt.getUTCMonth() + 1)}-${pad(savedAt.getUTCDate())}` +
    `@${pad(savedAt.getUTCHours())}:${pad(savedAt.getUTCMinutes())}:${pad(savedAt.getUTCSeconds())}`;
  const encode = (s: string) => new TextEncoder().encode(s);
  return zipSync(
    {
      [KERAS_METADATA]: encode(JSON.stringify({ keras_version: WRITTEN_KERAS3_VERSION, date_saved: dateSaved })),
      [KERAS_CONFIG]: encode(JSON.stringify(keras3Config())),
      [KERAS_WEIGHTS]: weightsH5,
    },
    { level: 0, mtime: savedAt },
  );
}
