// Training-time augmentation: distortions of a raw MNIST digit that the Worker's MNIST-style
// normalisation does not undo, followed by that very normalisation (src/shared/normalize.ts).
// The Worker re-crops, re-scales and re-centres every picture, so shifts and zooms would be wasted;
// what survives is the digit's shape: rotation, slant, aspect ratio, elastic wobble, stroke
// thickness, blur, low resolution, contrast, and NIST's own way of making 8×8 thumbnails.
//
// Every draw comes from the `random` a caller hands in (one seeded stream per example), so the
// same seed gives the same digits whichever replica computes them.

import { IMAGE_SIZE, MAX_PIXEL_VALUE } from '../../shared/model-spec.ts';
import { type GrayImage, NoInkError, normalizeDigit } from '../../shared/normalize.ts';
import { type FloatImage, resample } from '../../shared/resample.ts';

export interface AugmentConfig {
  /** Share of examples left exactly as MNIST made them. */
  clean: number;
  /** Rotation in degrees, uniform in ±rotation. */
  rotation: number;
  /** Slant: x moves by shear × (centre − y), uniform in ±shear. */
  shear: number;
  /** Width over height, log-uniform in [1/stretch, stretch]. */
  stretch: number;
  /** Elastic distortion: random displacements (std, px at 28×28) on a grid of this spacing, interpolated. */
  elastic: { share: number; displacement: number; spacing: number };
  /** Change of stroke width in px at 28×28, uniform in [min, max] (negative thins). */
  thickness: readonly [number, number];
  /** Gaussian blur, σ in px at 28×28, for a share of the examples. */
  blur: { share: number; sigma: readonly [number, number] };
  /** The digit's long side reduced to [min, max] px (normalisation enlarges it back), for a share. */
  lowResolution: { share: number; side: readonly [number, number] };
  /** NIST's thumbnails: binary, stretched to fill a 20×32 box, 4×4 ink counts → 8×8, for a share. */
  nistThumbnail: { share: number };
  /** Stretched to fill a 20×32 box (aspect ratio not kept), at full resolution, for a share of the rest. */
  boxFill: { share: number };
  /** Ink strength over the paper, uniform in [contrast, 1]; the polarity is drawn too. */
  contrast: number;
}

/** The augmented recipe's parameters (chosen on the robustness report: docs/training.md). */
export const DEFAULT_AUGMENTATION: AugmentConfig = {
  clean: 0.3,
  rotation: 15,
  shear: 0.35,
  stretch: 1.45,
  elastic: { share: 0.5, displacement: 1.0, spacing: 5 },
  thickness: [-0.8, 1.6],
  blur: { share: 0.2, sigma: [0.4, 1.2] },
  lowResolution: { share: 0.15, side: [9, 16] },
  nistThumbnail: { share: 0.1 },
  boxFill: { share: 0.1 },
  contrast: 0.35,
};

/** Work at twice MNIST's resolution, so that thickness and blur change in half-pixel steps. */
const SCALE = 2;
/** The elastic field covers offsets of ±FIELD_EXTENT / 2 px from the frame's centre. */
const FIELD_EXTENT = 44;
const CENTER = IMAGE_SIZE / 2;

/** One drawn set of distortions; the robustness report builds them by hand, one kind at a time. */
export interface Distortion {
  /** Degrees, counter-clockwise on screen for positive values. */
  rotation: number;
  shear: number;
  /** Width over height. */
  aspect: number;
  elastic?: ElasticField;
  /** Change of stroke width, px at 28×28. */
  thickness: number;
  /** Gaussian σ, px at 28×28; 0 for none. */
  blur: number;
  /** 'fill': stretched to fill the 20×32 box; 'nist': that, then NIST's 8×8 ink counts. */
  box?: 'fill' | 'nist';
  /** Long side of the ink in px after shrinking; 0 keeps it. */
  lowResolution: number;
  /** Ink strength over the paper (0–1). */
  level: number;
  /** Dark ink on white paper. */
  inverted: boolean;
}

