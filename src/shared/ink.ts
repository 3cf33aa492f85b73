// Finding the ink in a grayscale picture of one digit: which polarity it has, how far the ink
// stands out from the paper, and which marks are the digit rather than noise or specks.

import { roundHalfUp } from './round.ts';

/** An 8-bit grayscale picture: 0 is black, 255 is white. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}

/** Ink strength per pixel (0 = paper, 1 = full ink), with the box of the kept marks. */
export interface InkMap {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
  /** Inclusive bounding box of the ink. */
  readonly box: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
  /** True when the picture was dark ink on light paper (it has been inverted to MNIST's polarity). */
  readonly inverted: boolean;
}

/** Raised for a picture with no mark that stands out from its background. */
export class NoInkError extends Error {
  readonly code = 'no_ink';
  constructor(message = 'The image has no ink: nothing stands out from the background.') {
    super(message);
    this.name = 'NoInkError';
  }
}

/** A mark must differ from the paper by at least this much (of 255) to count as ink. */
export const MIN_INK_CONTRAST = 48;
/** Differences below this never count, so JPEG ringing and sensor noise on clean paper stay paper. */
const MIN_NOISE_FLOOR = 6;
/** Marks smaller than this fraction of the largest mark are specks (dust, noise), not the digit. */
const SPECK_FRACTION = 0.01;
/**
 * The bounding box covers pixels with at least this much ink: a blurred photo's faint halo would
 * otherwise make the digit look smaller than MNIST's, whose boxes came from crisp binary scans
 * (+0.3 points on the client-style set; raw MNIST digits still come back with mean |Δ| 0.7).
 */
export const BOX_INK_LEVEL = 0.2;
/** Ink strength 1 is reached at this percentile of the ink's contrast; darker pixels saturate. */
const INK_LEVEL_PERCENTILE = 0.9;

/**
 * The temporaries of one extraction are reused from call to call (extractInk is synchronous: one
 * call at a time per isolate or thread) for pictures up to this many pixels, such as the trainer's
 * augmented digits (64×64 at most); larger pictures allocate their own, so ~0.25 MB stays allocated.
 */
const REUSE_PIXELS = 64 * 64;
const reused = {
  hist: new Uint32Array(511),
  residuals: new Uint32Array(511),
  deviations: new Uint32Array(511),
  strong: new Uint32Array(256),
  contrastOf: new Uint8Array(256),
  maskOf: new Uint8Array(256),
  inkOf: new Float64Array(256),
  /** Signed contrast by pixel value against one paper colour, as float32 (what a float32 array holds). */
  rawOf: new Float32Array(256),
  ink: new Float32Array(REUSE_PIXELS),
  raw: new Float32Array(REUSE_PIXELS),
  map: new Float32Array(REUSE_PIXELS),
  /** The paper map's cell histograms for a 64×64 picture (11×11 cells of 6×6). */
  hists: new Uint32Array(11 * 11 * 256),
  contrast: new Uint8Array(REUSE_PIXELS),
  mask: new Uint8Array(REUSE_PIXELS),
  labels: new Int32Array(REUSE_PIXELS),
  stack: new Int32Array(REUSE_PIXELS),
  columns: new Int32Array(REUSE_PIXELS),
};

/** `n` elements of a reused array (as they were left), or a new array of them when `n` is too many. */
function temporary<T extends Uint8Array | Int32Array | Uint32Array | Float32Array>(
  array: T,
  n: number,
  create: (n: number) => T,
): T {
  return n <= array.length ? (array.subarray(0, n) as T) : create(n);
}

/**
 * The first value v whose count of values up to v exceeds p · (total − 1), where `total` is the
 * histogram's count (the sum of its bins). Percentiles above the median are found from the top
 * (the last v whose count up to v exceeds it: the same v), where light paper lies.
 */
function percentileOfHistogram(hist: Uint32Array, total: number, p: number): number {
  const target = p * (total - 1);
  if (p >= 0.5) {
    let v = hist.length - 1;
    for (let upTo = total; v > 0 && upTo - hist[v] > target; v--) upTo -= hist[v];
    return v;
  }
  let seen = 0;
  for (let v = 0; v < hist.length; v++) {
    seen += hist[v];
    if (seen > target) return v;
  }
  return hist.length - 1;
}

