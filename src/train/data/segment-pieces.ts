// The segment verifier's training data: numbers made of MNIST *training* digits drawn into an ink
// map (touching, overlapping, apart, some strokes broken), cut by POST /read's own candidate
// generator (shared/segment.ts candidatePieces), and each candidate labelled by whose ink it
// holds: one whole digit, a fragment of one (a cut through a digit), or more than one (touching
// digits, a digit with a neighbour's stroke). Seeded and deterministic. MNIST's test digits are
// never used here: the test pictures (test/support/number-images.ts) are made of them.

import { BOX_INK_LEVEL, type InkMap } from '../../shared/ink.ts';
import type { DigitSet } from '../../shared/model-spec.ts';
import { seededRandom } from '../../shared/random.ts';
import { candidatePieces } from '../../shared/segment.ts';
import { FRAGMENT, MERGED, VERIFIER_INPUTS, verifierInput, WHOLE } from '../../shared/segment-verifier.ts';
import { drawDigit } from './pen.ts';

/** A candidate is one whole digit when it holds this much of one digit's ink… */
const WHOLE_COVER = 0.88;
/** …and other digits' ink of at most this × that digit's. */
const WHOLE_EXTRA = 0.06;
/** More than one digit: other digits' ink at least this × the main digit's (a neighbour's stroke). */
const MERGED_EXTRA = 0.15;
/** A fragment: at most this much of its digit, and hardly any other ink. */
const FRAGMENT_COVER = 0.75;
const FRAGMENT_EXTRA = 0.1;

export interface PieceSet {
  count: number;
  /** count × VERIFIER_INPUTS. */
  inputs: Float32Array;
  /** count labels: WHOLE, FRAGMENT or MERGED. */
  labels: Uint8Array;
}

/** A pixel inked by two digits: it counts for neither when a candidate is labelled (a 1 overlapping a 4 is still whole without it). */
const SHARED = -2;

export interface NumberInk {
  ink: InkMap;
  /** Per pixel, the digit (0-based place) that inks it; -1 for paper, SHARED where two do. */
  owner: Int16Array;
  digits: number;
}

/**
 * A number of `indices` (training digits) drawn into an ink map as /read's extractInk would find
 * it: digits `height` px tall, gaps drawn from `gap` (negative overlaps), jitter up and down.
 */
export function drawNumber(
  mnist: DigitSet,
  indices: number[],
  options: { height: number; gap: [number, number]; jitter: number; broken: number },
  random: () => number,
): NumberInk {
  const { height } = options;
  const digits = indices.map((index) => {
    const r = drawDigit(mnist.images.subarray(index * 784, (index + 1) * 784), height, 0.2 + 0.15 * random());
    if (random() < options.broken) {
      const band = 2 + Math.floor(random() * 2);
      const at = Math.round(r.y0 + (0.3 + 0.4 * random()) * (r.y1 - r.y0));
      for (let y = at; y < Math.min(r.size, at + band); y++) r.ink.fill(0, y * r.size, (y + 1) * r.size);
    }
    return r;
  });
  const margin = Math.round(height * 0.4);
  const lefts: number[] = [];
  let cursor = margin;
  for (const r of digits) {
    lefts.push(cursor);
    const [lo, hi] = options.gap;
    cursor += r.x1 - r.x0 + 1 + Math.round(lo + (hi - lo) * random());
  }
  const width = cursor + margin;
  const mapHeight = Math.round(height * 1.8);
  const data = new Float32Array(width * mapHeight);
  const owner = new Int16Array(width * mapHeight).fill(-1);
  digits.forEach((r, k) => {
    const top = Math.round((mapHeight - height) / 2 + (2 * random() - 1) * options.jitter * height) - r.y0;
    const left = lefts[k] - r.x0;
    for (let y = 0; y < r.size; y++) {
      const ty = top + y;
      if (ty < 0 || ty >= mapHeight) continue;
      for (let x = 0; x < r.size; x++) {
        const tx = left + x;
        if (tx < 0 || tx >= width) continue;
        const i = ty * width + tx;
        const v = r.ink[y * r.size + x];
        if (v >= BOX_INK_LEVEL) owner[i] = owner[i] === -1 ? k : SHARED;
        if (v > data[i]) data[i] = v;
      }
    }
  });
  let [x0, y0, x1, y1] = [width, mapHeight, -1, -1];
  for (let y = 0; y < mapHeight; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] < BOX_INK_LEVEL) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return {
    ink: { width, height: mapHeight, data, box: { x0, y0, x1, y1 }, inverted: false },
    owner,
    digits: digits.length,
  };
}