export const NO_DISTORTION: Distortion = {
  rotation: 0,
  shear: 0,
  aspect: 1,
  thickness: 0,
  blur: 0,
  lowResolution: 0,
  level: 1,
  inverted: false,
};

/** Draws one example's distortions, or undefined for the clean share. */
export function drawDistortion(config: AugmentConfig, random: () => number): Distortion | undefined {
  if (random() < config.clean) return undefined;
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const rotation = uniform(-config.rotation, config.rotation);
  const shear = uniform(-config.shear, config.shear);
  const aspect = Math.exp(uniform(-1, 1) * Math.log(config.stretch));
  const elastic = random() < config.elastic.share ? elasticField(config.elastic, random) : undefined;
  const thickness = uniform(config.thickness[0], config.thickness[1]);
  const blur = random() < config.blur.share ? uniform(...config.blur.sigma) : 0;
  const box = random() < config.nistThumbnail.share ? 'nist' : random() < config.boxFill.share ? 'fill' : undefined;
  const lowResolution = !box && random() < config.lowResolution.share ? uniform(...config.lowResolution.side) : 0;
  const level = uniform(config.contrast, 1);
  // NIST's thumbnails are dark ink on white, as the hidden set's are.
  const inverted = box === 'nist' || random() < 0.5;
  return { rotation, shear, aspect, elastic, thickness, blur, box, lowResolution, level, inverted };
}

/**
 * The picture of a distorted digit, 8-bit, about MNIST's scale (an ink box of ~20 px; 64×64 for
 * NIST's thumbnails; smaller when `lowResolution` is set), with paper around the ink.
 */
export function renderDistorted(pixels: Uint8Array, d: Distortion): GrayImage {
  const warped = warp(pixels, (d.rotation * Math.PI) / 180, d.shear, d.aspect, d.elastic);
  let image = halve(changeThickness(warped, d.thickness * SCALE));
  if (d.blur > 0) image = gaussianBlur(image, d.blur);
  if (d.box === 'nist') image = nistThumbnail(image);
  else if (d.box === 'fill') image = fillBox(image);
  if (d.lowResolution > 0) image = shrinkInk(image, d.lowResolution);
  return toGray(image, d.level, d.inverted);
}

/**
 * One augmented training digit: `pixels` (784 MNIST pixels) distorted, rendered as a picture and
 * normalised as the Worker normalises pictures. Returns the input itself for the clean share.
 */
export function augmentDigit(pixels: Uint8Array, config: AugmentConfig, random: () => number): Uint8Array {
  const distortion = drawDistortion(config, random);
  if (!distortion) return pixels;
  try {
    return normalizeDigit(renderDistorted(pixels, distortion));
  } catch (error) {
    // Thinning or shrinking can leave nothing that counts as ink: train on the digit as it was.
    if (error instanceof NoInkError) return pixels;
    throw error;
  }
}

/** A smooth random displacement field: grid-point offsets, bilinearly interpolated (px at 28×28). */
export interface ElasticField {
  spacing: number;
  displacement: number;
  side: number;
  dx: Float32Array;
  dy: Float32Array;
}

export function elasticField(config: AugmentConfig['elastic'], random: () => number): ElasticField {
  const side = Math.ceil(FIELD_EXTENT / config.spacing) + 2;
  const dx = new Float32Array(side * side);
  const dy = new Float32Array(side * side);
  for (let i = 0; i < dx.length; i++) {
    dx[i] = gaussian(random) * config.displacement;
    dy[i] = gaussian(random) * config.displacement;
  }
  return { spacing: config.spacing, displacement: config.displacement, side, dx, dy };
}

