import { describe, expect, it } from 'vitest';
import { IMAGE_SIZE, PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import {
  CENTER_OF_MASS,
  centerOfMass,
  DIGIT_BOX_SIZE,
  type GrayImage,
  NoInkError,
  normalizeDigit,
  normalizePixels,
} from '../../src/shared/normalize.ts';
import { seededRandom } from '../../src/shared/random.ts';
import { strokeWidth } from '../../src/shared/stroke.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

/** A `width`×`height` sheet of `paper` with `ink` rectangles [x, y, w, h]. */
function sheet(width: number, height: number, paper: number, ink: number, rects: number[][]): GrayImage {
  const data = new Uint8Array(width * height).fill(paper);
  for (const [rx, ry, rw, rh] of rects) {
    for (let y = ry; y < ry + rh; y++) data.fill(ink, y * width + rx, y * width + rx + rw);
  }
  return { width, height, data };
}

/** Inclusive box of non-zero pixels in a 28×28 digit. */
function inkBox(digit: Uint8Array) {
  let [x0, y0, x1, y1] = [IMAGE_SIZE, IMAGE_SIZE, -1, -1];
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      if (digit[y * IMAGE_SIZE + x] === 0) continue;
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  return { width: x1 - x0 + 1, height: y1 - y0 + 1, centerX: (x0 + x1) / 2 };
}

const com = (digit: Uint8Array) =>
  centerOfMass({ width: IMAGE_SIZE, height: IMAGE_SIZE, data: Float32Array.from(digit) });

describe('normalizeDigit', () => {
  it('centres an off-centre bar, fits it in 20×20 and keeps its aspect ratio', () => {
    // A dark outline 60×180 (pen-thin strokes) in the top-left corner of a 400×300 white page.
    const digit = normalizeDigit(
      sheet(400, 300, 255, 0, [
        [10, 5, 60, 8],
        [10, 177, 60, 8],
        [10, 5, 8, 180],
        [62, 5, 8, 180],
      ]),
    );
    expect(digit).toHaveLength(PIXEL_COUNT);
    const box = inkBox(digit);
    expect(box.height).toBe(DIGIT_BOX_SIZE);
    expect(box.width).toBeLessThanOrEqual(8); // 60/180 × 20 ≈ 6.7
    expect(box.width).toBeGreaterThanOrEqual(6);
    const c = com(digit);
    expect(Math.abs(c.x - CENTER_OF_MASS)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(c.y - CENTER_OF_MASS)).toBeLessThanOrEqual(0.5);
    // Dark ink on light paper was inverted: the ink is white, the paper black.
    expect(Math.max(...digit)).toBe(255);
    expect(digit[0]).toBe(0);
  });

  it('keeps a wide shape wide', () => {
    const digit = normalizeDigit(sheet(400, 400, 0, 255, [[300, 350, 90, 18]]));
    const box = inkBox(digit);
    expect(box.width).toBe(DIGIT_BOX_SIZE);
    expect(box.height).toBeGreaterThanOrEqual(4);
    expect(box.height).toBeLessThanOrEqual(5);
  });

  it('puts the centre of mass, not the box centre, at (14, 14)', () => {
    // An L: heavy vertical stroke plus a foot to the right. COM is left of the box centre.
    const digit = normalizeDigit(
      sheet(200, 200, 0, 255, [
        [20, 20, 20, 100],
        [20, 100, 80, 20],
      ]),
    );
    const c = com(digit);
    expect(Math.abs(c.x - CENTER_OF_MASS)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(c.y - CENTER_OF_MASS)).toBeLessThanOrEqual(0.5);
    const box = inkBox(digit);
    expect([box.width, box.height]).toEqual([16, DIGIT_BOX_SIZE]);
    // The box sits right of centre, so that the heavy left stroke brings the mass to 14.
    expect(box.centerX - CENTER_OF_MASS).toBeGreaterThanOrEqual(1.5);
  });

  it('anti-aliases when shrinking (grey edges, not nearest-neighbour blocks)', () => {
    // A T whose 300-px box becomes 20 px: its 95-px stem is 6.33 px wide, so an edge column is partial.
    const digit = normalizeDigit(
      sheet(400, 400, 255, 0, [
        [50, 50, 300, 30],
        [150, 50, 95, 300],
      ]),
    );
    const row = Array.from(digit.subarray(14 * IMAGE_SIZE, 15 * IMAGE_SIZE));
    expect(row.some((v) => v > 0 && v < 255)).toBe(true);
  });

  it('brings a fine pen on a big page to full ink, as in MNIST', () => {
    // A 3-px line 400 px tall averages down to ~15% grey at 20 px; MNIST digits always reach 255.
    const digit = normalizeDigit(
      sheet(600, 600, 250, 20, [
        [300, 100, 3, 400],
        [300, 100, 150, 3],
      ]),
    );
    expect(Math.max(...digit)).toBe(255);
    expect(inkBox(digit).height).toBe(DIGIT_BOX_SIZE);
  });

  it('thins felt-marker strokes towards a pen, and leaves pen strokes alone', () => {
    // A "7" drawn with a 90-px marker (5.6 px at the 20-px scale) on a 400-px page.
    const marker = sheet(400, 400, 245, 20, [
      [40, 40, 300, 90],
      [250, 40, 90, 320],
    ]);
    const thinned = normalizeDigit(marker);
    const thick = normalizeDigit(marker, { maxStrokeWidth: Infinity });
    const widthOf = (digit: Uint8Array) =>
      strokeWidth({ width: IMAGE_SIZE, height: IMAGE_SIZE, data: Float32Array.from(digit, (v) => v / 255) });
    const inkOf = (digit: Uint8Array) => digit.reduce((sum, v) => sum + v, 0);
    expect(widthOf(thick)).toBeGreaterThan(5);
    expect(widthOf(thinned)).toBeLessThan(widthOf(thick) - 1);
    expect(inkOf(thinned)).toBeLessThan(0.9 * inkOf(thick));
    expect(inkBox(thinned).height).toBe(DIGIT_BOX_SIZE); // still fills the box after thinning
    // A pen-width 7 is the same with or without thinning.
    const pen = sheet(400, 400, 245, 20, [
      [40, 40, 300, 24],
      [290, 40, 24, 320],
    ]);
    expect(Array.from(normalizeDigit(pen))).toEqual(Array.from(normalizeDigit(pen, { maxStrokeWidth: Infinity })));
  });

  it('detects polarity from the border: light ink on dark gives the same digit as dark on light', () => {
    const rects = [
      [60, 40, 30, 150],
      [60, 40, 90, 25],
    ];
    const dark = normalizeDigit(sheet(240, 240, 230, 40, rects));
    const light = normalizeDigit(sheet(240, 240, 25, 215, rects));
    expect(Array.from(dark)).toEqual(Array.from(light));
  });

  it('refuses a blank page and a page of pure noise with NoInkError', () => {
    expect(() => normalizeDigit(sheet(100, 80, 255, 0, []))).toThrow(NoInkError);
    expect(() => normalizeDigit(sheet(28, 28, 0, 0, []))).toThrow(NoInkError);
    const rng = seededRandom(1);
    const noisy = sheet(300, 300, 200, 0, []);
    for (let i = 0; i < noisy.data.length; i++) {
      const u = Math.max(rng(), 1e-9);
      noisy.data[i] = Math.round(200 + 6 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng()));
    }
    expect(() => normalizeDigit(noisy)).toThrow(NoInkError);
    // A faint smudge below the contrast threshold is not ink either.
    expect(() => normalizeDigit(sheet(100, 100, 220, 195, [[30, 30, 20, 40]]))).toThrow(NoInkError);
  });

  it('follows uneven lighting: a page darkening to one side is paper, not ink', () => {
    // Paper from 245 on the left to 150 on the right (a phone photo lit from one side).
    const shade = (image: GrayImage) => ({
      ...image,
      data: image.data.map((v, i) => Math.round(v * (1 - (0.4 * (i % image.width)) / image.width))),
    });
    const rects = [
      [120, 60, 30, 200],
      [120, 60, 110, 28],
      [200, 60, 30, 120],
    ];
    const even = normalizeDigit(sheet(360, 320, 245, 40, rects));
    const shaded = normalizeDigit(shade(sheet(360, 320, 245, 40, rects)));
    let diff = 0;
    for (let i = 0; i < PIXEL_COUNT; i++) diff += Math.abs(even[i] - shaded[i]);
    expect(diff / PIXEL_COUNT).toBeLessThan(3);
    expect(() => normalizeDigit(shade(sheet(360, 320, 245, 40, [])))).toThrow(NoInkError);
  });

  it('ignores specks of dust far from the digit', () => {
    const clean = normalizeDigit(sheet(500, 500, 240, 30, [[200, 150, 40, 200]]));
    const dusty = normalizeDigit(
      sheet(500, 500, 240, 30, [
        [200, 150, 40, 200],
        [10, 480, 3, 3],
        [470, 12, 2, 2],
      ]),
    );
    expect(Array.from(dusty)).toEqual(Array.from(clean));
  });

  it('handles very large pictures by box-averaging first', () => {
    const digit = normalizeDigit(sheet(4000, 3000, 255, 0, [[3000, 100, 200, 600]]));
    expect(inkBox(digit).height).toBe(DIGIT_BOX_SIZE);
    const c = com(digit);
    expect(Math.abs(c.y - CENTER_OF_MASS)).toBeLessThanOrEqual(0.5);
  });

  it('leaves real MNIST digits (already normalised) almost unchanged', () => {
    const mnist = loadMnistTest();
    let total = 0;
    const n = 500;
    for (let k = 0; k < n; k++) {
      const original = mnist.images.subarray(k * PIXEL_COUNT, (k + 1) * PIXEL_COUNT);
      const digit = normalizePixels(original);
      let diff = 0;
      for (let i = 0; i < PIXEL_COUNT; i++) diff += Math.abs(digit[i] - original[i]);
      total += diff / PIXEL_COUNT;
    }
    // Mean absolute difference on the 0–255 scale (two different MNIST digits differ by ~30+).
    expect(total / n).toBeLessThan(1.5);
  });

  it('normalizePixels checks the length', () => {
    expect(() => normalizePixels(new Array(783).fill(0))).toThrow(RangeError);
  });
});