/**
 * Calls `visit(i)` for every pixel of the border ring (1/32 of the short side, at least 1 px), row
 * by row: whole rows at the top and bottom, the ring's two ends of the rows between.
 */
function forBorder(width: number, height: number, visit: (i: number) => void): void {
  const ring = Math.max(1, Math.floor(Math.min(width, height) / 32));
  for (let y = 0; y < height; y++) {
    const row = y * width;
    if (y < ring || y >= height - ring || 2 * ring >= width) {
      for (let x = 0; x < width; x++) visit(row + x);
    } else {
      for (let x = 0; x < ring; x++) visit(row + x);
      for (let x = width - ring; x < width; x++) visit(row + x);
    }
  }
}

/** Median and robust spread (1.4826·MAD ≈ σ for Gaussian noise) of values in −255…255. */
function robustStats(hist: Uint32Array, total: number): { median: number; sigma: number } {
  const median = percentileOfHistogram(hist, total, 0.5) - 255;
  const deviations = reused.deviations.fill(0);
  for (let v = 0; v < 511; v++) deviations[Math.abs(v - 255 - median)] += hist[v];
  return { median, sigma: 1.4826 * percentileOfHistogram(deviations, total, 0.5) };
}

/** Pictures whose short side is below this use one paper colour; larger ones a smooth paper map. */
const MIN_PAPER_MAP_SIDE = 64;
/** Cells across the short side when mapping the paper. */
const PAPER_CELLS = 12;
/** Each cell's paper value is the lightest (darkest, for dark paper) of its neighbours this far
 * away, so that cells covered by a thick stroke take the paper around the stroke. */
const PAPER_REACH = 2;
/** Within a cell, the paper is this far towards the paper side of its pixel values. */
const PAPER_PERCENTILE = 0.75;

/**
 * The paper's brightness at every pixel. Photos of paper are rarely evenly lit: measuring ink
 * against one paper colour turns the shaded side into "ink" (or hides the digit in the noise
 * estimate). The map follows smooth lighting (cells of 1/12 of the short side, bilinear between
 * cell centres) and ignores the ink, which only ever moves pixels away from the paper. Returns
 * the map's one value instead when the paper is even.
 */
