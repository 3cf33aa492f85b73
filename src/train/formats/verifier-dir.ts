// The segment verifier's directory (models/segment-verifier/: model.json, weights.bin,
// metadata.json) as the Worker's SegmentVerifier.load takes it: for npm run classify -- --read,
// the tests and the benchmarks, which read it from disk where the Worker has it bundled.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  VERIFIER_DIR,
  VERIFIER_METADATA_JSON,
  VERIFIER_MODEL_JSON,
  VERIFIER_WEIGHTS_FILE,
} from '../../shared/segment-verifier.ts';
import { UserError } from '../cli/cli.ts';

export interface VerifierDirFiles {
  modelJson: unknown;
  metadata: { version: string };
  weights: ArrayBuffer;
}

export async function readVerifierDir(dir = VERIFIER_DIR): Promise<VerifierDirFiles> {
  const read = (name: string) =>
    readFile(path.join(dir, name)).catch(() => {
      throw new UserError(`${dir} is not a segment verifier directory: ${name} is missing`);
    });
  const [modelJson, metadata, weights] = await Promise.all([
    read(VERIFIER_MODEL_JSON),
    read(VERIFIER_METADATA_JSON),
    read(VERIFIER_WEIGHTS_FILE),
  ]);
  return {
    modelJson: JSON.parse(modelJson.toString('utf8')),
    metadata: JSON.parse(metadata.toString('utf8')),
    weights: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
  };
}
