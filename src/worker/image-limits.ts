// Limits that keep one request from exhausting the isolate (128 MB on Workers). They are checked
// from the file header, before any pixel is decoded.

/** Neither side may exceed this many pixels. */
export const MAX_IMAGE_SIDE = 4096;
/** Nor may the picture have more pixels than this (4096 × 4096). */
export const MAX_IMAGE_PIXELS = 16 * 1024 * 1024;
/** Encoded files larger than this are refused outright (a 4096² phone JPEG is ~2–6 MB). */
export const MAX_IMAGE_BYTES = 12 * 1024 * 1024;
