// MNIST-style normalisation, the way the MNIST digits were made: crop to the ink's bounding box,
// scale to fit 20×20 keeping the aspect ratio (anti-aliased), then place it in the 28×28 frame
// with its centre of mass at the centre. Pure TypeScript: runs in Node (trainer, tests) and workerd.

import { extractInkTransient, type GrayImage } from './ink.ts';
import { IMAGE_SIZE, MAX_PIXEL_VALUE, PIXEL_COUNT } from './model-spec.ts';
import { type FloatImage, resample } from './resample.ts';
import { roundHalfUp, roundNonNegative } from './round.ts';
import { strokeWidth, thinStrokes } from './stroke.ts';

export { type GrayImage, NoInkError } from './ink.ts';

/** MNIST digits fit a 20×20 box inside the 28×28 frame. */
export const DIGIT_BOX_SIZE = 20;
/**
 * Where the centre of mass goes, in pixel-index coordinates. Measured on MNIST's test set the
 * mean is (14.01, 13.99), so the frame's centre (14, 14) is the convention to match.
 */
export const CENTER_OF_MASS = IMAGE_SIZE / 2;
/**
 * Larger pictures are first box-averaged down (by an integer factor) to at most this side: the
 * digit ends up 20 px, and normalising costs the same for a phone photo as for a small scan.
 * On the client-style sets (seeds 4, 7, 9; 500 pictures each) 256 scores as 1024 did (99.4 /
 * 98.2 / 99.2 vs 99.4 / 98.2 / 99.4 %); 160 and below lose small digits. The page reduces its
 * canvas by the same factor before posting (public/reduce.js, WORK_SIDE).
 */
export const MAX_WORK_SIDE = 256;
/**
 * Stroke widths, in pixels of the 20-px digit box. MNIST-like pen strokes measure 2–3.7 (10th–90th
 * percentile on re-rendered test digits), felt-marker strokes 3.8–6.2. Strokes wider than the
 * maximum are eroded to the target: on client-style pictures this lifts marker digits from ~95%
 * to ~97% and leaves the others as they were. Only done when the ink is at least
 * MIN_THINNING_SIDE px, where erosion has the resolution to be gentle.
 */
export const MAX_STROKE_WIDTH = 4.0;
export const TARGET_STROKE_WIDTH = 3.2;
const MIN_THINNING_SIDE = 2 * DIGIT_BOX_SIZE;

/** Area-averages `image` by an integer factor so that neither side exceeds MAX_WORK_SIDE. */
export function reduceForWork(image: GrayImage, maxSide = MAX_WORK_SIDE): GrayImage {
  const factor = Math.ceil(Math.max(image.width, image.height) / maxSide);
  if (factor <= 1) return image;
  const { width: w, height: h, data: pixels } = image;
  const width = Math.ceil(w / factor);
  const height = Math.ceil(h / factor);
  const sums = new Uint32Array(width * height);
  for (let y = 0, i = 0; y < h; y++) {
    const row = Math.floor(y / factor) * width;
    // A run of `factor` pixels per cell, summed into one local.
    for (let cx = 0, x = 0; cx < width; cx++) {
      let sum = 0;
      for (const end = Math.min(w, x + factor); x < end; x++, i++) sum += pixels[i];
      sums[row + cx] += sum;
    }
  }
  const data = new Uint8Array(width * height);
  // Every cell holds factor × factor pixels but those of the last column and row.
  const lastColumn = w - (width - 1) * factor;
  for (let cy = 0, o = 0; cy < height; cy++) {
    const rows = Math.min(factor, h - cy * factor);
    for (const end = o + width - 1; o < end; o++) data[o] = roundHalfUp(sums[o] / (rows * factor));
    data[o] = roundHalfUp(sums[o] / (rows * lastColumn));
    o++;
  }
  return { width, height, data };
}

/** normalizeInk's crops of the ink, reused up to this many pixels: none leaves normalizeInk. */
const REUSE_PIXELS = 64 * 64;
const crops = [new Float32Array(REUSE_PIXELS), new Float32Array(REUSE_PIXELS)];

/** `image`'s pixels x0…x1 of rows y0…y1, in crops[slot] when they fit there (else a new array). */
function crop(image: FloatImage, x0: number, y0: number, x1: number, y1: number, slot: number): FloatImage {
  const width = x1 - x0 + 1;
  const height = y1 - y0 + 1;
  const n = width * height;
  const data = n <= REUSE_PIXELS ? crops[slot].subarray(0, n) : new Float32Array(n);
  for (let y = 0; y < height; y++) {
    const from = (y0 + y) * image.width + x0;
    data.set(image.data.subarray(from, from + width), y * width);
  }
  return { width, height, data };
}

/** Centre of mass in pixel-index coordinates. */
export function centerOfMass(image: FloatImage): { x: number; y: number } {
  let mass = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const v = image.data[y * image.width + x];
      mass += v;
      sx += v * x;
      sy += v * y;
    }
  }
  return mass > 0 ? { x: sx / mass, y: sy / mass } : { x: (image.width - 1) / 2, y: (image.height - 1) / 2 };
}

/**
 * Fits the cropped ink into the 20×20 box, keeping its aspect ratio. A fine pen on a big page
 * averages down to faint grey; like every MNIST digit, the result is stretched to reach full ink.
 */
