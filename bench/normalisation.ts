// Does a test-time normalisation beyond today's (crop, 20×20, centre of mass, marker thinning)
// help? `npx tsx bench/normalisation.ts [--count N] [--model DIR]…` sends the first N MNIST test
// digits through every kind of the robustness report and normalises each picture three ways:
//   as served     the Worker's normalisation (src/shared/normalize.ts), unchanged
//   deskewed      then sheared so that the ink's second moment μ11 is 0 (moment-based slant
//                 correction, as in LeCun's deskewed-MNIST baselines), about the centre of mass
//   strokes 3.2   strokes wider than 3.2 px of the 20-px box thinned to it (NIST-style stroke
//                 width normalisation; today only marker strokes over 4 px are thinned)
// and prints each model's accuracy per kind and variant. The models see the variants only at test
// time: a variant that hurts here could still pay if the model were also trained on it, which the
// table cannot say; one that helps here would be adopted for training and serving alike.
import { parseArgs } from 'node:util';
import { type DigitSet, IMAGE_SIZE, MODEL_DIR, NUM_CLASSES, PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { normalizeDigit, TARGET_STROKE_WIDTH } from '../src/shared/normalize.ts';
import { seededRandom } from '../src/shared/random.ts';
import { loadSplit, take } from '../src/train/data/mnist.ts';
import { loadStoredModel, readModelDir } from '../src/train/formats/model-dir.ts';
import { useWasmBackend } from '../src/train/kernels/backend.ts';
import { predictProbabilities } from '../src/train/report/evaluation.ts';
import { ROBUSTNESS_KINDS } from '../src/train/report/robustness.ts';
import { decodeToGray } from '../src/worker/input/decode-image.ts';

/** Shears a 28×28 digit (0–255) about its centre of mass so that its ink has no x–y correlation. */
export function deskew(digit: Uint8Array): Uint8Array {
  let mass = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < IMAGE_SIZE; y++)
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const v = digit[y * IMAGE_SIZE + x];
      mass += v;
      sx += v * x;
      sy += v * y;
    }
  if (mass === 0) return digit;
  const [cx, cy] = [sx / mass, sy / mass];
  let mu11 = 0;
  let mu02 = 0;
  for (let y = 0; y < IMAGE_SIZE; y++)
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const v = digit[y * IMAGE_SIZE + x];
      mu11 += v * (x - cx) * (y - cy);
      mu02 += v * (y - cy) * (y - cy);
    }
  const alpha = mu02 > 0 ? mu11 / mu02 : 0;
  const out = new Uint8Array(PIXEL_COUNT);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const shift = alpha * (y - cy);
    for (let x = 0; x < IMAGE_SIZE; x++) {
      // Output pixel (x, y) reads the input at (x + shift, y), linearly interpolated along the row.
      const sxAt = x + shift;
      const x0 = Math.floor(sxAt);
      const t = sxAt - x0;
      const at = (xi: number) => (xi >= 0 && xi < IMAGE_SIZE ? digit[y * IMAGE_SIZE + xi] : 0);
      out[y * IMAGE_SIZE + x] = Math.round((1 - t) * at(x0) + t * at(x0 + 1));
    }
  }
  return out;
}

const VARIANTS = {
  'as served': (gray: Parameters<typeof normalizeDigit>[0]) => normalizeDigit(gray),
  deskewed: (gray: Parameters<typeof normalizeDigit>[0]) => deskew(normalizeDigit(gray)),
  [`strokes ${TARGET_STROKE_WIDTH}`]: (gray: Parameters<typeof normalizeDigit>[0]) =>
    normalizeDigit(gray, { maxStrokeWidth: TARGET_STROKE_WIDTH }),
} as const;

function accuracy(probabilities: Float32Array, labels: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < NUM_CLASSES; c++)
      if (probabilities[i * NUM_CLASSES + c] > probabilities[i * NUM_CLASSES + best]) best = c;
    if (best === labels[i]) correct++;
  }
  return correct / labels.length;
}

const { values } = parseArgs({
  options: { count: { type: 'string', default: '1000' }, model: { type: 'string', multiple: true } },
});
const count = Number(values.count);
const dirs = values.model ?? [MODEL_DIR];
await useWasmBackend();
const test = take(await loadSplit('t10k'), count);
const models = await Promise.all(dirs.map(async (dir) => loadStoredModel(await readModelDir(dir))));

// The clean digits as MNIST has them, then every distorted kind as a picture through the Worker's decoding.
const header = ['kind', ...dirs.flatMap((dir) => Object.keys(VARIANTS).map((v) => `${dir}: ${v}`))];
console.log(`${count} MNIST test digits per kind; accuracy in %\n`);
console.log(`| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|`);
const kinds = [
  { name: 'MNIST, renormalised', pictures: null },
  ...ROBUSTNESS_KINDS.map((k) => ({ name: k.name, pictures: k })),
];
for (const kind of kinds) {
  const grays = [];
  for (let i = 0; i < test.count; i++) {
    const pixels = test.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT);
    if (!kind.pictures) {
      grays.push({ width: IMAGE_SIZE, height: IMAGE_SIZE, data: pixels });
      continue;
    }
    const { bytes, mediaType } = kind.pictures.picture(pixels, seededRandom(100_003 + i));
    grays.push(await decodeToGray(bytes, mediaType));
  }
  const cells: string[] = [];
  for (const model of models) {
    for (const normalise of Object.values(VARIANTS)) {
      const images = new Uint8Array(test.count * PIXEL_COUNT);
      for (const [i, gray] of grays.entries()) images.set(normalise(gray), i * PIXEL_COUNT);
      const set: DigitSet = { count: test.count, images, labels: test.labels };
      cells.push((accuracy(await predictProbabilities(model, set), test.labels) * 100).toFixed(1));
    }
  }
  console.log(`| ${kind.name} | ${cells.join(' | ')} |`);
}
