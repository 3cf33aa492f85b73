// A "real-client" test set made from MNIST *test* digits: each digit re-rendered the way people
// actually send digits — large scans of dark ink on paper, transparent canvas exports, phone
// JPEGs, small digits off-centre in a larger frame, thick marker strokes. Seeded and
// deterministic; pure TypeScript (fast-png, jpeg-js), so it runs in Node and in workerd.

import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import type { DigitSet } from '../../src/shared/model-spec.ts';
import { seededRandom } from '../../src/shared/random.ts';
import { renderInk } from '../../src/train/data/pen.ts';

export const CLIENT_KINDS = ['scan', 'canvas', 'jpeg', 'small', 'marker'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

export interface ClientImage {
  /** Index of the digit in MNIST's test set. */
  readonly index: number;
  readonly label: number;
  readonly kind: ClientKind;
  readonly mediaType: 'image/png' | 'image/jpeg';
  readonly bytes: Uint8Array;
}

type Rng = () => number;
const uniform = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();
const intIn = (rng: Rng, lo: number, hi: number) => Math.floor(uniform(rng, lo, hi + 1));
function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** 3×3 grey dilation of a 28×28 digit: a felt marker instead of a pen. */
function dilate28(digit: Uint8Array): Uint8Array {
  const out = new Uint8Array(784);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      let m = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          // Corners at 0.7 strength round the pen tip a little.
          if (yy >= 0 && yy < 28 && xx >= 0 && xx < 28) {
            const v = digit[yy * 28 + xx] * (dx && dy ? 0.7 : 1);
            if (v > m) m = v;
          }
        }
      }
      out[y * 28 + x] = Math.round(m);
    }
  }
  return out;
}

/** 3×3 box blur (a slightly out-of-focus scanner or camera). */
export function blur(data: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          sum += data[yy * width + xx];
          n++;
        }
      }
      out[y * width + x] = sum / n;
    }
  }
  return out;
}

interface Canvas {
  readonly width: number;
  readonly height: number;
  /** Ink coverage 0–1. */
  readonly ink: Float32Array;
}

/** Pastes the `size`-px digit into a frame at (left, top). */
function frame(ink: Float32Array, size: number, width: number, height: number, left: number, top: number): Canvas {
  const out = new Float32Array(width * height);
  for (let y = 0; y < size; y++) {
    const ty = top + y;
    if (ty < 0 || ty >= height) continue;
    for (let x = 0; x < size; x++) {
      const tx = left + x;
      if (tx >= 0 && tx < width) out[ty * width + tx] = ink[y * size + x];
    }
  }
  return { width, height, ink: out };
}

/** Paper-and-ink photograph: uneven paper tone, dark ink, blur and sensor noise; RGB bytes. */
export function photograph(canvas: Canvas, rng: Rng, opts: { noise: number; lightInk?: boolean }): Uint8Array {
  const { width, height } = canvas;
  const ink = blur(canvas.ink, width, height);
  const paper = uniform(rng, 185, 245);
  const inkTone = uniform(rng, 10, 80);
  const tint = [uniform(rng, -8, 8), uniform(rng, -8, 8), uniform(rng, -8, 8)];
  // A gentle lighting gradient across the page.
  const gx = uniform(rng, -12, 12) / width;
  const gy = uniform(rng, -12, 12) / height;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const bg = paper + gx * (x - width / 2) + gy * (y - height / 2);
      let v = bg + (inkTone - bg) * ink[i];
      if (opts.lightInk) v = 255 - v;
      for (let c = 0; c < 3; c++) {
        rgb[3 * i + c] = Math.min(255, Math.max(0, Math.round(v + tint[c] + opts.noise * gaussian(rng))));
      }
    }
  }
  return rgb;
}