function gaussian(random: () => number): number {
  // Box–Muller; 1 − u keeps the logarithm finite.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// No closures in the per-pixel helpers: tsx names every function it creates (esbuild's keepNames),
// which costs more than the arithmetic when it happens per pixel.
function sampleField(field: ElasticField, x: number, y: number, out: Float32Array): void {
  const gx = Math.min(field.side - 1.001, Math.max(0, x / field.spacing));
  const gy = Math.min(field.side - 1.001, Math.max(0, y / field.spacing));
  const ix = Math.floor(gx);
  const iy = Math.floor(gy);
  const fx = gx - ix;
  const fy = gy - iy;
  const i = iy * field.side + ix;
  const w00 = (1 - fx) * (1 - fy);
  const w01 = fx * (1 - fy);
  const w10 = (1 - fx) * fy;
  const w11 = fx * fy;
  const { dx, dy, side } = field;
  out[0] = w00 * dx[i] + w01 * dx[i + 1] + w10 * dx[i + side] + w11 * dx[i + side + 1];
  out[1] = w00 * dy[i] + w01 * dy[i + 1] + w10 * dy[i + side] + w11 * dy[i + side + 1];
}

/**
 * Renders the digit through rotation ∘ slant ∘ stretch about the frame's centre, plus the elastic
 * displacement, on a canvas (at SCALE) just large enough for the moved ink; the 28×28 source is
 * sampled bilinearly through the inverse map.
 */
function warp(pixels: Uint8Array, angle: number, shear: number, aspect: number, field?: ElasticField): FloatImage {
  // Forward map of a source offset: stretch (√aspect wider, √aspect shorter), slant, rotate.
  const [sx, sy] = [Math.sqrt(aspect), 1 / Math.sqrt(aspect)];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  // M = R · H · S with H = [[1, −shear], [0, 1]] (the top leans right for shear > 0).
  const m00 = c * sx;
  const m01 = (-c * shear - s) * sy;
  const m10 = s * sx;
  const m11 = (-s * shear + c) * sy;
  const det = m00 * m11 - m01 * m10;
  const [i00, i01, i10, i11] = [m11 / det, -m01 / det, -m10 / det, m00 / det];

  // Where the source's ink box lands, with room for the elastic wobble and a thicker stroke.
  const box = sourceBox(pixels);
  const margin = 3 + (field ? 3 * field.displacement : 0);
  let [lo, hi] = [Infinity, -Infinity];
  let [top, bottom] = [Infinity, -Infinity];
  for (const u of [box.x0 - CENTER, box.x1 + 1 - CENTER]) {
    for (const v of [box.y0 - CENTER, box.y1 + 1 - CENTER]) {
      const [x, y] = [m00 * u + m01 * v, m10 * u + m11 * v];
      [lo, hi, top, bottom] = [Math.min(lo, x), Math.max(hi, x), Math.min(top, y), Math.max(bottom, y)];
    }
  }
  const [left, upper] = [Math.floor(lo - margin), Math.floor(top - margin)];
  const width = (Math.ceil(hi + margin) - left) * SCALE;
  const height = (Math.ceil(bottom + margin) - upper) * SCALE;
  const data = new Float32Array(width * height);
  const offset = new Float32Array(2);
  padSource(pixels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Canvas pixel centre, in 28-px units relative to the frame's centre.
      let ox = left + (x + 0.5) / SCALE;
      let oy = upper + (y + 0.5) / SCALE;
      if (field) {
        sampleField(field, ox + FIELD_EXTENT / 2, oy + FIELD_EXTENT / 2, offset);
        ox += offset[0];
        oy += offset[1];
      }
      data[y * width + x] = bilinear(i00 * ox + i01 * oy + CENTER - 0.5, i10 * ox + i11 * oy + CENTER - 0.5);
    }
  }
  return { width, height, data };
}

/** The source's ink box in pixel indices (the whole frame for an empty digit). */
function sourceBox(pixels: Uint8Array) {
  let [x0, y0, x1, y1] = [IMAGE_SIZE, IMAGE_SIZE, -1, -1];
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      if (pixels[y * IMAGE_SIZE + x] === 0) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? { x0: 0, y0: 0, x1: IMAGE_SIZE - 1, y1: IMAGE_SIZE - 1 } : { x0, y0, x1, y1 };
}