function paperMap(image: GrayImage, lightPaper: boolean): Float32Array | number {
  const { width, height, data } = image;
  const map = temporary(reused.map, width * height, (k) => new Float32Array(k));

  const cell = Math.ceil(Math.min(width, height) / PAPER_CELLS);
  const cols = Math.ceil(width / cell);
  const rows = Math.ceil(height / cell);
  // The reused histograms are all zeros between calls: the counts are taken back out below.
  const hists = temporary(reused.hists, cols * rows * 256, (k) => new Uint32Array(k));
  for (let y = 0, i = 0; y < height; y++) {
    const rowBase = Math.floor(y / cell) * cols;
    // A run of `cell` pixels per cell, into that cell's histogram.
    for (let c = 0, x = 0; c < cols; c++) {
      const hist = (rowBase + c) * 256;
      for (const end = Math.min(width, x + cell); x < end; x++, i++) hists[hist + data[i]]++;
    }
  }
  const cellPaper = new Float32Array(cols * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // Every cell holds cell × cell pixels but those of the last column and row.
      const total = (Math.min(width, (c + 1) * cell) - c * cell) * (Math.min(height, (r + 1) * cell) - r * cell);
      const hist = hists.subarray((r * cols + c) * 256, (r * cols + c + 1) * 256);
      cellPaper[r * cols + c] = percentileOfHistogram(
        hist,
        total,
        lightPaper ? PAPER_PERCENTILE : 1 - PAPER_PERCENTILE,
      );
    }
  }
  for (let y = 0, i = 0; y < height; y++) {
    const rowBase = Math.floor(y / cell) * cols;
    for (let c = 0, x = 0; c < cols; c++) {
      const hist = (rowBase + c) * 256;
      for (const end = Math.min(width, x + cell); x < end; x++, i++) hists[hist + data[i]]--;
    }
  }
  const spread = new Float32Array(cols * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let best = lightPaper ? 0 : 255;
      for (let rr = Math.max(0, r - PAPER_REACH); rr <= Math.min(rows - 1, r + PAPER_REACH); rr++) {
        for (let cc = Math.max(0, c - PAPER_REACH); cc <= Math.min(cols - 1, c + PAPER_REACH); cc++) {
          const v = cellPaper[rr * cols + cc];
          best = lightPaper ? Math.max(best, v) : Math.min(best, v);
        }
      }
      spread[r * cols + c] = best;
    }
  }
  // A 3×3 mean smooths the steps that the neighbourhood maximum leaves between cells.
  const smooth = new Float32Array(cols * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      let count = 0;
      for (let rr = Math.max(0, r - 1); rr <= Math.min(rows - 1, r + 1); rr++) {
        for (let cc = Math.max(0, c - 1); cc <= Math.min(cols - 1, c + 1); cc++) {
          sum += spread[rr * cols + cc];
          count++;
        }
      }
      smooth[r * cols + c] = sum / count;
    }
  }
  // Even paper (all cells alike, as on canvases and NIST's thumbnails): every pixel's bilinear mix
  // of c is c within a few units of the double's last place, which float32 rounds back to c.
  if (smooth.every((v) => v === smooth[0])) return smooth[0];
  // Bilinear between cell centres: each row of cells interpolated across the width once (in
  // doubles, so every pixel gets the same sums as interpolating it whole), then each pixel row
  // mixes the two cell rows around it.
  const across = new Float64Array(rows * width);
  for (let x = 0; x < width; x++) {
    const fx = Math.min(cols - 1, Math.max(0, (x + 0.5) / cell - 0.5));
    const c0 = Math.floor(fx);
    const c1 = Math.min(cols - 1, c0 + 1);
    const wx = fx - c0;
    for (let r = 0; r < rows; r++) {
      across[r * width + x] = (1 - wx) * smooth[r * cols + c0] + wx * smooth[r * cols + c1];
    }
  }
  for (let y = 0, i = 0; y < height; y++) {
    const fy = Math.min(rows - 1, Math.max(0, (y + 0.5) / cell - 0.5));
    const r0 = Math.floor(fy);
    const wy = fy - r0;
    const top = r0 * width;
    const bottom = Math.min(rows - 1, r0 + 1) * width;
    for (let x = 0; x < width; x++, i++) map[i] = (1 - wy) * across[top + x] + wy * across[bottom + x];
  }
  return map;
}

/**
 * Labels 8-connected regions of `mask` and returns, per pixel, its region id (0 = not in mask),
 * with each region's area and peak contrast.
 */
function components(mask: Uint8Array, contrast: Uint8Array, width: number, height: number) {
  const n = width * height;
  const labels = temporary(reused.labels, n, (k) => new Int32Array(k)).fill(0);
  const areas: number[] = [0];
  const peaks: number[] = [0];
  const stack = temporary(reused.stack, n, (k) => new Int32Array(k));
  // Each stacked pixel's column beside it, so that no pixel needs a division to find its neighbours.
  const columns = temporary(reused.columns, n, (k) => new Int32Array(k));
  for (let seed = 0; seed < n; seed++) {
    if (!mask[seed] || labels[seed]) continue;
    const id = areas.length;
    let area = 0;
    let peak = 0;
    let top = 0;
    stack[top] = seed;
    columns[top++] = seed % width;
    labels[seed] = id;
    while (top > 0) {
      const p = stack[--top];
      const px = columns[top];
      area++;
      if (contrast[p] > peak) peak = contrast[p];
      const rowStart = p - px;
      for (let dy = -1; dy <= 1; dy++) {
        const row = rowStart + dy * width;
        if (row < 0 || row >= n) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= width) continue;
          const q = row + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = id;
            stack[top] = q;
            columns[top++] = nx;
          }
        }
      }
    }
    areas.push(area);
    peaks.push(peak);
  }
  return { labels, areas, peaks };
}

