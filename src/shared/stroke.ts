// Stroke width: felt-marker digits have strokes far thicker than MNIST's pen, which pushes the
// network towards 8 and 0. Measuring the width and eroding thick strokes back restores the look.

import type { FloatImage } from './resample.ts';

const INK = 0.5;

/** Mean stroke width in pixels, as 2·area / perimeter of the ink (a band of width w and length L has area wL, perimeter ≈ 2L). */
export function strokeWidth(ink: FloatImage): number {
  const { width, height, data } = ink;
  let area = 0;
  let perimeter = 0;
  const isInk = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && data[y * width + x] >= INK;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!isInk(x, y)) continue;
      area++;
      if (!isInk(x - 1, y) || !isInk(x + 1, y) || !isInk(x, y - 1) || !isInk(x, y + 1)) perimeter++;
    }
  }
  return perimeter === 0 ? 0 : (2 * area) / perimeter;
}

/** 1-D squared Euclidean distance transform of f (Felzenszwalb & Huttenlocher), in place via `out`. */
function edt1d(f: Float64Array, n: number, out: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    out[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
  }
}

/** Distance from every ink pixel to the nearest non-ink pixel (outside the image counts as paper). */
export function distanceToPaper(ink: FloatImage): Float32Array {
  const { width, height, data } = ink;
  // One pixel of paper all round, so ink touching the crop's edge is eroded from there too.
  const w = width + 2;
  const h = height + 2;
  const big = 1e12;
  const grid = new Float64Array(w * h);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) grid[(y + 1) * w + x + 1] = data[y * width + x] >= INK ? big : 0;
  }
  const n = Math.max(w, h);
  const f = new Float64Array(n);
  const out = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = grid[y * w + x];
    edt1d(f, h, out, v, z);
    for (let y = 0; y < h; y++) grid[y * w + x] = out[y];
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = grid[y * w + x];
    edt1d(f, w, out, v, z);
    for (let x = 0; x < w; x++) grid[y * w + x] = out[x];
  }
  const dist = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) dist[y * width + x] = Math.sqrt(grid[(y + 1) * w + x + 1]);
  }
  return dist;
}

/** Erodes strokes by `radius` pixels on each side, with a one-pixel soft edge. */
export function thinStrokes(ink: FloatImage, radius: number): FloatImage {
  const dist = distanceToPaper(ink);
  const data = new Float32Array(ink.data.length);
  for (let i = 0; i < data.length; i++) {
    data[i] = ink.data[i] * Math.min(1, Math.max(0, dist[i] - radius));
  }
  return { width: ink.width, height: ink.height, data };
}
