// `npm run train`: a fine-tune (`--fine-tune MODEL_DIR --extra FEEDBACK_DIR`, src/train/fine-tune.ts)
// or a training run from scratch (src/train/main.ts, which reads process.argv itself).
// Nothing heavy is imported statically: a training run's worker threads start before tfjs loads here.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { loadTfjs } from './load-tfjs.mjs';
import { launchEarly } from './replica-threads.ts';
import { mark } from './timings.ts';

/** `--workers` as main.ts reads it (default: one per core); null for `--help` or a value it will refuse. */
function workersAsked(argv: string[]): number | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  const { values } = parseArgs({ args: argv, strict: false, options: { workers: { type: 'string' } } });
  const workers = values.workers === undefined ? availableParallelism() : Number(values.workers);
  return Number.isInteger(workers) && workers > 0 ? workers : null;
}

const argv = process.argv.slice(2);
if (argv.some((arg) => arg === '--fine-tune' || arg.startsWith('--fine-tune='))) {
  await loadTfjs();
  const { fineTuneMain } = await import('./fine-tune.ts');
  process.exitCode = await fineTuneMain(argv);
} else {
  const workers = workersAsked(argv);
  if (workers !== null) launchEarly(workers);
  mark('worker threads launched');
  await loadTfjs();
  await import('./main.ts');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      '  --fine-tune DIR     fine-tune DIR on corrections instead (--extra DIR): npm run train -- --fine-tune models/mnist-cnn --help\n',
    );
  }
}
