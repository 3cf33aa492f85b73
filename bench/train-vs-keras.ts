// Our trainer against the seed's own stack, Keras 3 on TensorFlow, on the same work, process start to
// exit, alternating (ours first, then Keras, each round), medians.
//   ours:  node --import tsx src/train/train.ts --recipe keras --epochs 1 --train-limit 7680 --out DIR
//          (what `npm run train` runs, on this process's Node, without npm's own start-up)
//   Keras: PYTHON bench/keras_mnist.py --train-limit 7680 --epochs 1 (validated on the 10k test set)
//   --full: the whole recipe on both sides, 10 epochs on 60k, validated every epoch (1 round by default)
// PYTHON is $KERAS_PYTHON, else /work/keras-venv/bin/python if it exists, else python3; it needs
// tensorflow-cpu and keras, e.g. python3 -m venv /work/keras-venv &&
// /work/keras-venv/bin/pip install tensorflow-cpu==2.21.0 keras==3.15.1 (a bench tool, not a dependency).
// Run: npx tsx bench/train-vs-keras.ts [rounds=3] [--full] [--train-limit N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, timedProcess, utcHour } from './stats.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { full: { type: 'boolean', default: false }, 'train-limit': { type: 'string' } },
});
const full = values.full ?? false;
const rounds = Number(positionals[0] ?? (full ? 1 : 3));
const limit = Number(values['train-limit'] ?? (full ? 60000 : 7680));
const epochs = full ? 10 : 1;
const root = path.resolve(import.meta.dirname, '..');
const DEFAULT_VENV_PYTHON = '/work/keras-venv/bin/python';

function pickPython(): string {
  if (process.env.KERAS_PYTHON) return process.env.KERAS_PYTHON;
  return existsSync(DEFAULT_VENV_PYTHON) ? DEFAULT_VENV_PYTHON : 'python3';
}

/** "TensorFlow 2.21.0, Keras 3.15.1" as `python` imports them, or null when either is missing. */
function probeKeras(python: string): string | null {
  const probe = spawnSync(
    python,
    [
      '-c',
      'import os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"; import tensorflow as tf, keras; print(tf.__version__, keras.__version__)',
    ],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0) return null;
  const [tf, keras] = probe.stdout.trim().split(/\s+/).slice(-2);
  return `TensorFlow ${tf}, Keras ${keras}`;
}

const python = pickPython();
const versions = probeKeras(python);
if (!versions) {
  console.log(
    `TensorFlow/Keras are not installed for ${python}: nothing to compare against, no figures.\n` +
      'Install them in a venv outside the repository (python3 -m venv /work/keras-venv && ' +
      '/work/keras-venv/bin/pip install tensorflow-cpu==2.21.0 keras==3.15.1), or set KERAS_PYTHON to a python that has them.',
  );
  process.exit(1);
}

const work = `${epochs} epoch${epochs > 1 ? 's' : ''} on ${limit} digits, the 10k test set validated after ${full ? 'each' : 'it'}`;
console.log(
  `${utcHour()}, Node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()[0].toFixed(2)}; ` +
    `${versions} (${python}); ${work}; ${rounds} round${rounds > 1 ? 's' : ''}, alternating`,
);
const ourArgs = ['--recipe', 'keras', '--epochs', String(epochs), '--train-limit', String(limit)];
const kerasArgs = ['bench/keras_mnist.py', '--epochs', String(epochs), '--train-limit', String(limit)];
const ours: number[] = [];
const keras: number[] = [];
const percent = (accuracy: number | undefined) => (accuracy === undefined ? '?' : `${(accuracy * 100).toFixed(2)}%`);
for (let round = 1; round <= rounds; round++) {
  const out = await mkdtemp(path.join(tmpdir(), 'bench-keras-'));
  const model = path.join(out, 'model');
  const our = await timedProcess(
    process.execPath,
    ['--import', 'tsx', 'src/train/train.ts', ...ourArgs, '--out', model],
    {
      cwd: root,
    },
  );
  const metadata = JSON.parse(await readFile(path.join(model, 'metadata.json'), 'utf8'));
  await rm(out, { recursive: true, force: true });
  ours.push(our.seconds);
  const theirs = await timedProcess(python, kerasArgs, { cwd: root });
  keras.push(theirs.seconds);
  const kerasAccuracy = [...theirs.stdout.matchAll(/test loss \S+ acc (\S+)/g)].at(-1)?.[1];
  console.log(
    `round ${round} (${utcHour().slice(11)}): ours ${our.seconds.toFixed(1)} s (test ${percent(metadata.test?.accuracy)}, ` +
      `stored ${percent(metadata.testAccuracy)}), Keras ${theirs.seconds.toFixed(1)} s (val ${percent(kerasAccuracy === undefined ? undefined : Number(kerasAccuracy))})`,
  );
}
const list = (times: number[]) => times.map((t) => t.toFixed(1)).join(', ');
const ourMedian = median(ours);
const kerasMedian = median(keras);
console.log(`ours (${ourArgs.join(' ')}): median ${ourMedian.toFixed(1)} s of ${list(ours)}`);
console.log(
  `Keras 3 on TensorFlow (${kerasArgs.slice(1).join(' ')}): median ${kerasMedian.toFixed(1)} s of ${list(keras)}`,
);
console.log(
  `ratio Keras / ours: ${(kerasMedian / ourMedian).toFixed(2)} (target ${full ? '≥ 0.5: ours ≤ 2× Keras' : '≥ 1.0'}), ` +
    `${utcHour()}, Node ${process.version}`,
);