/** Opaque RGBA from packed RGB, as the encoders that take RGBA want it. */
export function rgbToRgba(rgb: Uint8Array): Uint8Array {
  const rgba = new Uint8Array((rgb.length / 3) * 4);
  for (let i = 0; i < rgb.length / 3; i++) {
    rgba[4 * i] = rgb[3 * i];
    rgba[4 * i + 1] = rgb[3 * i + 1];
    rgba[4 * i + 2] = rgb[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

function rgbToGray(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
  return out;
}

/** Renders one MNIST digit as a client would send it. */
export function renderClientImage(
  digit: Uint8Array,
  kind: ClientKind,
  rng: Rng,
): Pick<ClientImage, 'mediaType' | 'bytes'> {
  switch (kind) {
    case 'scan': {
      // A large scan: the digit 250–400 px, margins around it, gray or colour PNG.
      const size = intIn(rng, 250, 400);
      const width = size + intIn(rng, 20, 160);
      const height = size + intIn(rng, 20, 160);
      const canvas = frame(
        renderInk(digit, size, 0.25),
        size,
        width,
        height,
        intIn(rng, 0, width - size),
        intIn(rng, 0, height - size),
      );
      const rgb = photograph(canvas, rng, { noise: uniform(rng, 2, 7) });
      const bytes =
        rng() < 0.5
          ? encodePng({ width, height, data: rgbToGray(rgb), channels: 1, depth: 8 })
          : encodePng({ width, height, data: rgb, channels: 3, depth: 8 });
      return { mediaType: 'image/png', bytes };
    }
    case 'canvas': {
      // An HTML canvas export: strokes in one dark colour, alpha = coverage, transparent paper.
      const size = intIn(rng, 180, 260);
      const side = 280;
      const off = () => intIn(rng, 0, side - size);
      const canvas = frame(renderInk(digit, size, 0.15), size, side, side, off(), off());
      const colour = rng() < 0.7 ? [0, 0, 0] : [intIn(rng, 0, 40), intIn(rng, 0, 40), intIn(rng, 60, 140)];
      const rgba = new Uint8Array(side * side * 4);
      for (let i = 0; i < side * side; i++) {
        const a = Math.round(canvas.ink[i] * 255);
        if (a === 0) continue; // transparent black, exactly what canvas.toBlob() writes
        rgba.set(colour, 4 * i);
        rgba[4 * i + 3] = a;
      }
      return {
        mediaType: 'image/png',
        bytes: encodePng({ width: side, height: side, data: rgba, channels: 4, depth: 8 }),
      };
    }
    case 'jpeg': {
      // A phone photo: the digit 200–350 px, JPEG quality 70–90.
      const size = intIn(rng, 200, 350);
      const width = size + intIn(rng, 40, 200);
      const height = size + intIn(rng, 40, 200);
      const canvas = frame(
        renderInk(digit, size, 0.3),
        size,
        width,
        height,
        intIn(rng, 0, width - size),
        intIn(rng, 0, height - size),
      );
      const rgb = photograph(canvas, rng, { noise: uniform(rng, 2, 6) });
      const rgba = new Uint8Array(width * height * 4);
      for (let i = 0; i < width * height; i++) {
        rgba.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
        rgba[4 * i + 3] = 255;
      }
      const encoded = jpeg.encode({ width, height, data: rgba }, intIn(rng, 70, 90));
      return { mediaType: 'image/jpeg', bytes: new Uint8Array(encoded.data) };
    }
    case 'small': {
      // A small digit (34–60 px) somewhere in a larger picture; a fifth are chalk on a board.
      const size = intIn(rng, 34, 60);
      const width = intIn(rng, 160, 360);
      const height = intIn(rng, 120, 300);
      const canvas = frame(
        renderInk(digit, size, 0.35),
        size,
        width,
        height,
        intIn(rng, 0, width - size),
        intIn(rng, 0, height - size),
      );
      const rgb = photograph(canvas, rng, { noise: uniform(rng, 1, 4), lightInk: rng() < 0.2 });
      return {
        mediaType: 'image/png',
        bytes: encodePng({ width, height, data: rgbToGray(rgb), channels: 1, depth: 8 }),
      };
    }
    case 'marker': {
      // Thick felt-marker strokes on paper.
      const size = intIn(rng, 220, 360);
      const width = size + intIn(rng, 20, 120);
      const height = size + intIn(rng, 20, 120);
      const canvas = frame(
        renderInk(dilate28(digit), size, 0.25),
        size,
        width,
        height,
        intIn(rng, 0, width - size),
        intIn(rng, 0, height - size),
      );
      const rgb = photograph(canvas, rng, { noise: uniform(rng, 1, 5) });
      return {
        mediaType: 'image/png',
        bytes: encodePng({ width, height, data: rgbToGray(rgb), channels: 1, depth: 8 }),
      };
    }
  }
}

/**
 * `count` client images from MNIST test digits chosen by `seed`, kinds in rotation (so each kind
 * gets count/5). The same seed always gives the same bytes.
 */
export function generateClientImages(mnist: DigitSet, count: number, seed = 4): ClientImage[] {
  const rng = seededRandom(seed);
  // Distinct digits: a seeded partial Fisher–Yates shuffle of the test-set indices.
  const order = Array.from({ length: mnist.count }, (_, i) => i);
  const out: ClientImage[] = [];
  for (let k = 0; k < Math.min(count, mnist.count); k++) {
    const j = k + Math.floor(rng() * (mnist.count - k));
    [order[k], order[j]] = [order[j], order[k]];
    const index = order[k];
    const kind = CLIENT_KINDS[k % CLIENT_KINDS.length];
    const digit = mnist.images.subarray(index * 784, (index + 1) * 784);
    out.push({ index, label: mnist.labels[index], kind, ...renderClientImage(digit, kind, rng) });
  }
  return out;
}

/**
 * A digit on paper at a given picture size (benchmarks): the digit ~60% of the short side, centred
 * a little off, paper with a lighting gradient, blur and sensor noise; an RGB PNG (a scan) or a
 * phone-photo JPEG at quality 85, or an 8-bit gray PNG.
 */
export function renderPaperDigit(
  digit: Uint8Array,
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'gray-png',
  seed = 1,
): Uint8Array {
  const rng = seededRandom(seed);
  const size = Math.round(Math.min(width, height) * 0.6);
  const canvas = frame(
    renderInk(digit, size, 0.25),
    size,
    width,
    height,
    Math.round((width - size) * 0.45),
    Math.round((height - size) * 0.55),
  );
  const rgb = photograph(canvas, rng, { noise: 3 });
  if (format === 'png') return encodePng({ width, height, data: rgb, channels: 3, depth: 8 });
  if (format === 'gray-png') return encodePng({ width, height, data: rgbToGray(rgb), channels: 1, depth: 8 });
  return new Uint8Array(jpeg.encode({ width, height, data: rgbToRgba(rgb) }, 85).data);
}

/** The page's 280×280 canvas export of an MNIST digit: black strokes, alpha = coverage (what `canvas.toBlob` writes). */
export function renderCanvasRgba(digit: Uint8Array, size = 220, side = 280, left = 30, top = 30): Uint8Array {
  const canvas = frame(renderInk(digit, size, 0.15), size, side, side, left, top);
  const rgba = new Uint8Array(side * side * 4);
  for (let i = 0; i < side * side; i++) rgba[4 * i + 3] = Math.round(canvas.ink[i] * 255);
  return rgba;
}
