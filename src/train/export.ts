// `npm run export -- --model DIR --format keras`: the Keras recipe's Keras files next to a saved model.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_DIR } from '../shared/model-spec.ts';
import { runCli, UsageError } from './cli/cli.ts';
import { writeKerasFiles } from './formats/keras/export.ts';

const HELP = `Usage: npm run export -- [--model DIR] [--format keras] [--keras3]

Writes, next to the model in DIR (default ${MODEL_DIR}), the Keras tutorial's save format:
  model_digit.json   the architecture, as model.to_json() (keras.models.model_from_json reads it)
  model_digit.h5     the weights, as Keras 2 model.save_weights() writes them (load_weights reads it)
  model_digit.keras  with --keras3: Keras 3's archive (keras.models.load_model reads it)
Stored uint8/float16 weights are dequantized to float32: the files hold exactly what the Worker serves.
`;

await runCli(async () => {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      format: { type: 'string', default: 'keras' },
      keras3: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values.format !== 'keras')
    throw new UsageError(`--format must be keras (the only export format), got "${values.format}"`);
  const dir = values.model ?? MODEL_DIR;
  const written = await writeKerasFiles(dir, { keras3: values.keras3 });
  for (const name of written) console.log(`wrote ${path.join(dir, name)}`);
}, HELP);
