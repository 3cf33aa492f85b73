// How well POST /read's code reads a set of number pictures (number-images.ts): each picture's
// reading, and whether /classify reads each of its digits right when drawn alone at the same size
// and style (what segmentation can be asked for). Shared by test/node/read-number.test.ts and
// bench/read-accuracy.ts. Node only (the committed model through loadServedClassifier's classifier).
import type { DigitSet } from '../../src/shared/model-spec.ts';
import { PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import type { Verify } from '../../src/shared/segment.ts';
import { imageToDigit } from '../../src/worker/input/decode-image.ts';
import { type Classify, readNumber } from '../../src/worker/input/read-number.ts';
import { type NumberPicture, renderNumber } from './number-images.ts';

export const READ_LIMITS = { maxPicturePixels: 16_000_000, maxDigits: 32 };

export interface Reading {
  picture: NumberPicture;
  number: string;
  /** Every digit of the picture is read right by /classify alone. */
  readable: boolean;
  /** CPU of reading it in this process, ms (process.cpuUsage; over HTTP, the client's). */
  cpuMs: number;
}

export interface ReadScore {
  total: number;
  right: number;
  readable: number;
  readableRight: number;
}

/** Reads a picture's number: readNumber in this process unless given another way (over HTTP). */
export type ReadPicture = (picture: NumberPicture) => Promise<string>;

/**
 * Reads every picture (with the segment verifier `verify` when given); digits alone are classified
 * once per (digit, size, style), in one batch per picture, by `classify` in this process.
 */
export async function readSet(
  mnist: DigitSet,
  set: NumberPicture[],
  classify: Classify,
  aloneRight = new Map<string, boolean>(),
  read?: ReadPicture,
  verify?: Verify,
): Promise<Reading[]> {
  read ??= async (p) => (await readNumber(p.bytes, p.mediaType, READ_LIMITS, classify, verify)).number;
  const readings: Reading[] = [];
  for (const picture of set) {
    const start = process.cpuUsage();
    const number = await read(picture);
    const { user, system } = process.cpuUsage(start);
    const key = (index: number) => `${index}:${picture.digitHeight}:${picture.style}`;
    // Each digit alone with the seed its place in the number gives it, as the tests always drew it.
    const missing = new Map<string, { index: number; seed: number }>();
    picture.indices.forEach((index, seed) => {
      if (!aloneRight.has(key(index)) && !missing.has(key(index))) missing.set(key(index), { index, seed });
    });
    if (missing.size) {
      const pixels = new Float32Array(missing.size * PIXEL_COUNT);
      for (const [k, { index, seed }] of [...missing.values()].entries()) {
        const alone = renderNumber(mnist, {
          indices: [index],
          gap: [0, 0],
          height: picture.digitHeight,
          style: picture.style,
          seed,
        });
        pixels.set(await imageToDigit(alone.bytes, alone.mediaType), k * PIXEL_COUNT);
      }
      const answers = await classify(pixels, missing.size);
      [...missing.entries()].forEach(([name, { index }], k) => {
        aloneRight.set(name, answers[k].digit === mnist.labels[index]);
      });
    }
    const readable = picture.indices.every((index) => aloneRight.get(key(index)));
    readings.push({ picture, number, readable, cpuMs: (user + system) / 1000 });
  }
  return readings;
}

export function scoreOf(readings: Reading[]): ReadScore {
  const right = readings.filter((r) => r.number === r.picture.label);
  return {
    total: readings.length,
    right: right.length,
    readable: readings.filter((r) => r.readable).length,
    readableRight: right.filter((r) => r.readable).length,
  };
}

export const describeScore = (s: ReadScore) => {
  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;
  return `${pct(s.right, s.total)} of ${s.total} numbers read right; ${pct(s.readableRight, s.readable)} of the ${s.readable} whose digits /classify reads right alone`;
};
