// `npm run import -- FILES… [--out DIR]`: a Keras model of the Keras recipe's architecture → a model directory.
import { parseArgs } from 'node:util';
import { MODEL_DIR } from '../shared/model-spec.ts';
import { runCli, UsageError } from './cli/cli.ts';
import { describeFormat, importKeras } from './run/keras-import.ts';

const HELP = `Usage:
  npm run import -- model_digit.json model_digit.h5 [--out DIR]   architecture JSON + save_weights (Keras 2) or .weights.h5 (Keras 3)
  npm run import -- model.h5 [--out DIR]                          a full model from model.save (Keras 2, or Keras 3 legacy .h5)
  npm run import -- model.keras [--out DIR]                       a Keras 3 .keras archive

Converts a Keras model of the Keras recipe's architecture (Conv2D 32 3×3 relu → Conv2D 64 3×3 relu →
MaxPooling2D 2 → Dropout → Flatten → Dense 128 relu → Dropout → Dense 10 softmax; layer names and
dropout rates may differ) into a model directory (default --out ${MODEL_DIR}): tfjs model.json,
uint8 weights, metadata.json with the test accuracy before and after quantization (10,000 MNIST
test digits), the evaluation report and model_digit.json + model_digit.h5. Another architecture is refused; nothing is written then.
`;

await runCli(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (positionals.length === 0) throw new UsageError('no Keras file given');
  const outDir = values.out ?? MODEL_DIR;
  const result = await importKeras(positionals, { outDir });
  console.log(`Read ${describeFormat(result.format)}${result.kerasVersion ? `, Keras ${result.kerasVersion}` : ''}`);
  console.log(
    `Test accuracy ${(result.accuracy * 100).toFixed(2)}% as float32, ${(result.storedAccuracy * 100).toFixed(2)}% stored as uint8 ` +
      `(10,000 MNIST test digits)`,
  );
  console.log(
    `Model ${result.version} written to ${outDir} (with evaluation.json, confusion.png, mistakes.png, model_digit.json, model_digit.h5)`,
  );
}, HELP);
