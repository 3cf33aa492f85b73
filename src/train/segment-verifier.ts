// `npm run train:verifier -- [--seed N] [--pictures N] [--epochs N] [--out DIR]`: trains the
// segment verifier POST /read's segmentation asks (src/shared/segment-verifier.ts) on numbers made
// of MNIST training digits, and writes it atomically into models/segment-verifier/.
import { parseArgs } from 'node:util';
import { VERIFIER_CLASSES, VERIFIER_DIR } from '../shared/segment-verifier.ts';
import { runCli, UsageError } from './cli/cli.ts';
import { loadSplit } from './data/mnist.ts';
import { writeDirAtomically } from './formats/tfjs.ts';
import { DEFAULT_VERIFIER_OPTIONS, trainVerifier } from './run/segment-verifier.ts';

const HELP = `Usage: npm run train:verifier -- [--seed N] [--pictures N] [--epochs N] [--out DIR]

Draws --pictures numbers (default ${DEFAULT_VERIFIER_OPTIONS.trainPictures}) of MNIST training digits, touching, overlapping and
apart, cuts them as POST /read would, labels every candidate piece ${VERIFIER_CLASSES.join(' / ')}, trains the
verifier on them (seeded: --seed, default ${DEFAULT_VERIFIER_OPTIONS.seed}) and writes it to DIR (default ${VERIFIER_DIR}).
`;

await runCli(async () => {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      pictures: { type: 'string' },
      epochs: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const count = (name: string, value: string | undefined, fallback: number) => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number ≥ 1, got "${value}"`);
    return n;
  };
  const trainPictures = count('pictures', values.pictures, DEFAULT_VERIFIER_OPTIONS.trainPictures);
  const options = {
    ...DEFAULT_VERIFIER_OPTIONS,
    seed: count('seed', values.seed, DEFAULT_VERIFIER_OPTIONS.seed),
    trainPictures,
    validationPictures: Math.max(1, Math.round(trainPictures * 0.15)),
    epochs: count('epochs', values.epochs, DEFAULT_VERIFIER_OPTIONS.epochs),
  };
  const mnist = await loadSplit('train');
  const result = await trainVerifier(mnist, options, (line) => console.log(line));
  const dir = values.out ?? VERIFIER_DIR;
  await writeDirAtomically(dir, result.files);
  console.log(
    `verifier ${result.version}: ${(result.accuracy * 100).toFixed(2)}% of held-out pieces; confusion ${JSON.stringify(result.confusion)}; wrote ${dir}`,
  );
}, HELP);
