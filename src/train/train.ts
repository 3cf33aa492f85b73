// `npm run train`: a fine-tune (`--fine-tune MODEL_DIR --extra FEEDBACK_DIR`, src/train/run/fine-tune.ts)
// or a training run from scratch (src/train/run/main.ts, which reads process.argv itself).
// Nothing heavy is imported statically: a training run's worker threads start before tfjs loads here.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { endQuietlyOnClosedPipe } from './cli/cli.ts';
import { mark } from './cli/timings.ts';
import { loadTfjs } from './kernels/load-tfjs.mjs';
import { launchEarly } from './replicas/replica-threads.ts';

/** `--workers` as main.ts reads it (default: one per core); null for `--help` or a value it will refuse. */
function workersAsked(argv: string[]): number | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  const { values } = parseArgs({ args: argv, strict: false, options: { workers: { type: 'string' } } });
  const workers = values.workers === undefined ? availableParallelism() : Number(values.workers);
  return Number.isInteger(workers) && workers > 0 ? workers : null;
}

endQuietlyOnClosedPipe(); // before the worker threads start: a closed pipe ends them too
const argv = process.argv.slice(2);
if (argv.some((arg) => arg === '--fine-tune' || arg.startsWith('--fine-tune='))) {
  await loadTfjs();
  const { fineTuneMain } = await import('./run/fine-tune.ts');
  process.exitCode = await fineTuneMain(argv);
} else {
  const workers = workersAsked(argv);
  if (workers !== null) launchEarly(workers);
  mark('worker threads launched');
  await loadTfjs();
  await import('./run/main.ts');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      '  --fine-tune DIR     fine-tune DIR on corrections instead (--extra DIR): npm run train -- --fine-tune models/mnist-cnn --help\n',
    );
  }
}