/**
 * Finds the digit's ink. Polarity comes from the border (the median of the outer ring is the
 * paper); contrast is measured from the paper map (the paper's local brightness); the noise level
 * measured on the border sets how much contrast counts as ink. Throws NoInkError when nothing
 * qualifies.
 */
export function extractInk(image: GrayImage): InkMap {
  return findInk(image, false);
}

/**
 * extractInk's map in an array that the next call reuses (pictures up to REUSE_PIXELS): for a
 * caller done with it by then, such as normalizeDigit, which copies the ink out of it.
 */
export function extractInkTransient(image: GrayImage): InkMap {
  return findInk(image, true);
}

function findInk(image: GrayImage, transient: boolean): InkMap {
  const { width, height, data } = image;
  if (width < 1 || height < 1 || data.length < width * height) {
    throw new RangeError(`gray image ${width}×${height} needs ${width * height} pixels, got ${data.length}`);
  }
  const { contrast, mask, threshold, floor, inverted } = contrastAgainstPaper(image);
  const keep = digitRegions(mask, contrast, threshold, width, height);
  const n = width * height;
  const ink = transient && n <= reused.ink.length ? reused.ink.subarray(0, n).fill(0) : new Float32Array(n);
  return inkStrength(keep, contrast, threshold, floor, width, height, inverted, ink);
}

interface Contrast {
  /** How far each pixel stands out from the paper, towards ink (0–255). */
  contrast: Uint8Array;
  /** 1 where the contrast is above the noise floor. */
  mask: Uint8Array;
  /** Contrast that counts as ink for sure. */
  threshold: number;
  /** Contrast below which a pixel is paper. */
  floor: number;
  inverted: boolean;
}

/** Polarity from the border, contrast against the paper map, and thresholds from the border's noise. */
function contrastAgainstPaper(image: GrayImage): Contrast {
  const { width, height, data } = image;
  const n = width * height;
  const borderHist = reused.hist.fill(0);
  let borderCount = 0;
  forBorder(width, height, (i) => {
    borderHist[255 + data[i]]++;
    borderCount++;
  });
  const paperLevel = robustStats(borderHist, borderCount).median;
  const inverted = paperLevel >= 128;
  const contrast = temporary(reused.contrast, n, (k) => new Uint8Array(k));
  const mask = temporary(reused.mask, n, (k) => new Uint8Array(k));
  // Signed contrast against the paper map; on the border it is paper and noise, which gives the
  // map's offset from the paper's middle and the noise level.
  const residuals = reused.residuals.fill(0);
  const paper = Math.min(width, height) < MIN_PAPER_MAP_SIDE ? paperLevel : paperMap(image, inverted);
  if (typeof paper === 'number') {
    // One paper colour (a float32 value): every pixel's signed contrast, as a float32 array held
    // it, is a function of the pixel's value v alone. So the border's residuals count the border's
    // values, and contrast and mask are looked up by value in tables made by the same arithmetic
    // as the per-pixel loops below.
    const rawOf = reused.rawOf;
    for (let v = 0; v < 256; v++) rawOf[v] = inverted ? paper - v : v - paper;
    for (let v = 0; v < 256; v++) {
      const count = borderHist[255 + v];
      if (count > 0) residuals[255 + Math.max(-255, Math.min(255, Math.round(rawOf[v])))] += count;
    }
    const { offset, threshold, floor } = noiseLevels(residuals, borderCount);
    const contrastOf = reused.contrastOf;
    const maskOf = reused.maskOf;
    for (let v = 0; v < 256; v++) {
      const d = roundHalfUp(rawOf[v] - offset);
      contrastOf[v] = clipContrast(d);
      maskOf[v] = +(d > floor);
    }
    for (let i = 0; i < n; i++) {
      contrast[i] = contrastOf[data[i]];
      mask[i] = maskOf[data[i]];
    }
    return { contrast, mask, threshold, floor, inverted };
  }

  const raw = temporary(reused.raw, n, (k) => new Float32Array(k));
  if (inverted) for (let i = 0; i < n; i++) raw[i] = paper[i] - data[i];
  else for (let i = 0; i < n; i++) raw[i] = data[i] - paper[i];
  forBorder(width, height, (i) => {
    residuals[255 + Math.max(-255, Math.min(255, Math.round(raw[i])))]++;
  });
  const { offset, threshold, floor } = noiseLevels(residuals, borderCount);
  for (let i = 0; i < n; i++) {
    const d = roundHalfUp(raw[i] - offset);
    contrast[i] = clipContrast(d);
    mask[i] = +(d > floor);
  }
  return { contrast, mask, threshold, floor, inverted };
}

