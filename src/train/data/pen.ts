// An MNIST digit drawn large as a pen would draw it: bilinear upsampling, then a soft threshold at
// half coverage so that edges are crisp like strokes rather than blurry pixels. The segment
// verifier's training numbers and the tests' client pictures and numbers are all drawn this way.

/** Ink coverage (0–1) of `digit` (784 MNIST pixels) drawn `size` px wide. */
export function renderInk(digit: Uint8Array, size: number, softness: number): Float32Array {
  const out = new Float32Array(size * size);
  const ratio = 28 / size;
  for (let y = 0; y < size; y++) {
    const fy = Math.min(27, Math.max(0, (y + 0.5) * ratio - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(27, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = Math.min(27, Math.max(0, (x + 0.5) * ratio - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(27, x0 + 1);
      const wx = fx - x0;
      const v =
        ((1 - wy) * ((1 - wx) * digit[y0 * 28 + x0] + wx * digit[y0 * 28 + x1]) +
          wy * ((1 - wx) * digit[y1 * 28 + x0] + wx * digit[y1 * 28 + x1])) /
        255;
      out[y * size + x] = Math.min(1, Math.max(0, (v - 0.5) / softness + 0.5));
    }
  }
  return out;
}

/** A drawn digit in its `size`-px square, with the box of its ink (coverage ≥ 0.5). */
export interface DrawnDigit {
  ink: Float32Array;
  size: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** `digit` drawn with its ink about `height` px tall (MNIST's ink fills 20 of its 28 px). */
export function drawDigit(digit: Uint8Array, height: number, softness: number): DrawnDigit {
  const size = Math.round((height * 28) / 20);
  const ink = renderInk(digit, size, softness);
  let [x0, y0, x1, y1] = [size, size, -1, -1];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (ink[y * size + x] < 0.5) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return { ink, size, x0, y0, x1, y1 };
}
