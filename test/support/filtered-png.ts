// Node only: a PNG's rows re-encoded with a filter chosen per row, as libpng, browsers and pngjs
// write them (fast-png, which the other fixtures use, leaves every row unfiltered).
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { parsePng } from '../../src/worker/input/png.ts';
import { rgbToRgba } from './client-images.ts';

/** 8-bit opaque RGB pixels of an unfiltered 8-bit RGB PNG (as fast-png writes them). */
export function unfilteredRgb(png: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const info = parsePng(png);
  if (info.colorType !== 2 || info.depth !== 8) throw new Error('expected an 8-bit RGB PNG');
  const rows = inflateSync(Buffer.concat(info.idat));
  const stride = info.width * 3 + 1;
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let y = 0; y < info.height; y++) {
    if (rows[y * stride] !== 0) throw new Error('expected unfiltered rows');
    rgb.set(rows.subarray(y * stride + 1, (y + 1) * stride), y * (stride - 1));
  }
  return { width: info.width, height: info.height, rgb };
}

/**
 * `rgb` (3 bytes a pixel) as an 8-bit PNG of colour type 2 (RGB) or 0 (gray: r = g = b is
 * expected) with row filter `filterType` (0–4), or -1: adaptive, the filter per row that pngjs
 * (like libpng) picks.
 */
export function filteredPng(
  rgb: Uint8Array,
  width: number,
  height: number,
  { colorType = 2, filterType = -1 }: { colorType?: 0 | 2; filterType?: number } = {},
): Uint8Array {
  const png = Object.assign(new PNG({ width, height }), { data: Buffer.from(rgbToRgba(rgb)) });
  return new Uint8Array(PNG.sync.write(png, { colorType, filterType }));
}

/** An unfiltered RGB PNG re-encoded with adaptive row filters. */
export function withRowFilters(png: Uint8Array): Uint8Array {
  const { width, height, rgb } = unfilteredRgb(png);
  return filteredPng(rgb, width, height);
}
