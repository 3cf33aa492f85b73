// Finding the ink in a grayscale picture of one digit: which polarity it has, how far the ink
// stands out from the paper, and which marks are the digit rather than noise or specks.

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
  constructor(message = 'the image contains no ink: nothing stands out from the background') {
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
/** Ink strength 1 is reached at this percentile of the ink's contrast; darker pixels saturate. */
const INK_LEVEL_PERCENTILE = 0.9;

function percentileOfHistogram(hist: Uint32Array, total: number, p: number): number {
  const target = p * (total - 1);
  let seen = 0;
  for (let v = 0; v < hist.length; v++) {
    seen += hist[v];
    if (seen > target) return v;
  }
  return hist.length - 1;
}

/** Median and robust spread (1.4826·MAD ≈ σ for Gaussian noise) of the border ring. */
function borderStats(image: GrayImage): { median: number; sigma: number } {
  const { width, height, data } = image;
  const ring = Math.max(1, Math.floor(Math.min(width, height) / 32));
  const hist = new Uint32Array(256);
  let total = 0;
  for (let y = 0; y < height; y++) {
    const edgeRow = y < ring || y >= height - ring;
    for (let x = 0; x < width; x++) {
      if (edgeRow || x < ring || x >= width - ring) {
        hist[data[y * width + x]]++;
        total++;
      }
    }
  }
  const median = percentileOfHistogram(hist, total, 0.5);
  const deviations = new Uint32Array(256);
  for (let v = 0; v < 256; v++) deviations[Math.abs(v - median)] += hist[v];
  const mad = percentileOfHistogram(deviations, total, 0.5);
  return { median, sigma: 1.4826 * mad };
}

/**
 * Labels 8-connected regions of `mask` and returns, per pixel, its region id (0 = not in mask),
 * with each region's area and peak contrast.
 */
function components(mask: Uint8Array, contrast: Uint8Array, width: number, height: number) {
  const labels = new Int32Array(mask.length);
  const areas: number[] = [0];
  const peaks: number[] = [0];
  const stack = new Int32Array(mask.length);
  for (let seed = 0; seed < mask.length; seed++) {
    if (!mask[seed] || labels[seed]) continue;
    const id = areas.length;
    let area = 0;
    let peak = 0;
    let top = 0;
    stack[top++] = seed;
    labels[seed] = id;
    while (top > 0) {
      const p = stack[--top];
      area++;
      if (contrast[p] > peak) peak = contrast[p];
      const px = p % width;
      const py = (p - px) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = id;
            stack[top++] = q;
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
 * paper); contrast is measured from that paper colour; the noise level measured on the border
 * sets how much contrast counts as ink. Throws NoInkError when nothing qualifies.
 */
export function extractInk(image: GrayImage): InkMap {
  const { width, height, data } = image;
  if (width < 1 || height < 1 || data.length < width * height) {
    throw new RangeError(`gray image ${width}×${height} needs ${width * height} pixels, got ${data.length}`);
  }
  const { median: paper, sigma } = borderStats(image);
  const inverted = paper >= 128;
  const threshold = Math.max(MIN_INK_CONTRAST, 5 * sigma);
  const floor = Math.min(threshold / 2, Math.max(MIN_NOISE_FLOOR, 3 * sigma));

  const n = width * height;
  const contrast = new Uint8Array(n);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const d = inverted ? paper - data[i] : data[i] - paper;
    if (d > 0) contrast[i] = d;
    if (d > floor) mask[i] = 1;
  }

  // Regions of above-floor pixels; a region is ink if it reaches the threshold somewhere and is
  // not a speck. Faint anti-aliased edges join their stroke's region and are kept with it.
  const { labels, areas, peaks } = components(mask, contrast, width, height);
  let largest = 0;
  for (let id = 1; id < areas.length; id++) {
    if (peaks[id] >= threshold && areas[id] > largest) largest = areas[id];
  }
  if (largest === 0) throw new NoInkError();
  const keep = new Uint8Array(areas.length);
  for (let id = 1; id < areas.length; id++) {
    keep[id] = peaks[id] >= threshold && areas[id] >= SPECK_FRACTION * largest ? 1 : 0;
  }

  const strong = new Uint32Array(256);
  let strongCount = 0;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!keep[labels[i]]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (contrast[i] >= threshold) {
        strong[contrast[i]]++;
        strongCount++;
      }
    }
  }
  const inkLevel = Math.max(floor + 1, percentileOfHistogram(strong, strongCount, INK_LEVEL_PERCENTILE));

  const ink = new Float32Array(n);
  const span = inkLevel - floor;
  for (let i = 0; i < n; i++) {
    if (!keep[labels[i]]) continue;
    ink[i] = Math.min(1, Math.max(0, (contrast[i] - floor) / span));
  }
  return { width, height, data: ink, box: { x0, y0, x1, y1 }, inverted };
}
