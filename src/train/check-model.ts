// `npm run deploy` runs this first (npm's predeploy hook): the model the Worker will bundle must
// parse as the artifact layout the Worker expects, and its metadata must describe these weights
// (the version is their content hash), so a stale metadata.json never ships beside new weights.
// `npx tsx src/train/check-model.ts [DIR]`
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { METADATA_JSON, MODEL_DIR, MODEL_JSON, WEIGHTS_FILE } from '../shared/model-spec.ts';
import { parseArtifacts } from '../worker/inference/artifacts.ts';
import { endQuietlyOnClosedPipe } from './cli/cli.ts';
import { modelVersion } from './formats/model-version.ts';

endQuietlyOnClosedPipe();
if (process.argv[2] === '--help' || process.argv[2] === '-h') {
  process.stdout.write(
    `Usage: npm run predeploy -- [DIR]  (npm run deploy runs it first)\n\nRefuses (exit 1) unless the model in DIR (default ${MODEL_DIR}) parses as the Worker's artifacts\nand ${METADATA_JSON}'s version is the hash of its ${WEIGHTS_FILE}.\n`,
  );
  process.exit(0);
}
const dir = process.argv[2] ?? MODEL_DIR;

function fail(message: string): never {
  console.error(`Refusing to deploy ${dir}: ${message}`);
  process.exit(1);
}

let files: { model: unknown; metadata: unknown; weights: Uint8Array };
try {
  const read = (file: string) => readFileSync(path.join(dir, file));
  files = {
    model: JSON.parse(read(MODEL_JSON).toString('utf8')),
    metadata: JSON.parse(read(METADATA_JSON).toString('utf8')),
    weights: new Uint8Array(read(WEIGHTS_FILE)),
  };
} catch (error) {
  fail((error as Error).message);
}
let version: string;
try {
  ({ version } = parseArtifacts(files.model, files.metadata, files.weights.slice().buffer).metadata);
} catch (error) {
  fail(`the files are not a model the Worker can serve: ${(error as Error).message}`);
}
const actual = modelVersion(files.weights);
if (version !== actual) {
  fail(
    `${METADATA_JSON} says version ${version}, but ${WEIGHTS_FILE} hashes to ${actual}; retrain, import or re-export the model instead of editing its files by hand.`,
  );
}
console.log(`Model ${dir} is version ${actual}, consistent with its metadata.`);