/** The paper's offset from the border's residuals, and the contrasts that count as ink and as paper. */
function noiseLevels(residuals: Uint32Array, count: number): { offset: number; threshold: number; floor: number } {
  const { median: offset, sigma } = robustStats(residuals, count);
  const threshold = Math.max(MIN_INK_CONTRAST, 5 * sigma);
  const floor = Math.min(threshold / 2, Math.max(MIN_NOISE_FLOOR, 3 * sigma));
  return { offset, threshold, floor };
}

/**
 * A signed contrast d (an integer: Math.round(raw − offset), exactly, see roundHalfUp) clipped to
 * 0–255 without branches: on paper d is noise around 0, and a branch on its sign is a coin toss.
 */
function clipContrast(d: number): number {
  const positive = d & ~(d >> 31);
  return positive | ((255 - positive) >> 31); // -1 (stored as 255) above 255
}

/**
 * Regions of above-floor pixels; a region is ink if it reaches the threshold somewhere and is not a
 * speck. Faint anti-aliased edges join their stroke's region and are kept with it. Returns the
 * region labels and which labels are kept.
 */
function digitRegions(mask: Uint8Array, contrast: Uint8Array, threshold: number, width: number, height: number) {
  const { labels, areas, peaks } = components(mask, contrast, width, height);
  let largest = 0;
  for (let id = 1; id < areas.length; id++) {
    if (peaks[id] >= threshold && areas[id] > largest) largest = areas[id];
  }
  if (largest === 0) throw new NoInkError();
  const kept = new Uint8Array(areas.length);
  for (let id = 1; id < areas.length; id++) {
    kept[id] = peaks[id] >= threshold && areas[id] >= SPECK_FRACTION * largest ? 1 : 0;
  }
  return { labels, kept };
}

/** Ink strength 0–1 of the kept regions (into `ink`, all zeros), saturating at the ink's typical contrast, and its bounding box. */
function inkStrength(
  { labels, kept }: ReturnType<typeof digitRegions>,
  contrast: Uint8Array,
  threshold: number,
  floor: number,
  width: number,
  height: number,
  inverted: boolean,
  ink: Float32Array,
): InkMap {
  const n = width * height;
  const strong = reused.strong.fill(0);
  let strongCount = 0;
  for (let i = 0; i < n; i++) {
    if (kept[labels[i]] && contrast[i] >= threshold) {
      strong[contrast[i]]++;
      strongCount++;
    }
  }
  const inkLevel = Math.max(floor + 1, percentileOfHistogram(strong, strongCount, INK_LEVEL_PERCENTILE));

  // A pixel's strength depends on its contrast (a byte) alone: one division per value, not per
  // pixel, and none at or below the floor (0) or from the ink level on (1), where (c − floor) / span
  // is ≤ 0 or ≥ 1 and the clamps give those exactly.
  const span = inkLevel - floor;
  const inkOf = reused.inkOf;
  for (let c = 0; c < 256; c++) {
    inkOf[c] = c <= floor ? 0 : c >= inkLevel ? 1 : Math.min(1, Math.max(0, (c - floor) / span));
  }
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!kept[labels[i]]) continue;
      const v = inkOf[contrast[i]];
      ink[i] = v;
      if (v < BOX_INK_LEVEL) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return { width, height, data: ink, box: { x0, y0, x1, y1 }, inverted };
}