/**
 * The source digit with a border of paper, so that bilinear() reads its four neighbours without a
 * bounds check each (samples from x, y = −1 to 28). One per thread: warp() fills it, then samples it.
 */
const PADDED_SIDE = IMAGE_SIZE + 2;
const padded = new Float64Array(PADDED_SIDE * PADDED_SIDE);

function padSource(pixels: Uint8Array): void {
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) padded[(y + 1) * PADDED_SIDE + x + 1] = pixels[y * IMAGE_SIZE + x];
  }
}

/** The padded source at (u, v), bilinearly, 0–1; paper outside it. */
function bilinear(u: number, v: number): number {
  const x0 = Math.floor(u);
  const y0 = Math.floor(v);
  if (x0 < -1 || y0 < -1 || x0 >= IMAGE_SIZE || y0 >= IMAGE_SIZE) return 0;
  const fx = u - x0;
  const fy = v - y0;
  const i = (y0 + 1) * PADDED_SIDE + x0 + 1;
  const top = (1 - fx) * padded[i] + fx * padded[i + 1];
  const bottom = (1 - fx) * padded[i + PADDED_SIDE] + fx * padded[i + PADDED_SIDE + 1];
  return ((1 - fy) * top + fy * bottom) / MAX_PIXEL_VALUE;
}

/**
 * Widens (amount > 0) or narrows strokes by `amount` canvas pixels in all: whole steps of a 3×3
 * grey dilation or erosion (one pixel on each side = two in width), and a blend for the remainder.
 */
export function changeThickness(image: FloatImage, amount: number): FloatImage {
  const steps = Math.abs(amount) / 2;
  const dilate = amount > 0;
  let current = image;
  for (let k = 0; k < Math.floor(steps); k++) current = morph(current, dilate);
  const rest = steps - Math.floor(steps);
  if (rest < 0.05) return current;
  const next = morph(current, dilate);
  const data = new Float32Array(current.data.length);
  for (let i = 0; i < data.length; i++) data[i] = (1 - rest) * current.data[i] + rest * next.data[i];
  return { width: image.width, height: image.height, data };
}

/** A 3×3 grey dilation (max) or erosion (min), separable; the frame outside counts as paper. */
function morph(image: FloatImage, dilate: boolean): FloatImage {
  const { width: w, height: h, data: src } = image;
  const rows = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w; x < w; x++, i++) {
      rows[i] = pick3(dilate, src[i], x > 0 ? src[i - 1] : 0, x < w - 1 ? src[i + 1] : 0);
    }
  }
  const out = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    out[i] = pick3(dilate, rows[i], i >= w ? rows[i - w] : 0, i < w * (h - 1) ? rows[i + w] : 0);
  }
  return { width: w, height: h, data: out };
}

function pick3(max: boolean, a: number, b: number, c: number): number {
  return max ? Math.max(a, b, c) : Math.min(a, b, c);
}

/** Averages 2×2 blocks: the canvas back at MNIST's resolution (odd edges dropped). */
function halve(image: FloatImage): FloatImage {
  const width = image.width >> 1;
  const height = image.height >> 1;
  const data = new Float32Array(width * height);
  const src = image.data;
  for (let y = 0; y < height; y++) {
    const r = 2 * y * image.width;
    for (let x = 0; x < width; x++) {
      const i = r + 2 * x;
      data[y * width + x] = (src[i] + src[i + 1] + src[i + image.width] + src[i + image.width + 1]) / 4;
    }
  }
  return { width, height, data };
}

/** Separable Gaussian blur of standard deviation `sigma` pixels; the frame outside counts as paper. */
export function gaussianBlur(image: FloatImage, sigma: number): FloatImage {
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let k = 0; k < kernel.length; k++) total += kernel[k] = Math.exp(-((k - radius) ** 2) / (2 * sigma ** 2));
  for (let k = 0; k < kernel.length; k++) kernel[k] /= total;
  const { width: w, height: h } = image;
  const rows = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let k = Math.max(-radius, -x); k <= Math.min(radius, w - 1 - x); k++) {
        acc += kernel[k + radius] * image.data[y * w + x + k];
      }
      rows[y * w + x] = acc;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let k = Math.max(-radius, -y); k <= Math.min(radius, h - 1 - y); k++)
        acc += kernel[k + radius] * rows[(y + k) * w + x];
      out[y * w + x] = acc;
    }
  }
  return { width: w, height: h, data: out };
}

