// `npm run evaluate -- [--model DIR]`: the evaluation report of a model directory, as stored.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_DIR } from '../shared/model-spec.ts';
import { runCli, UsageError, UserError } from './cli/cli.ts';
import {
  CONFUSION_PNG,
  EVALUATION_JSON,
  evaluateModelDir,
  MISTAKES_PNG,
  robustnessTable,
  summaryLine,
} from './report/evaluation.ts';

const HELP = `Usage: npm run evaluate -- [--model DIR] [--min ACCURACY] [--robustness N]

Evaluates the model in DIR (default ${MODEL_DIR}) exactly as stored (quantized weights, loaded
by stock tf.loadLayersModel) on the 10,000 MNIST test digits, and writes next to it:
  ${EVALUATION_JSON}  accuracy, loss, per-class precision/recall/F1, confusion matrix, mistakes
  ${CONFUSION_PNG}    the 10×10 confusion matrix with counts
  ${MISTAKES_PNG}     misclassified digits, captioned true → predicted with confidence
and, in ${EVALUATION_JSON}'s "robustness", the first N test digits (default 1000; 0 skips it) under
each kind of distortion (rotated, slanted, stretched to NIST's 20×32 box, thick, thin, blurred,
elastic, NIST's 8×8 thumbnails, low resolution, off-centre on a page, JPEG quality 15), each sent
as a picture through the Worker's own decoding and normalisation.
--min 0.99 exits 1 when the accuracy is below it (for scripts).
`;

await runCli(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      min: { type: 'string' },
      robustness: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (positionals.length > 1 || (positionals.length === 1 && values.model))
    throw new UsageError('give one model directory');
  const min = values.min === undefined ? null : Number(values.min);
  if (min !== null && !(min >= 0 && min <= 1))
    throw new UsageError(`--min must be an accuracy between 0 and 1, got "${values.min}"`);
  const robustness = Number(values.robustness ?? 1000);
  if (!Number.isInteger(robustness) || robustness < 0 || robustness > 10_000)
    throw new UsageError(`--robustness must be a number of test digits from 0 to 10000, got "${values.robustness}"`);
  const dir = values.model ?? positionals[0] ?? MODEL_DIR;
  const evaluation = await evaluateModelDir(dir, { robustness });
  console.log(summaryLine(evaluation, dir));
  if (evaluation.robustness)
    console.log(`under distortion (${robustness} test digits each):\n${robustnessTable(evaluation.robustness)}`);
  console.log(`wrote ${[EVALUATION_JSON, CONFUSION_PNG, MISTAKES_PNG].map((f) => path.join(dir, f)).join(', ')}`);
  if (min !== null && evaluation.accuracy < min) {
    throw new UserError(
      `accuracy ${(evaluation.accuracy * 100).toFixed(2)}% is below the required ${(min * 100).toFixed(2)}%`,
    );
  }
}, HELP);
