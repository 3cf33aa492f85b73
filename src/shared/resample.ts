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

/** For each output index, the input indices it reads and their weights (summing to 1). */
interface AxisWeights {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array[];
}

function areaWeights(inSize: number, outSize: number): AxisWeights {
  const ratio = inSize / outSize;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights: Float32Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const lo = o * ratio;
    const hi = Math.min(inSize, (o + 1) * ratio);
    const first = Math.floor(lo);
    const last = Math.min(inSize - 1, Math.ceil(hi) - 1);
    const w = new Float32Array(last - first + 1);
    for (let i = first; i <= last; i++) {
      // Overlap of input pixel [i, i+1) with the footprint [lo, hi).
      w[i - first] = (Math.min(i + 1, hi) - Math.max(i, lo)) / ratio;
    }
    start[o] = first;
    count[o] = w.length;
    weights.push(w);
  }
  return { start, count, weights };
}

function linearWeights(inSize: number, outSize: number): AxisWeights {
  const ratio = inSize / outSize;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights: Float32Array[] = [];
  for (let o = 0; o < outSize; o++) {
    // Pixel centres line up: output centre o+0.5 maps to input coordinate (o+0.5)*ratio.
    const x = Math.min(inSize - 1, Math.max(0, (o + 0.5) * ratio - 0.5));
    const first = Math.floor(x);
    const frac = x - first;
    if (first + 1 < inSize && frac > 0) {
      start[o] = first;
      count[o] = 2;
      weights.push(Float32Array.of(1 - frac, frac));
    } else {
      start[o] = first;
      count[o] = 1;
      weights.push(Float32Array.of(1));
    }
  }
  return { start, count, weights };
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  return outSize < inSize ? areaWeights(inSize, outSize) : linearWeights(inSize, outSize);
}

/** Resamples `image` to `width`×`height`, antialiased when shrinking. */
export function resample(image: FloatImage, width: number, height: number): FloatImage {
  if (width === image.width && height === image.height) return image;
  const xs = axisWeights(image.width, width);
  const ys = axisWeights(image.height, height);

  // Horizontal pass: image.height rows of `width` pixels.
  const tmp = new Float32Array(width * image.height);
  for (let y = 0; y < image.height; y++) {
    const row = y * image.width;
    for (let x = 0; x < width; x++) {
      const w = xs.weights[x];
      const s = xs.start[x];
      let acc = 0;
      for (let k = 0; k < xs.count[x]; k++) acc += w[k] * image.data[row + s + k];
      tmp[y * width + x] = acc;
    }
  }
  // Vertical pass.
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const w = ys.weights[y];
    const s = ys.start[y];
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < ys.count[y]; k++) acc += w[k] * tmp[(s + k) * width + x];
      out[y * width + x] = acc;
    }
  }
  return { width, height, data: out };
}
