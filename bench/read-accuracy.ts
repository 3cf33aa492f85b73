// POST /read's segmentation, measured on the seeded number pictures the tests use (made of MNIST
// *test* digits, test/support/number-images.ts), with the Worker's own reading code and the
// committed model: the share of numbers read right as a whole, of all and of those whose every
// digit /classify reads right alone, per set; CPU per picture; and what the misses were read as.
//   npx tsx bench/read-accuracy.ts [--pictures 150] [--seed 11] [--sets apart,broken,touching] [--misses]
// Tune on other seeds than the tests' (11), then confirm on 11: the floors there must not be fit.
import { parseArgs } from 'node:util';
import { loadServedClassifier } from '../test/support/classifier.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { numberSet, READ_SETS } from '../test/support/number-images.ts';
import { describeScore, readSet, scoreOf } from '../test/support/read-score.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    pictures: { type: 'string', default: '150' },
    seed: { type: 'string', default: '11' },
    sets: { type: 'string', default: Object.keys(READ_SETS).join(',') },
    misses: { type: 'boolean', default: false },
  },
});
const mnist = loadMnistTest();
const classifier = await loadServedClassifier();
const classify = (pixels: Float32Array, count: number) => classifier.classify(pixels, count);
const aloneRight = new Map<string, boolean>();

for (const [name, options] of Object.entries(READ_SETS)) {
  if (!values.sets.split(',').includes(name)) continue;
  const set = numberSet(mnist, Number(values.pictures), Number(values.seed), options);
  const readings = await readSet(mnist, set, classify, aloneRight);
  const cpu = median(readings.map((r) => r.cpuMs));
  console.log(`${name}: ${describeScore(scoreOf(readings))}; median ${cpu.toFixed(1)} ms CPU per picture`);
  if (!values.misses) continue;
  for (const [k, r] of readings.entries()) {
    if (r.number === r.picture.label) continue;
    console.log(
      `  #${k} ${r.picture.label} → ${r.number}${r.readable ? '' : ' (misread alone too)'} ${r.picture.style}`,
    );
  }
}
