// Limits that keep one request from exhausting the isolate (128 MB on Workers). They are checked
// from the file header, before any pixel is decoded.

/** Neither side may exceed this many pixels. */
export const MAX_IMAGE_SIDE = 4096;
/** Nor may the picture have more pixels than this (4096 × 4096): the ceiling for MAX_PICTURE_MEGAPIXELS. */
export const MAX_IMAGE_PIXELS = 16 * 1024 * 1024;
/** Encoded files larger than this are refused outright (a 4096² phone JPEG is ~2–6 MB). */
export const MAX_IMAGE_BYTES = 12 * 1024 * 1024;
/**
 * Memory one decode may take, leaving room in the 128 MB isolate for the runtime and the model.
 * Pure-JS decoders are hungry: jpeg-js keeps ~20 bytes a pixel (so JPEGs up to ~4.8 MP fit),
 * fast-png about three copies of the raw samples (an RGBA PNG up to ~7 MP, 8-bit gray 16 MP).
 */
export const DECODE_MEMORY_BUDGET = 96 * 1024 * 1024;

const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes fast-png and our gray conversion need for a PNG with this IHDR (inflated stream, unfiltered copy, concatenation, gray). */
export function pngDecodeBytes(width: number, height: number, depth: number, colorType: number): number {
  const bytesPerPixel = ((PNG_CHANNELS[colorType] ?? 4) * Math.max(depth, 8)) / 8;
  return width * height * (3 * bytesPerPixel + 1);
}
