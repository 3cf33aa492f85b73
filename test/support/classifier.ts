// Node-only: the committed model on the Worker's own inference code (tfjs wasm backend), as
// `npm run classify` loads it, for tests that need the served network's answers.
import { setBackend } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { MODEL_DIR } from '../../src/shared/model-spec.ts';
import { VERIFIER_DIR } from '../../src/shared/segment-verifier.ts';
import { readModelDir } from '../../src/train/formats/model-dir.ts';
import { readVerifierDir } from '../../src/train/formats/verifier-dir.ts';
import { parseArtifacts } from '../../src/worker/inference/artifacts.ts';
import { DigitClassifier } from '../../src/worker/inference/classifier.ts';
import { SegmentVerifier } from '../../src/worker/inference/verifier.ts';

export async function loadServedClassifier(dir = MODEL_DIR): Promise<DigitClassifier> {
  const stored = await readModelDir(dir);
  if (!stored.metadata) throw new Error(`${dir}: metadata.json is missing`);
  await setBackend('wasm');
  const { buffer, byteOffset, byteLength } = stored.weights;
  const weights = buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer;
  return DigitClassifier.load(parseArtifacts(JSON.parse(stored.modelJson), stored.metadata, weights));
}

/** The committed segment verifier (or the one in `dir`) on the Worker's own code, as /read runs it. */
export async function loadServedVerifier(dir = VERIFIER_DIR): Promise<SegmentVerifier> {
  await setBackend('wasm');
  return SegmentVerifier.load(await readVerifierDir(dir));
}
