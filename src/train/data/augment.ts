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
import { roundNonNegative } from '../../shared/round.ts';

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
  return render(pixels, d, false);
}

/** renderDistorted, into one of this thread's scratch arrays when `transient` (augmentDigit's). */
function render(pixels: Uint8Array, d: Distortion, transient: boolean): GrayImage {
  const warped = warp(pixels, (d.rotation * Math.PI) / 180, d.shear, d.aspect, d.elastic);
  let image = halve(changeThickness(warped, d.thickness * SCALE));
  if (d.blur > 0) image = gaussianBlur(image, d.blur);
  if (d.box === 'nist') image = nistThumbnail(image);
  else if (d.box === 'fill') image = fillBox(image);
  if (d.lowResolution > 0) image = shrinkInk(image, d.lowResolution);
  return toGray(image, d.level, d.inverted, transient);
}

/**
 * One augmented training digit: `pixels` (784 MNIST pixels) distorted, rendered as a picture and
 * normalised as the Worker normalises pictures. Returns the input itself for the clean share.
 */
export function augmentDigit(pixels: Uint8Array, config: AugmentConfig, random: () => number): Uint8Array {
  const distortion = drawDistortion(config, random);
  if (!distortion) return pixels;
  try {
    return normalizeDigit(render(pixels, distortion, true));
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

/**
 * Renders the digit through rotation ∘ slant ∘ stretch about the frame's centre, plus the elastic
 * displacement, on a canvas (at SCALE) just large enough for the moved ink; the 28×28 source is
 * sampled bilinearly through the inverse map.
 *
 * A canvas pixel's undisplaced position depends on its column only (x) and row only (y), and so do
 * the elastic field's cell and weights there: they are computed once a column and once a row, by
 * the very expressions a pixel would use, so every pixel gets the same values as computing it whole.
 * Samples are non-negative weights of non-negative pixels: +0 or more, never −0 (morph relies on it).
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
  // Paper everywhere first: only the rows' live spans are sampled.
  const data = scratch(WARPED, width * height).fill(0);
  padSource(pixels);
  inkRows(pixels);
  const columns = axis(COLUMNS, width, left);
  const rows = axis(ROWS, height, upper);
  // Only a span of each row can sample the source's ink: the rest stays paper (0, as bilinear()
  // computes it there). The span is found on the undisplaced map, widened by the elastic field's
  // largest displacement along the row (mapped to the source), SLACK and a column each side: far
  // more than rounding can move a sample.
  LIVE.k = i00;
  LIVE.l = i10;
  LIVE.ru = SLACK;
  LIVE.rv = SLACK;
  // Samples at u in [x0 − 1, x1 + 1) read some ink of the box (bilinear reaches a pixel left of it).
  LIVE.uLo = box.x0 - 1;
  LIVE.uHi = box.x1 + 1;
  LIVE.vLo = box.y0 - 1;
  LIVE.vHi = box.y1 + 1;
  LIVE.left = left;
  LIVE.width = width;
  if (!field) {
    // i00 · ox and i10 · ox a column, i01 · oy and i11 · oy a row: the same products a pixel takes.
    const { a: uCol, b: vCol } = columns;
    for (let x = 0; x < width; x++) {
      uCol[x] = i00 * columns.o[x];
      vCol[x] = i10 * columns.o[x];
    }
    for (let y = 0; y < height; y++) {
      const uRow = i01 * rows.o[y];
      const vRow = i11 * rows.o[y];
      if (!liveSpan(uRow + CENTER - 0.5, vRow + CENTER - 0.5)) continue;
      for (let x = SPAN[0], o = y * width + x; x <= SPAN[1]; x++, o++) {
        data[o] = bilinear(uCol[x] + uRow + CENTER - 0.5, vCol[x] + vRow + CENTER - 0.5);
      }
    }
    return { width, height, data };
  }
  // The field's cell (ix, iy) and fractions (fx, fy) at the undisplaced position, as sampleField had them.
  const { spacing, side, dx, dy } = field;
  fieldCells(columns, width, side, spacing);
  fieldCells(rows, height, side, spacing);
  gridRowReach(field);
  const { o: oxs, cell: ixs, a: fxs, b: cxs } = columns;
  for (let y = 0; y < height; y++) {
    const oy0 = rows.o[y];
    const fy = rows.a[y];
    const cy = rows.b[y]; // 1 − fy
    const rowCell = rows.cell[y] * side;
    const uRow = i01 * oy0 + CENTER - 0.5;
    const vRow = i11 * oy0 + CENTER - 0.5;
    // The row's displacements mix grid rows iy and iy + 1 (weights ≥ 0 that sum to 1).
    const reachX = Math.max(REACH_X[rows.cell[y]], REACH_X[rows.cell[y] + 1]);
    const reachY = Math.max(REACH_Y[rows.cell[y]], REACH_Y[rows.cell[y] + 1]);
    LIVE.ru = Math.abs(i00) * reachX + Math.abs(i01) * reachY + SLACK;
    LIVE.rv = Math.abs(i10) * reachX + Math.abs(i11) * reachY + SLACK;
    if (!liveSpan(uRow, vRow)) continue;
    for (let x = SPAN[0], o = y * width + x; x <= SPAN[1]; x++, o++) {
      const fx = fxs[x];
      const cx = cxs[x]; // 1 − fx
      const w00 = cx * cy;
      const w01 = fx * cy;
      const w10 = cx * fy;
      const w11 = fx * fy;
      const i = rowCell + ixs[x];
      // The displacement as float32, as sampleField stored it.
      const ox = oxs[x] + Math.fround(w00 * dx[i] + w01 * dx[i + 1] + w10 * dx[i + side] + w11 * dx[i + side + 1]);
      const oy = oy0 + Math.fround(w00 * dy[i] + w01 * dy[i + 1] + w10 * dy[i + side] + w11 * dy[i + side + 1]);
      data[o] = bilinear(i00 * ox + i01 * oy + CENTER - 0.5, i10 * ox + i11 * oy + CENTER - 0.5);
    }
  }
  return { width, height, data };
}

/** The largest |dx| (REACH_X) and |dy| (REACH_Y) of each row of the field's grid (per thread). */
let REACH_X = new Float64Array(0);
let REACH_Y = new Float64Array(0);

function gridRowReach(field: ElasticField): void {
  const { side, dx, dy } = field;
  if (REACH_X.length < side) [REACH_X, REACH_Y] = [new Float64Array(side), new Float64Array(side)];
  for (let r = 0; r < side; r++) {
    let [x, y] = [0, 0];
    for (let i = r * side; i < (r + 1) * side; i++) {
      x = Math.max(x, Math.abs(dx[i]));
      y = Math.max(y, Math.abs(dy[i]));
    }
    [REACH_X[r], REACH_Y[r]] = [x, y];
  }
}

/** Room for rounding in the spans' arithmetic, in source pixels (rounding moves a sample ~1e-13). */
const SLACK = 1e-3;

/**
 * What liveSpan needs of the warp under way (per thread): u = k·ox + u0 and v = l·ox + v0 along a
 * row, before the field's displacement of up to ru and rv; the source's ink box, as the samples
 * that can read it (u in [uLo, uHi), v in [vLo, vHi)); the canvas's left edge and width.
 */
const LIVE = { k: 0, l: 0, ru: 0, rv: 0, uLo: 0, uHi: 0, vLo: 0, vHi: 0, left: 0, width: 0 };

/**
 * For samples in source rows y0 = floor(v) from −1 to 27: they read rows y0 and y0 + 1, so only
 * those with floor(u) in [from, to] can read ink (none when from > to), where from and to are
 * INK_FROM[y0 + 1] and INK_TO[y0 + 1]. Level j of each table (at j · ROWS_OF_SAMPLES) holds the
 * minimum (maximum) over 2^j rows from each row on, so that any run of rows takes two lookups.
 */
const ROWS_OF_SAMPLES = IMAGE_SIZE + 1;
const LEVELS = 5; // 2^4 = 16 rows: two runs of 16 cover all 29
const INK_FROM = new Float64Array(LEVELS * ROWS_OF_SAMPLES);
const INK_TO = new Float64Array(LEVELS * ROWS_OF_SAMPLES);

function inkRows(pixels: Uint8Array): void {
  let fromAbove = Infinity; // row −1: paper
  let toAbove = -Infinity;
  for (let y = 0; y <= IMAGE_SIZE; y++) {
    let from = Infinity; // row 28: paper
    let to = -Infinity;
    for (let x = 0; y < IMAGE_SIZE && x < IMAGE_SIZE; x++) {
      if (pixels[y * IMAGE_SIZE + x] === 0) continue;
      if (from === Infinity) from = x;
      to = x;
    }
    INK_FROM[y] = Math.min(fromAbove, from) - 1;
    INK_TO[y] = Math.max(toAbove, to);
    fromAbove = from;
    toAbove = to;
  }
  for (let j = 1; j < LEVELS; j++) {
    const [level, below, half] = [j * ROWS_OF_SAMPLES, (j - 1) * ROWS_OF_SAMPLES, 1 << (j - 1)];
    for (let i = 0; i + 2 * half <= ROWS_OF_SAMPLES; i++) {
      INK_FROM[level + i] = Math.min(INK_FROM[below + i], INK_FROM[below + i + half]);
      INK_TO[level + i] = Math.max(INK_TO[below + i], INK_TO[below + i + half]);
    }
  }
}

/**
 * The span of a canvas row that can sample ink: positions ox (28-px units) in RANGE, then canvas
 * columns in SPAN. Per thread, like the axes.
 */
const RANGE = new Float64Array(2);
const SPAN = new Int32Array(2);

/**
 * The canvas columns of the row at u0, v0 (SPAN, with a column of slack each side) that can read
 * the source's ink: first by its box, then by the ink of the source rows the samples can fall in,
 * twice (the second time on the narrower span); false when there are none.
 */
function liveSpan(u0: number, v0: number): boolean {
  const { k, l, ru, rv } = LIVE;
  RANGE[0] = -Infinity;
  RANGE[1] = Infinity;
  if (!narrow(k, u0, LIVE.uLo - ru, LIVE.uHi + ru) || !narrow(l, v0, LIVE.vLo - rv, LIVE.vHi + rv)) return false;
  for (let pass = 0; pass < 2 && RANGE[0] > -Infinity && RANGE[1] < Infinity; pass++) {
    const va = l * RANGE[0] + v0;
    const vb = l * RANGE[1] + v0;
    const last = Math.min(IMAGE_SIZE - 1, Math.floor(Math.max(va, vb) + rv));
    // Rows first + 1 … last + 1 of the tables (sample rows first … last), as two runs of 2^j.
    const first = Math.max(-1, Math.floor(Math.min(va, vb) - rv)) + 1;
    if (first > last + 1) return false;
    const j = 31 - Math.clz32(last + 2 - first);
    const a = j * ROWS_OF_SAMPLES + first;
    const b = j * ROWS_OF_SAMPLES + last + 2 - (1 << j);
    const from = Math.min(INK_FROM[a], INK_FROM[b]);
    const to = Math.max(INK_TO[a], INK_TO[b]);
    if (from > to || !narrow(k, u0, from - ru, to + 1 + ru)) return false;
  }
  const first = Math.max(0, Math.floor((RANGE[0] - LIVE.left) * SCALE - 0.5) - 1);
  const last = Math.min(LIVE.width - 1, Math.ceil((RANGE[1] - LIVE.left) * SCALE - 0.5) + 1);
  SPAN[0] = first;
  SPAN[1] = last;
  return first <= last;
}

/** Narrows RANGE to the ox with k·ox + offset in [lo, hi]; false when that leaves none. */
function narrow(k: number, offset: number, lo: number, hi: number): boolean {
  if (Math.abs(k) < 1e-6) {
    // Flat along the row: k·ox moves it by less than 1e-6 · 100 px, well within the slack.
    return offset >= lo - 1 && offset <= hi + 1;
  }
  const p = (lo - offset) / k;
  const q = (hi - offset) / k;
  RANGE[0] = Math.max(RANGE[0], Math.min(p, q));
  RANGE[1] = Math.min(RANGE[1], Math.max(p, q));
  return RANGE[0] <= RANGE[1];
}

/** Per-column (or per-row) values of one warp: positions, and what they give a pixel there. */
interface Axis {
  /** Canvas pixel centre, in 28-px units relative to the frame's centre. */
  o: Float64Array;
  a: Float64Array;
  b: Float64Array;
  cell: Int32Array;
}

/** One thread's two axes, grown as canvases need. */
const COLUMNS = newAxis(0);
const ROWS = newAxis(0);

function newAxis(length: number): Axis {
  return {
    o: new Float64Array(length),
    a: new Float64Array(length),
    b: new Float64Array(length),
    cell: new Int32Array(length),
  };
}

/** `target`'s positions for `length` pixels from `start` (28-px units), at SCALE per unit. */
function axis(target: Axis, length: number, start: number): Axis {
  if (target.o.length < length) Object.assign(target, newAxis(length));
  for (let k = 0; k < length; k++) target.o[k] = start + (k + 0.5) / SCALE;
  return target;
}

/** The elastic field's cell along the axis (`cell`), the fraction into it (`a`) and 1 − that (`b`). */
function fieldCells(target: Axis, length: number, side: number, spacing: number): void {
  for (let k = 0; k < length; k++) {
    const g = Math.min(side - 1.001, Math.max(0, (target.o[k] + FIELD_EXTENT / 2) / spacing));
    const cell = Math.floor(g);
    target.cell[k] = cell;
    target.a[k] = g - cell;
    target.b[k] = 1 - (g - cell);
  }
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
 * The source digit with a border of two pixels of paper, so that bilinear() reads its four
 * neighbours without a bounds check: a sample off the digit (x or y below −1 or from 28) reads the
 * border's zeros instead, which give 0 as the check did. One per thread: warp() fills it, then samples it.
 */
const BORDER = 2;
const PADDED_SIDE = IMAGE_SIZE + 2 * BORDER;
const padded = new Float64Array(PADDED_SIDE * PADDED_SIDE);

function padSource(pixels: Uint8Array): void {
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const row = (y + BORDER) * PADDED_SIDE + BORDER;
    for (let x = 0; x < IMAGE_SIZE; x++) padded[row + x] = pixels[y * IMAGE_SIZE + x];
  }
}

/** The padded source at (u, v), bilinearly, 0–1; paper outside it. */
function bilinear(u: number, v: number): number {
  const x0 = Math.floor(u);
  const y0 = Math.floor(v);
  const fx = u - x0;
  const fy = v - y0;
  // Clamped into the border: four zeros, and ((1 − fy)·0 + fy·0) / 255 is +0 like the paper outside.
  const i =
    (Math.max(-BORDER, Math.min(IMAGE_SIZE, y0)) + BORDER) * PADDED_SIDE +
    Math.max(-BORDER, Math.min(IMAGE_SIZE, x0)) +
    BORDER;
  const top = (1 - fx) * padded[i] + fx * padded[i + 1];
  const bottom = (1 - fx) * padded[i + PADDED_SIDE] + fx * padded[i + PADDED_SIDE + 1];
  return ((1 - fy) * top + fy * bottom) / MAX_PIXEL_VALUE;
}

/**
 * Widens (amount > 0) or narrows strokes by `amount` canvas pixels in all: whole steps of a 3×3
 * grey dilation or erosion (one pixel on each side = two in width), and a blend for the remainder.
 * The result may be one of this thread's scratch canvases (see `scratch`), or `image` itself.
 */
function changeThickness(image: FloatImage, amount: number): FloatImage {
  const steps = Math.abs(amount) / 2;
  const dilate = amount > 0;
  const { width: w, height: h } = image;
  const n = w * h;
  const rows = scratch(MORPH_ROWS, n);
  const [a, b] = [scratch(MORPH_A, n), scratch(MORPH_B, n)];
  // Only the ink's box (grown a pixel by each dilation) can hold ink: the rest is paper (+0) in
  // every canvas below, as computing it would leave it.
  const box = nonZeroBox(image);
  let current = image.data;
  for (let k = 0; k < Math.floor(steps); k++) {
    const out = current === a ? b : a;
    morph(current, w, h, dilate, rows, out, box);
    current = out;
  }
  const rest = steps - Math.floor(steps);
  if (rest < 0.05) return current === image.data ? image : { width: w, height: h, data: current };
  const next = current === a ? b : a;
  morph(current, w, h, dilate, rows, next, box);
  // In place: each blended pixel reads only its own two values (paper outside the box in both).
  for (let y = box.y0; y <= box.y1; y++) {
    for (let i = y * w + box.x0, end = y * w + box.x1; i <= end; i++)
      next[i] = (1 - rest) * current[i] + rest * next[i];
  }
  return { width: w, height: h, data: next };
}

/** An inclusive box of pixels (empty when x0 > x1 or y0 > y1). */
interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The box of the pixels that are not +0 (empty for a blank canvas). */
function nonZeroBox(image: FloatImage): Box {
  const { width: w, height: h } = image;
  const bits = asInt32(image.data);
  const box = { x0: w, y0: h, x1: -1, y1: -1 };
  for (let y = 0; y < h; y++) {
    let x = 0;
    const row = y * w;
    while (x < w && bits[row + x] === 0) x++;
    if (x === w) continue;
    let last = w - 1;
    while (bits[row + last] === 0) last--;
    if (x < box.x0) box.x0 = x;
    if (last > box.x1) box.x1 = last;
    if (y < box.y0) box.y0 = y;
    box.y1 = y;
  }
  return box;
}

/**
 * A 3×3 grey dilation (max) or erosion (min) of `image` into `result`, separable (rows first, into
 * `between`); the frame outside counts as paper. Only `box` holds ink in `image`: dilation computes
 * it grown by a pixel (and grows `box`), erosion the box itself; the rest of `result` is paper.
 * Canvases hold no negative values and no −0 (see warp), and non-negative float32 values order as
 * their bits do as int32s: the max and min are taken on the bits, which V8 compiles without the
 * branches of a float max (the same values).
 */
function morph(
  image: Float32Array,
  w: number,
  h: number,
  dilate: boolean,
  between: Float32Array,
  result: Float32Array,
  box: Box,
): void {
  const src = asInt32(image);
  const rows = asInt32(between.fill(0));
  const out = asInt32(result.fill(0));
  if (box.x0 > box.x1 || box.y0 > box.y1) return;
  if (dilate) {
    const [x0, x1] = [Math.max(0, box.x0 - 1), Math.min(w - 1, box.x1 + 1)];
    maxAlongRows(src, w, x0, x1, box.y0, box.y1, rows);
    [box.x0, box.x1, box.y0, box.y1] = [x0, x1, Math.max(0, box.y0 - 1), Math.min(h - 1, box.y1 + 1)];
    maxAlongColumns(rows, w, h, box, out);
  } else {
    minAlongRows(src, w, box.x0, box.x1, box.y0, box.y1, rows);
    minAlongColumns(rows, w, h, box, out);
  }
}

function asInt32(data: Float32Array): Int32Array {
  return new Int32Array(data.buffer, data.byteOffset, data.length);
}

// Each pixel of the box (columns x0…x1 of rows y0…y1) and its two neighbours along a row (or
// column), 0 past the frame's edge. Max and min are exact, in any order.
function maxAlongRows(
  src: Int32Array,
  w: number,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
  out: Int32Array,
): void {
  for (let y = y0; y <= y1; y++) {
    for (let x = x0, i = y * w + x0; x <= x1; x++, i++) {
      out[i] = Math.max(x > 0 ? src[i - 1] : 0, src[i], x < w - 1 ? src[i + 1] : 0);
    }
  }
}

function minAlongRows(
  src: Int32Array,
  w: number,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
  out: Int32Array,
): void {
  for (let y = y0; y <= y1; y++) {
    for (let x = x0, i = y * w + x0; x <= x1; x++, i++) {
      out[i] = Math.min(x > 0 ? src[i - 1] : 0, src[i], x < w - 1 ? src[i + 1] : 0);
    }
  }
}

function maxAlongColumns(src: Int32Array, w: number, h: number, box: Box, out: Int32Array): void {
  for (let y = box.y0; y <= box.y1; y++) {
    const [up, down] = [y > 0 ? -w : 0, y < h - 1 ? w : 0];
    // At the frame's edge the missing neighbour is paper: the pixel itself stands in for it in a
    // max (it is ≥ 0); in a min it must be 0 itself.
    for (let i = y * w + box.x0, end = y * w + box.x1; i <= end; i++)
      out[i] = Math.max(src[i + up], src[i], src[i + down]);
  }
}

function minAlongColumns(src: Int32Array, w: number, h: number, box: Box, out: Int32Array): void {
  for (let y = box.y0; y <= box.y1; y++) {
    const edge = y === 0 || y === h - 1;
    for (let i = y * w + box.x0, end = y * w + box.x1; i <= end; i++) {
      out[i] = edge ? 0 : Math.min(src[i - w], src[i], src[i + w]);
    }
  }
}

/** Scratch canvases, reused from one digit to the next (one set per thread); `scratch(slot, n)` is slot's first n. */
const MORPH_ROWS = 0;
const MORPH_A = 1;
const MORPH_B = 2;
const WARPED = 3;
const HALVED = 4;
const BLUR_ROWS = 5;
const BLURRED = 6;
const scratchBuffers: Float32Array[] = [];

function scratch(slot: number, length: number): Float32Array {
  let buffer = scratchBuffers[slot];
  if (!buffer || buffer.length < length) {
    buffer = new Float32Array(Math.max(length, 2 * (buffer?.length ?? 0)));
    scratchBuffers[slot] = buffer;
  }
  return buffer.subarray(0, length);
}

/** Averages 2×2 blocks: the canvas back at MNIST's resolution (odd edges dropped). */
function halve(image: FloatImage): FloatImage {
  const width = image.width >> 1;
  const height = image.height >> 1;
  const data = scratch(HALVED, width * height);
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

/**
 * Separable Gaussian blur of standard deviation `sigma` pixels; the frame outside counts as paper.
 * Each sum runs over the kernel from its left (top) end, the taps past the frame left out; pixels
 * at least `radius` from the edges have all their taps, and their loop checks no bounds.
 */
function gaussianBlur(image: FloatImage, sigma: number): FloatImage {
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let k = 0; k < kernel.length; k++) total += kernel[k] = Math.exp(-((k - radius) ** 2) / (2 * sigma ** 2));
  for (let k = 0; k < kernel.length; k++) kernel[k] /= total;
  const { width: w, height: h } = image;
  const src = image.data;
  const rows = scratch(BLUR_ROWS, w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      if (x >= radius && x < w - radius) {
        for (let k = 0, i = row + x - radius; k < kernel.length; k++, i++) acc += kernel[k] * src[i];
      } else {
        for (let k = Math.max(-radius, -x); k <= Math.min(radius, w - 1 - x); k++)
          acc += kernel[k + radius] * src[row + x + k];
      }
      rows[row + x] = acc;
    }
  }
  const out = scratch(BLURRED, w * h);
  for (let y = 0; y < h; y++) {
    if (y >= radius && y < h - radius) {
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let k = 0, i = (y - radius) * w + x; k < kernel.length; k++, i += w) acc += kernel[k] * rows[i];
        out[y * w + x] = acc;
      }
      continue;
    }
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

/** augmentDigit's pictures, reused from one digit to the next (normalizeDigit is done with each). */
let gray = new Uint8Array(0);

/** 8-bit picture of the ink at strength `level` (0–1), dark ink on white when `inverted`. */
function toGray(image: FloatImage, level: number, inverted: boolean, transient: boolean): GrayImage {
  const n = image.width * image.height;
  if (transient && gray.length < n) gray = new Uint8Array(Math.max(n, 2 * gray.length));
  const data = transient ? gray.subarray(0, n) : new Uint8Array(n);
  for (let i = 0; i < data.length; i++) {
    const ink = roundNonNegative(Math.min(1, Math.max(0, image.data[i])) * level * MAX_PIXEL_VALUE);
    data[i] = inverted ? MAX_PIXEL_VALUE - ink : ink;
  }
  return { width: image.width, height: image.height, data };
}
