// Real handwriting by writers MNIST never saw: the UCI "optical recognition of handwritten digits"
// set as scikit-learn ships it (load_digits: 1,797 digits by 43 writers, size-normalised by NIST's
// programs to fill a 20×32 box, then 4×4 ink counts in an 8×8 grid, 0–16). Each digit is sent the
// way the issue's hidden set was: a 64×64 PNG, dark ink on white, through the Worker's own decoding
// and normalisation, and read by each model as stored (stock tfjs); or, with --url, to a running
// Worker's POST /classify.
//
//   apt-get install python3-sklearn   # ships the file; nothing is downloaded at run time
//   npx tsx bench/other-writers.ts [--file digits.csv.gz] [--model DIR]… [--url http://localhost:8787]
//
// Two ways to enlarge 8×8 to 64×64, since the hidden set's is not known: blocks (nearest) and
// smooth (the same area resampling the Worker uses). A bench, not a test: no MNIST digit is in it.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import { type DigitSet, MODEL_DIR, NUM_CLASSES, PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { resample } from '../src/shared/resample.ts';
import { loadStoredModel, readModelDir } from '../src/train/formats/model-dir.ts';
import { useWasmBackend } from '../src/train/kernels/backend.ts';
import { predictProbabilities } from '../src/train/report/evaluation.ts';
import { imageToDigit } from '../src/worker/input/decode-image.ts';

const DEBIAN_FILE = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz';
const SIDE = 8;
const PICTURE = 64;

interface Thumbnail {
  cells: Float32Array; // 64 ink counts, 0–16
  label: number;
}

async function readThumbnails(file: string): Promise<Thumbnail[]> {
  const text = gunzipSync(await readFile(file)).toString('utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const values = line.split(',').map(Number);
      if (values.length !== SIDE * SIDE + 1) throw new Error(`${file}: a row of ${values.length} values`);
      return { cells: Float32Array.from(values.slice(0, SIDE * SIDE)), label: values[SIDE * SIDE] };
    });
}

/** The thumbnail as a 64×64 dark-on-white PNG, enlarged by blocks or smoothly. */
function thumbnailPng({ cells }: Thumbnail, enlarge: 'blocks' | 'smooth'): Uint8Array {
  const ink = { width: SIDE, height: SIDE, data: Float32Array.from(cells, (v) => 255 - (v * 255) / 16) };
  const big =
    enlarge === 'smooth'
      ? resample(ink, PICTURE, PICTURE)
      : {
          width: PICTURE,
          height: PICTURE,
          data: Float32Array.from({ length: PICTURE * PICTURE }, (_, i) => {
            const [x, y] = [i % PICTURE, Math.floor(i / PICTURE)];
            return ink.data[Math.floor((y * SIDE) / PICTURE) * SIDE + Math.floor((x * SIDE) / PICTURE)];
          }),
        };
  const data = Uint8Array.from(big.data, (v) => Math.round(Math.min(255, Math.max(0, v))));
  return encodePng({ width: PICTURE, height: PICTURE, data, channels: 1, depth: 8 });
}

interface Score {
  all: number;
  digits: number[];
  /** The most frequent mistakes, "9→5 ×31". */
  confusions: string;
}

function score(predicted: (i: number) => number, labels: Uint8Array): Score {
  const right = new Array(NUM_CLASSES).fill(0);
  const total = new Array(NUM_CLASSES).fill(0);
  const mistakes = new Map<string, number>();
  labels.forEach((label, i) => {
    total[label]++;
    const p = predicted(i);
    if (p === label) right[label]++;
    else mistakes.set(`${label}→${p}`, (mistakes.get(`${label}→${p}`) ?? 0) + 1);
  });
  const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
  const confusions = [...mistakes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
  return { all: sum(right) / sum(total), digits: right.map((r, d) => r / total[d]), confusions };
}

const argmax = (p: ArrayLike<number>, offset = 0) => {
  let best = 0;
  for (let c = 1; c < NUM_CLASSES; c++) if (p[offset + c] > p[offset + best]) best = c;
  return best;
};

const { values } = parseArgs({
  options: {
    file: { type: 'string', default: DEBIAN_FILE },
    model: { type: 'string', multiple: true },
    url: { type: 'string' },
  },
});
const thumbnails = await readThumbnails(values.file).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== 'ENOENT') throw error;
  console.error(`No ${values.file}: apt-get install python3-sklearn, or give --file (scikit-learn's digits.csv.gz)`);
  process.exit(2);
});
const labels = Uint8Array.from(thumbnails, (t) => t.label);
console.log(`${thumbnails.length} digits by 43 writers (scikit-learn's load_digits), 64×64 PNG, dark on white`);
const pct = (x: number) => (x * 100).toFixed(1).padStart(5);
console.log(
  `${'model'.padEnd(40)} enlarged  all    ${[...Array(NUM_CLASSES).keys()].map((d) => `  ${d}  `).join(' ')}`,
);
const line = (name: string, enlarge: string, r: Score) =>
  console.log(
    `${name.padEnd(40)} ${enlarge.padEnd(8)} ${pct(r.all)}   ${r.digits.map(pct).join(' ')}   ${r.confusions}`,
  );

for (const enlarge of ['blocks', 'smooth'] as const) {
  const pictures = thumbnails.map((t) => thumbnailPng(t, enlarge));
  if (values.url) {
    const answers: number[] = [];
    for (const bytes of pictures) {
      const res = await fetch(new URL('/classify', values.url), {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: new Blob([bytes as Uint8Array<ArrayBuffer>]),
      });
      const body = (await res.json()) as { digit?: number; model?: string };
      answers.push(body.digit ?? -1);
    }
    line(
      `${values.url}`,
      enlarge,
      score((i) => answers[i], labels),
    );
    continue;
  }
  const images = new Uint8Array(pictures.length * PIXEL_COUNT);
  for (let i = 0; i < pictures.length; i++) images.set(await imageToDigit(pictures[i], 'image/png'), i * PIXEL_COUNT);
  const set: DigitSet = { count: pictures.length, images, labels };
  if (enlarge === 'blocks') await useWasmBackend();
  for (const dir of values.model ?? [MODEL_DIR]) {
    const stored = await readModelDir(dir);
    const model = await loadStoredModel(stored);
    const probabilities = await predictProbabilities(model, set);
    line(
      `${dir} (${stored.metadata?.version ?? '?'})`,
      enlarge,
      score((i) => argmax(probabilities, i * NUM_CLASSES), labels),
    );
    model.dispose();
  }
}
