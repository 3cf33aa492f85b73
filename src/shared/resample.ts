// Antialiased resampling of a float image, separable (rows then columns).
// Shrinking uses exact area averaging: each output pixel is the mean of the input area it covers,
// which is how MNIST's anti-aliased 20×20 digits were made from high-resolution binary scans.
// Enlarging (a digit smaller than 20 px) uses linear interpolation, since area averaging would
// degenerate into nearest-neighbour blocks.

export interface FloatImage {
  readonly width: number;
  readonly height: number;
  /** Row-major, one channel. */
  readonly data: Float32Array;
}

/**
 * For each output index o, the input indices it reads (count[o] of them from start[o]) and their
 * weights (summing to 1), at weights[o · stride] on. One per axis, reused from call to call
 * (resample is synchronous), grown as needed.
 */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  stride: number;
  weights: Float32Array;
}

const X_WEIGHTS: AxisWeights = {
  start: new Int32Array(32),
  count: new Int32Array(32),
  stride: 0,
  weights: new Float32Array(128),
};
const Y_WEIGHTS: AxisWeights = {
  start: new Int32Array(32),
  count: new Int32Array(32),
  stride: 0,
  weights: new Float32Array(128),
};

/** Sizes `axis` for `outSize` outputs of up to `stride` weights each. */
function prepare(axis: AxisWeights, outSize: number, stride: number): AxisWeights {
  if (axis.start.length < outSize) {
    axis.start = new Int32Array(outSize);
    axis.count = new Int32Array(outSize);
  }
  if (axis.weights.length < outSize * stride) axis.weights = new Float32Array(outSize * stride);
  axis.stride = stride;
  return axis;
}

function areaWeights(inSize: number, outSize: number, axis: AxisWeights): AxisWeights {
  const ratio = inSize / outSize;
  // An output's footprint [lo, hi) is `ratio` long: it touches at most ⌈ratio⌉ + 1 inputs (one
  // more for room, should rounding stretch it).
  const { start, count, stride, weights } = prepare(axis, outSize, Math.ceil(ratio) + 2);
  for (let o = 0; o < outSize; o++) {
    const lo = o * ratio;
    const hi = Math.min(inSize, (o + 1) * ratio);
    const first = Math.floor(lo);
    const last = Math.min(inSize - 1, Math.ceil(hi) - 1);
    for (let i = first; i <= last; i++) {
      // Overlap of input pixel [i, i+1) with the footprint [lo, hi).
      weights[o * stride + i - first] = (Math.min(i + 1, hi) - Math.max(i, lo)) / ratio;
    }
    start[o] = first;
    count[o] = last - first + 1;
  }
  return axis;
}

function linearWeights(inSize: number, outSize: number, axis: AxisWeights): AxisWeights {
  const ratio = inSize / outSize;
  const { start, count, stride, weights } = prepare(axis, outSize, 2);
  for (let o = 0; o < outSize; o++) {
    // Pixel centres line up: output centre o+0.5 maps to input coordinate (o+0.5)*ratio.
    const x = Math.min(inSize - 1, Math.max(0, (o + 0.5) * ratio - 0.5));
    const first = Math.floor(x);
    const frac = x - first;
    start[o] = first;
    if (first + 1 < inSize && frac > 0) {
      count[o] = 2;
      weights[o * stride] = 1 - frac;
      weights[o * stride + 1] = frac;
    } else {
      count[o] = 1;
      weights[o * stride] = 1;
    }
  }
  return axis;
}

function axisWeights(inSize: number, outSize: number, axis: AxisWeights): AxisWeights {
  return outSize < inSize ? areaWeights(inSize, outSize, axis) : linearWeights(inSize, outSize, axis);
}

/** The horizontal pass's rows, reused up to this many pixels (larger pictures allocate their own). */
const REUSE_PIXELS = 64 * 256;
const between = new Float32Array(REUSE_PIXELS);

/** Resamples `image` to `width`×`height`, antialiased when shrinking. */
export function resample(image: FloatImage, width: number, height: number): FloatImage {
  if (width === image.width && height === image.height) return image;
  const xs = axisWeights(image.width, width, X_WEIGHTS);
  const ys = axisWeights(image.height, height, Y_WEIGHTS);

  // Horizontal pass: image.height rows of `width` pixels.
  const n = width * image.height;
  const tmp = n <= REUSE_PIXELS ? between.subarray(0, n) : new Float32Array(n);
  for (let y = 0; y < image.height; y++) {
    const row = y * image.width;
    for (let x = 0; x < width; x++) {
      const w = x * xs.stride;
      const s = row + xs.start[x];
      let acc = 0;
      for (let k = 0; k < xs.count[x]; k++) acc += xs.weights[w + k] * image.data[s + k];
      tmp[y * width + x] = acc;
    }
  }
  // Vertical pass.
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const w = y * ys.stride;
    const s = ys.start[y];
    const c = ys.count[y];
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < c; k++) acc += ys.weights[w + k] * tmp[(s + k) * width + x];
      out[y * width + x] = acc;
    }
  }
  return { width, height, data: out };
}