function fitToBox(ink: FloatImage): FloatImage {
  const scale = DIGIT_BOX_SIZE / Math.max(ink.width, ink.height);
  const width = Math.max(1, Math.min(DIGIT_BOX_SIZE, Math.round(ink.width * scale)));
  const height = Math.max(1, Math.min(DIGIT_BOX_SIZE, Math.round(ink.height * scale)));
  const digit = resample(ink, width, height);
  let max = 0;
  for (const v of digit.data) if (v > max) max = v;
  if (max > 0 && max < 1) {
    const data = digit.data === ink.data ? new Float32Array(digit.data) : digit.data;
    for (let i = 0; i < data.length; i++) data[i] /= max;
    return { width, height, data };
  }
  return digit;
}

/** Pastes `digit` into a 28×28 frame with its centre of mass at CENTER_OF_MASS (clipped at the edges). */
function placeByCenterOfMass(digit: FloatImage): Uint8Array {
  const com = centerOfMass(digit);
  const offsetX = Math.round(CENTER_OF_MASS - com.x);
  const offsetY = Math.round(CENTER_OF_MASS - com.y);
  const out = new Uint8Array(PIXEL_COUNT);
  for (let y = 0; y < digit.height; y++) {
    const ty = y + offsetY;
    if (ty < 0 || ty >= IMAGE_SIZE) continue;
    for (let x = 0; x < digit.width; x++) {
      const tx = x + offsetX;
      if (tx < 0 || tx >= IMAGE_SIZE) continue;
      const v = digit.data[y * digit.width + x];
      out[ty * IMAGE_SIZE + tx] = roundNonNegative(Math.min(1, Math.max(0, v)) * MAX_PIXEL_VALUE);
    }
  }
  return out;
}

/**
 * Turns a grayscale picture of one digit (either polarity, any size) into 784 MNIST-style pixels:
 * white ink on black, 0–255, row-major 28×28. Throws NoInkError when there is no ink.
 */
export function normalizeDigit(image: GrayImage, options: NormalizeOptions = {}): Uint8Array {
  // normalizeInk copies the ink out (crop), so the map may live in extractInk's reused array.
  const ink = extractInkTransient(reduceForWork(image, options.maxWorkSide));
  return normalizeInk(ink, ink.box, options);
}

/**
 * The steps after the ink is found: crop `ink` to `box` (inclusive), thin marker strokes, fit
 * 20×20, centre the mass in 28×28. POST /read runs each digit of a number through this too.
 */
export function normalizeInk(
  ink: FloatImage,
  box: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number },
  options: NormalizeOptions = {},
): Uint8Array {
  const { x0, y0, x1, y1 } = box;
  return placeByCenterOfMass(fitToBox(normalizeStrokes(crop(ink, x0, y0, x1, y1, 0), options)));
}

export interface NormalizeOptions {
  /** Pictures are box-averaged down to at most this side first (MAX_WORK_SIDE). */
  maxWorkSide?: number;
  /** Strokes wider than this (px of the 20-px box) are thinned; Infinity turns thinning off. */
  maxStrokeWidth?: number;
  /** ... to this width. */
  targetStrokeWidth?: number;
}

/** Thins marker-thick strokes back towards a pen's width (see MAX_STROKE_WIDTH). */
function normalizeStrokes(ink: FloatImage, options: NormalizeOptions): FloatImage {
  const { maxStrokeWidth = MAX_STROKE_WIDTH, targetStrokeWidth = TARGET_STROKE_WIDTH } = options;
  const side = Math.max(ink.width, ink.height);
  if (side < MIN_THINNING_SIDE || !Number.isFinite(maxStrokeWidth)) return ink;
  const pxPerBoxPx = side / DIGIT_BOX_SIZE;
  const width = strokeWidth(ink) / pxPerBoxPx;
  if (width <= maxStrokeWidth) return ink;
  const thinned = thinStrokes(ink, ((width - targetStrokeWidth) / 2) * pxPerBoxPx);
  // Box of the eroded strokes proper; the faint one-pixel fringe outside it is cropped away.
  const box = boxOf(thinned, 0.5);
  return box ? crop(thinned, box.x0, box.y0, box.x1, box.y1, 1) : ink;
}

/** Inclusive box of the pixels with at least `level` ink, or undefined when there are none. */
function boxOf(image: FloatImage, level: number) {
  let [x0, y0, x1, y1] = [image.width, image.height, -1, -1];
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.data[y * image.width + x] < level) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1, y1 };
}

/** Normalises 784 raw MNIST-layout pixels (e.g. `?normalize=true` on a `pixels` request). */
export function normalizePixels(pixels: ArrayLike<number>): Uint8Array {
  if (pixels.length !== PIXEL_COUNT) {
    throw new RangeError(`expected ${PIXEL_COUNT} pixels, got ${pixels.length}`);
  }
  const data = new Uint8Array(PIXEL_COUNT);
  for (let i = 0; i < PIXEL_COUNT; i++) data[i] = Math.round(Math.min(MAX_PIXEL_VALUE, Math.max(0, pixels[i])));
  return normalizeDigit({ width: IMAGE_SIZE, height: IMAGE_SIZE, data });
}
