// `npm run classify -- FILE.png [FILE.jpg …]`: what the Worker would answer for local pictures, with
// its own code: the same decoding + MNIST-style normalisation and the same engine and weights.
// `--read`: each picture is a handwritten number, read as POST /read reads it.
import { parseArgs } from 'node:util';
import { getBackend, setBackend } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { MODEL_DIR, PIXEL_COUNT } from '../shared/model-spec.ts';
import { ApiError } from '../worker/errors.ts';
// The Worker's modules (paths as of this writing; src/worker is being reorganised).
import { parseArtifacts } from '../worker/inference/artifacts.ts';
import { DigitClassifier } from '../worker/inference/classifier.ts';
import { SegmentVerifier } from '../worker/inference/verifier.ts';
import { imageToDigit } from '../worker/input/decode-image.ts';
import { readNumber } from '../worker/input/read-number.ts';
import { DEFAULT_LIMITS } from '../worker/limits.ts';
import { readUserFile, runCli, UsageError, UserError } from './cli/cli.ts';
import { readModelDir } from './formats/model-dir.ts';
import { readVerifierDir } from './formats/verifier-dir.ts';

const HELP = `Usage: npm run classify -- FILE.png [FILE.jpg …] [--read] [--model DIR]

Classifies pictures of single digits (PNG or JPEG, any size, either polarity) exactly as
POST /classify does: the Worker's decoding and normalisation, then its inference engine on the
weights in DIR (default ${MODEL_DIR}). Prints the digit and confidence per file.

  --read   each picture is a handwritten number on one line: read it as POST /read does, with
           its segment verifier (models/segment-verifier) (at most ${DEFAULT_LIMITS.maxDigits} digits, the default MAX_DIGITS) and print the number,
           then each digit with its confidence and box (x,y width×height in the picture).
`;

await runCli(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { model: { type: 'string' }, read: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (positionals.length === 0) throw new UsageError('no picture given');
  const stored = await readModelDir(values.model ?? MODEL_DIR);
  if (!stored.metadata) throw new UserError(`${stored.dir}: metadata.json is missing (the Worker needs it)`);
  await setBackend('wasm'); // in Node the package loads its SIMD binary from disk
  if (getBackend() !== 'wasm') throw new Error('the tfjs wasm backend failed to start');
  const weights = stored.weights.buffer.slice(
    stored.weights.byteOffset,
    stored.weights.byteOffset + stored.weights.byteLength,
  ) as ArrayBuffer;
  const classifier = DigitClassifier.load(parseArtifacts(JSON.parse(stored.modelJson), stored.metadata, weights));
  const width = Math.max(...positionals.map((f) => f.length));
  // /read's segment verifier (models/segment-verifier), loaded on the first number.
  let verifier: SegmentVerifier | undefined;
  let failed = 0;
  for (const file of positionals) {
    try {
      const bytes = await readUserFile(file);
      if (values.read) {
        verifier ??= SegmentVerifier.load(await readVerifierDir());
        const v = verifier;
        const { number, digits } = await readNumber(
          bytes,
          undefined,
          DEFAULT_LIMITS,
          (pixels, count) => classifier.classify(pixels, count),
          (inputs, count) => v.verify(inputs, count),
        );
        const each = digits.map(
          ({ digit, confidence, box }) =>
            `${digit} ${(confidence * 100).toFixed(1)}% at ${box.x},${box.y} ${box.width}×${box.height}`,
        );
        console.log(`${file.padEnd(width)}  ${number}  (${each.join('; ')})`);
        continue;
      }
      // As for a raw body sent without a declared type: the format is sniffed from the bytes.
      const digit = await imageToDigit(bytes);
      const [prediction] = await classifier.classify(Float32Array.from(digit.subarray(0, PIXEL_COUNT)), 1);
      console.log(
        `${file.padEnd(width)}  ${prediction.digit}  (confidence ${(prediction.confidence * 100).toFixed(1)}%)`,
      );
    } catch (error) {
      if (!(error instanceof ApiError || error instanceof UserError)) throw error;
      failed++;
      console.error(`${file.padEnd(width)}  error: ${error.message}`);
    }
  }
  if (failed) process.exitCode = 1;
}, HELP);
