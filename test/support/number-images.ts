// Pictures of handwritten numbers made from MNIST *test* digits laid side by side, the way
// POST /read's clients send them: a scan on paper (PNG), a canvas export (transparent PNG) or a
// phone photo (JPEG); gaps between digits (negative: they overlap), vertical jitter, strokes broken
// by a pen lifting, specks of dust. Seeded and deterministic; runs in Node and in workerd.

import { decode as decodePng, encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import type { DigitSet } from '../../src/shared/model-spec.ts';
import { seededRandom } from '../../src/shared/random.ts';
import { type DrawnDigit, drawDigit } from '../../src/train/data/pen.ts';
import { photograph, rgbToRgba } from './client-images.ts';

export type NumberStyle = 'scan' | 'canvas' | 'jpeg';

export interface NumberOptions {
  /** MNIST test-set indices, left to right. */
  indices: number[];
  /** Gap between neighbouring digits' ink, px: [min, max]; negative overlaps. */
  gap: [number, number];
  /** Digit height in px. */
  height: number;
  /** Up and down by up to this fraction of the height. */
  jitter?: number;
  /** Chance that a digit's strokes are broken by a band of paper across it. */
  broken?: number;
  /** Dust specks strewn over the picture. */
  specks?: number;
  style: NumberStyle;
  seed: number;
}

export interface NumberPicture {
  bytes: Uint8Array;
  mediaType: 'image/png' | 'image/jpeg';
  /** The digits' labels, joined. */
  label: string;
  /** The MNIST test-set indices of the digits, left to right. */
  indices: number[];
  style: NumberStyle;
  /** The digits' height, px. */
  digitHeight: number;
  width: number;
  height: number;
  /** Each digit's ink box in the picture (inclusive), left to right. */
  boxes: Array<{ x0: number; y0: number; x1: number; y1: number }>;
}

/** Paper across the digit: a band 2–3 px high somewhere in its middle, as where a pen lifted. */
function breakStrokes(r: DrawnDigit, rng: () => number): void {
  const band = 2 + Math.floor(rng() * 2);
  const at = Math.round(r.y0 + (0.3 + 0.4 * rng()) * (r.y1 - r.y0));
  for (let y = at; y < Math.min(r.size, at + band); y++) r.ink.fill(0, y * r.size, (y + 1) * r.size);
}

export function renderNumber(mnist: DigitSet, options: NumberOptions): NumberPicture {
  const rng = seededRandom(options.seed);
  const { height } = options;
  const jitter = options.jitter ?? 0;
  const digits = options.indices.map((index) => {
    const r = drawDigit(mnist.images.subarray(index * 784, (index + 1) * 784), height, 0.25);
    if (rng() < (options.broken ?? 0)) breakStrokes(r, rng);
    return r;
  });
  const margin = Math.round(height * 0.6);
  // Left edges of the digits' ink, from the gaps between them.
  const lefts: number[] = [];
  let cursor = margin;
  for (const r of digits) {
    lefts.push(cursor);
    const [lo, hi] = options.gap;
    cursor += r.x1 - r.x0 + 1 + Math.round(lo + (hi - lo) * rng());
  }
  const width = cursor + margin;
  const pictureHeight = Math.round(height * 2.2);
  const ink = new Float32Array(width * pictureHeight);
  const boxes: NumberPicture['boxes'] = [];
  digits.forEach((r, k) => {
    const top = Math.round((pictureHeight - height) / 2 + (2 * rng() - 1) * jitter * height) - r.y0;
    const left = lefts[k] - r.x0;
    for (let y = 0; y < r.size; y++) {
      const ty = top + y;
      if (ty < 0 || ty >= pictureHeight) continue;
      for (let x = 0; x < r.size; x++) {
        const tx = left + x;
        if (tx < 0 || tx >= width) continue;
        const i = ty * width + tx;
        ink[i] = Math.max(ink[i], r.ink[y * r.size + x]);
      }
    }
    boxes.push({ x0: left + r.x0, y0: top + r.y0, x1: left + r.x1, y1: top + r.y1 });
  });
  for (let s = 0; s < (options.specks ?? 0); s++) {
    const radius = 0.6 + rng() * 1.2;
    const cx = rng() * width;
    const cy = rng() * pictureHeight;
    for (let y = Math.floor(cy - radius); y <= Math.ceil(cy + radius); y++) {
      for (let x = Math.floor(cx - radius); x <= Math.ceil(cx + radius); x++) {
        if (x < 0 || y < 0 || x >= width || y >= pictureHeight) continue;
        if ((x - cx) ** 2 + (y - cy) ** 2 <= radius * radius) ink[y * width + x] = 1;
      }
    }
  }
  const label = options.indices.map((i) => mnist.labels[i]).join('');
  const canvas = { width, height: pictureHeight, ink };
  const common = {
    label,
    indices: options.indices,
    style: options.style,
    digitHeight: height,
    width,
    height: pictureHeight,
    boxes,
  };
  switch (options.style) {
    case 'canvas': {
      // The page's export: black strokes, alpha = coverage, transparent paper.
      const rgba = new Uint8Array(width * pictureHeight * 4);
      for (let i = 0; i < ink.length; i++) rgba[4 * i + 3] = Math.round(ink[i] * 255);
      const bytes = encodePng({ width, height: pictureHeight, data: rgba, channels: 4, depth: 8 });
      return { ...common, bytes, mediaType: 'image/png' };
    }
    case 'scan': {
      const rgb = photograph(canvas, rng, { noise: 2 + 3 * rng() });
      const bytes = encodePng({ width, height: pictureHeight, data: rgb, channels: 3, depth: 8 });
      return { ...common, bytes, mediaType: 'image/png' };
    }
    case 'jpeg': {
      const rgb = photograph(canvas, rng, { noise: 2 + 2 * rng() });
      const quality = 75 + Math.floor(rng() * 16);
      const bytes = new Uint8Array(jpeg.encode({ width, height: pictureHeight, data: rgbToRgba(rgb) }, quality).data);
      return { ...common, bytes, mediaType: 'image/jpeg' };
    }
  }
}

/** The three sets POST /read is measured on (docs/worker.md, "Reading a number"). */
export const READ_SETS = {
  apart: { gap: [2, 15], jitter: 0.1 },
  broken: { gap: [2, 15], jitter: 0.1, broken: 0.5, specks: 4 },
  touching: { gap: [-4, 0], jitter: 0.05 },
} satisfies Record<string, Omit<NumberOptions, 'indices' | 'style' | 'seed' | 'height'>>;

/** `count` seeded pictures of 2–8 random test digits each, styles in rotation. */
export function numberSet(
  mnist: DigitSet,
  count: number,
  seed: number,
  options: Omit<NumberOptions, 'indices' | 'style' | 'seed' | 'height'> & { height?: [number, number] },
): NumberPicture[] {
  const rng = seededRandom(seed);
  const styles: NumberStyle[] = ['scan', 'canvas', 'jpeg'];
  const [lo, hi] = options.height ?? [32, 64];
  return Array.from({ length: count }, (_, k) => {
    const length = 2 + Math.floor(rng() * 7);
    const indices = Array.from({ length }, () => Math.floor(rng() * mnist.count));
    return renderNumber(mnist, {
      ...options,
      indices,
      height: Math.round(lo + (hi - lo) * rng()),
      style: styles[k % styles.length],
      seed: seed * 1000 + k,
    });
  });
}

/**
 * One digit of a number picture on its own: the picture's pixels around `box` (with `margin` px,
 * where the picture has them) as a PNG, as a client cropping the digit would send it to /classify.
 */
export function cropDigit(
  picture: Pick<NumberPicture, 'bytes' | 'mediaType' | 'width' | 'height'>,
  box: { x: number; y: number; width: number; height: number },
  margin: number,
): Uint8Array {
  const { data, channels } =
    picture.mediaType === 'image/jpeg'
      ? { data: jpeg.decode(picture.bytes, { useTArray: true, formatAsRGBA: true }).data, channels: 4 }
      : (() => {
          const png = decodePng(picture.bytes);
          return { data: png.data as Uint8Array, channels: png.channels };
        })();
  const x0 = Math.max(0, box.x - margin);
  const y0 = Math.max(0, box.y - margin);
  const x1 = Math.min(picture.width, box.x + box.width + margin);
  const y1 = Math.min(picture.height, box.y + box.height + margin);
  const out = new Uint8Array((x1 - x0) * (y1 - y0) * channels);
  for (let y = y0; y < y1; y++) {
    const from = (y * picture.width + x0) * channels;
    out.set(data.subarray(from, from + (x1 - x0) * channels), (y - y0) * (x1 - x0) * channels);
  }
  return encodePng({ width: x1 - x0, height: y1 - y0, data: out, channels, depth: 8 });
}

/**
 * The benchmarks' POST /read picture: MNIST test digits "2026" (indices 1, 3, 35, 11), 170 px
 * tall, about 0.3 MP (~760×374) as a scan (RGB PNG with sensor noise) or a JPEG photo; `touching`:
 * the same digits touching or overlapping by up to 4 px (cut by the lattice, the dearest case).
 */
export function benchNumberPicture(mnist: DigitSet, style: 'scan' | 'jpeg', touching = false): NumberPicture {
  const gap: [number, number] = touching ? [-4, 0] : [14, 24];
  return renderNumber(mnist, { indices: [1, 3, 35, 11], gap, height: 170, jitter: 0.05, style, seed: 7 });
}