/** Each digit's own ink (not the pixels it shares with a neighbour). */
export function inkTotals(number: NumberInk): Float64Array {
  const totals = new Float64Array(number.digits);
  number.owner.forEach((k, i) => {
    if (k >= 0) totals[k] += number.ink.data[i];
  });
  return totals;
}

/** Whole, fragment or merged by whose ink a candidate holds; undefined when it is neither clearly. */
export function labelCandidate(
  number: NumberInk,
  box: { x0: number; y0: number; x1: number; y1: number },
  own: Float32Array,
  totals: Float64Array,
): number | undefined {
  const held = new Float64Array(number.digits);
  const w = box.x1 - box.x0 + 1;
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) {
      const v = own[(y - box.y0) * w + x - box.x0];
      if (v < BOX_INK_LEVEL) continue;
      const k = number.owner[y * number.ink.width + x];
      if (k >= 0) held[k] += v;
    }
  }
  let main = 0;
  for (let k = 1; k < held.length; k++) if (held[k] > held[main]) main = k;
  const sum = held.reduce((a, b) => a + b, 0);
  const cover = held[main] / totals[main];
  const extra = (sum - held[main]) / totals[main];
  if (extra >= MERGED_EXTRA) return MERGED;
  if (cover >= WHOLE_COVER && extra <= WHOLE_EXTRA) return WHOLE;
  if (cover <= FRAGMENT_COVER && extra <= FRAGMENT_EXTRA) return FRAGMENT;
  return undefined;
}

export interface PieceSetOptions {
  /** Number pictures to draw. */
  pictures: number;
  seed: number;
  /** Digits a number, [min, max]. */
  length?: [number, number];
}

/**
 * Candidates of `pictures` numbers drawn from `mnist` (training digits): half touching or
 * overlapping by up to 6 px, a quarter just apart, a quarter well apart; a fifth of the digits
 * with a stroke broken across; 24–64 px tall (what /read's ink maps hold at its working side).
 */
export function pieceSet(mnist: DigitSet, options: PieceSetOptions): PieceSet {
  const random = seededRandom(options.seed);
  const [minLength, maxLength] = options.length ?? [2, 6];
  const inputs: Float32Array[] = [];
  const labels: number[] = [];
  for (let p = 0; p < options.pictures; p++) {
    const length = minLength + Math.floor(random() * (maxLength - minLength + 1));
    const indices = Array.from({ length }, () => Math.floor(random() * mnist.count));
    const kind = random();
    const gap: [number, number] = kind < 0.5 ? [-6, 0] : kind < 0.75 ? [0, 4] : [2, 15];
    const number = drawNumber(
      mnist,
      indices,
      { height: Math.round(24 + 40 * random()), gap, jitter: 0.1 * random(), broken: 0.2 },
      random,
    );
    const totals = inkTotals(number);
    for (const candidate of candidatePieces(number.ink)) {
      const { box, pixels } = candidate.segment;
      const label = labelCandidate(number, box, candidate.ink, totals);
      if (label === undefined) continue;
      const input = new Float32Array(VERIFIER_INPUTS);
      verifierInput(pixels, { width: box.x1 - box.x0 + 1, height: box.y1 - box.y0 + 1 }, candidate.lineHeight, input);
      inputs.push(input);
      labels.push(label);
    }
  }
  const flat = new Float32Array(inputs.length * VERIFIER_INPUTS);
  inputs.forEach((row, i) => {
    flat.set(row, i * VERIFIER_INPUTS);
  });
  return { count: labels.length, inputs: flat, labels: Uint8Array.from(labels) };
}