/** Inclusive box of the pixels at or above `level`; undefined when there are none. */
function inkBox(image: FloatImage, level: number) {
  let [x0, y0, x1, y1] = [image.width, image.height, -1, -1];
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.data[y * image.width + x] < level) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1, y1 };
}

function cropTo(image: FloatImage, box: { x0: number; y0: number; x1: number; y1: number }): FloatImage {
  const width = box.x1 - box.x0 + 1;
  const height = box.y1 - box.y0 + 1;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const from = (box.y0 + y) * image.width + box.x0;
    data.set(image.data.subarray(from, from + width), y * width);
  }
  return { width, height, data };
}

/** Pads `image` with `margin` pixels of paper on every side (extractInk reads the paper off the border). */
function pad(image: FloatImage, margin: number): FloatImage {
  const width = image.width + 2 * margin;
  const height = image.height + 2 * margin;
  const data = new Float32Array(width * height);
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * image.width, (y + 1) * image.width), (y + margin) * width + margin);
  }
  return { width, height, data };
}

/** A low-resolution picture: the ink's long side area-averaged down to `side` pixels. */
export function shrinkInk(image: FloatImage, side: number): FloatImage {
  const box = inkBox(image, 0.2);
  if (!box) return image;
  const ink = cropTo(image, box);
  const scale = Math.round(side) / Math.max(ink.width, ink.height);
  if (scale >= 1) return image;
  const small = resample(ink, Math.max(1, Math.round(ink.width * scale)), Math.max(1, Math.round(ink.height * scale)));
  return pad(small, 3);
}

/** NIST's box: 20 px wide and 32 tall, centred in a 32×32 frame. */
const NIST_BOX = { width: 20, height: 32, frame: 32 };

/** The ink stretched to fill NIST's 20×32 box, aspect ratio not kept (grey, with paper around it). */
export function fillBox(image: FloatImage): FloatImage {
  const box = inkBox(image, 0.2);
  if (!box) return image;
  return pad(resample(cropTo(image, box), NIST_BOX.width, NIST_BOX.height), 6);
}

/**
 * The way NIST made the UCI/sklearn 8×8 digits: the binary bitmap stretched to fill the 20×32
 * box, placed in a 32×32 frame, and each 4×4 block's ink pixels counted (0–16). The 8×8 cells
 * are then shown 8× enlarged as blocks, as a 64×64 thumbnail.
 */
export function nistThumbnail(image: FloatImage): FloatImage {
  const box = inkBox(image, 0.5);
  if (!box) return image;
  const { width, height, frame } = NIST_BOX;
  const filled = resample(cropTo(image, box), width, height);
  const left = (frame - width) / 2;
  const counts = new Float32Array(64);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (filled.data[y * width + x] >= 0.5) counts[(y >> 2) * 8 + ((x + left) >> 2)]++;
  }
  const side = 64;
  const data = new Float32Array(side * side);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) data[y * side + x] = counts[(y >> 3) * 8 + (x >> 3)] / 16;
  return { width: side, height: side, data };
}

/** 8-bit picture of the ink at strength `level` (0–1), dark ink on white when `inverted`. */
function toGray(image: FloatImage, level: number, inverted: boolean): GrayImage {
  const data = new Uint8Array(image.width * image.height);
  for (let i = 0; i < data.length; i++) {
    const ink = Math.round(Math.min(1, Math.max(0, image.data[i])) * level * MAX_PIXEL_VALUE);
    data[i] = inverted ? MAX_PIXEL_VALUE - ink : ink;
  }
  return { width: image.width, height: image.height, data };
}
