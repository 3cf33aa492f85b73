// The page's client-side reduction, shared with the server's normalisation (src/shared/normalize.ts
// and src/worker/input/decode-image.ts): the canvas's RGBA pixels → 8-bit gray with transparency
// composited onto a contrasting background → box-averaged by the integer factor the server would
// use itself (`reduceFactor`, sides up to WORK_SIDE). The server does exactly this to a big canvas
// PNG before normalising it, so posting the reduced picture gives the same digit and the same
// probabilities, for a quarter of the pixels and a fraction of the CPU.
// Plain ES module: the page loads it as is, and Node tests and benchmarks import it.

/** Pictures are reduced to at most this many pixels a side before normalisation (MAX_WORK_SIDE). */
export const WORK_SIDE = 256;

/** The integer box factor that brings the longer side to at most `maxSide`. */
export function reduceFactor(width, height, maxSide = WORK_SIDE) {
  return Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
}

const luma = (r, g, b) => 0.299 * r + 0.587 * g + 0.114 * b;

/**
 * `rgba` (width × height × 4, unpremultiplied, as getImageData returns) → the reduced picture as
 * opaque gray RGBA (ready for putImageData and a PNG export) and as one gray byte per pixel.
 */
export function reduceCanvas(rgba, width, height, maxSide = WORK_SIDE) {
  const n = width * height;
  // Background under transparent pixels: white under dark strokes, black under light ones.
  let mass = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    const alpha = rgba[4 * i + 3] / 255;
    mass += alpha;
    weighted += alpha * luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
  }
  const background = mass === 0 || weighted / mass < 128 ? 255 : 0;
  const factor = reduceFactor(width, height, maxSide);
  const outWidth = Math.ceil(width / factor);
  const outHeight = Math.ceil(height / factor);
  const sums = new Uint32Array(outWidth * outHeight);
  const counts = new Uint32Array(outWidth * outHeight);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / factor) * outWidth;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const alpha = rgba[4 * i + 3] / 255;
      const gray = luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
      const o = row + Math.floor(x / factor);
      sums[o] += Math.round(alpha * gray + (1 - alpha) * background);
      counts[o]++;
    }
  }
  const gray = new Uint8Array(outWidth * outHeight);
  const out = new Uint8ClampedArray(outWidth * outHeight * 4);
  for (let i = 0; i < gray.length; i++) {
    const v = Math.round(sums[i] / counts[i]);
    gray[i] = v;
    out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = v;
    out[4 * i + 3] = 255;
  }
  return { width: outWidth, height: outHeight, gray, rgba: out };
}
