// Training kernels the wasm backend lacks or runs slowly (tfjs-backend-wasm 4.22).
//
// Both convolution gradients are rewritten as forward convolutions or matrix products, which the
// backend hands to XNNPACK; 3×3 ones of the model's kind as Winograd F(4×4, 3×3) (winograd.ts).
// They call the backend's own kernels on wasm memory, so nothing leaves it.
import {
  type BatchMatMulAttrs,
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type NamedAttrMap,
  registerKernel,
  type SumAttrs,
  type TensorInfo,
  unregisterKernel,
  util,
} from '@tensorflow/tfjs-core';
import { CONV1 } from '../../shared/kernels/prebuilt.ts';
import {
  backendBatchMatMul,
  dispose,
  FORWARD_PASS_IMAGES,
  heapMemory,
  heapOffset,
  int32Bytes,
  type KernelArgs,
  type Products,
  releaseView,
  transformedFilter,
  viewOf,
  wasmBackend,
  winogradConvBiasReluPool,
  winogradProducts,
} from '../../shared/kernels/tfjs-wasm.ts';
import { GEMM_COLUMNS } from '../../shared/kernels/winograd-wat.ts';
import { trainKernels } from './train-module.ts';
import {
  BLOCK,
  filterFromProducts,
  PLANES,
  planeBytes,
  planeStride,
  planesFloats,
  tilesPerImage,
  transformFilter,
  winogradFits,
  winogradKernels,
} from './winograd.ts';

const BACKEND = 'wasm';

/**
 * Whether the trainer's module (train-module.ts) runs the dense layers' products and conv1's filter
 * gradient; MNIST_EDGE_TRAIN_MODULE=off sends them to XNNPACK as before (to compare them).
 */
const ownKernels = () => process.env.MNIST_EDGE_TRAIN_MODULE !== 'off';

/**
 * Who multiplies Winograd's 36 planes (tfjs-wasm.ts): the kernel module's own GEMM, unless
 * MNIST_EDGE_PRODUCTS=xnnpack asks for the backend's BatchMatMul (to compare them).
 */
export const PRODUCTS: Products = process.env.MNIST_EDGE_PRODUCTS === 'xnnpack' ? 'xnnpack' : 'gemm';

function runKernel(name: string, args: KernelArgs): TensorInfo {
  const config = getKernel(name, BACKEND);
  if (config == null) throw new Error(`The ${BACKEND} backend has no ${name} kernel`);
  return config.kernelFunc(args) as TensorInfo;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Transposes a float32 tensor of rank ≤ 4 in one pass over wasm memory: four nested loops with
 * precomputed strides, whole rows copied when the last axis stays last. The stock wasm Transpose
 * computes every source index by division and is 3–5× slower at the convolution gradients' sizes.
 */
function transpose(x: TensorInfo, perm: number[], backend: KernelArgs['backend']): TensorInfo {
  if (x.dtype !== 'float32' || x.shape.length > 4)
    return runKernel('Transpose', { inputs: { x }, attrs: { perm }, backend });
  const wasm = wasmBackend(backend);
  const out = wasm.makeOutput(
    perm.map((p) => x.shape[p]),
    'float32',
  );
  const to = wasm.typedArrayFromHeap(out);
  const from = wasm.typedArrayFromHeap(x);
  const rank = x.shape.length;
  if (rank >= 2 && perm.every((p, i) => p === (i < rank - 2 ? i : 2 * rank - 3 - i))) {
    const [rows, columns] = x.shape.slice(-2);
    transposeMatrices(from, to, size(x.shape) / (rows * columns), rows, columns);
    return out;
  }
  // Pad to rank 4 at the front; strides of the source, in the output's axis order.
  const pad = 4 - x.shape.length;
  const shape = [...Array(pad).fill(1), ...x.shape];
  const order = [...Array(pad).keys(), ...perm.map((p) => p + pad)];
  const strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const [n0, n1, n2, n3] = order.map((a) => shape[a]);
  const [s0, s1, s2, s3] = order.map((a) => strides[a]);
  let o = 0;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      for (let c = 0; c < n2; c++) {
        const base = a * s0 + b * s1 + c * s2;
        if (s3 === 1) {
          to.set(from.subarray(base, base + n3), o);
          o += n3;
        } else {
          for (let d = 0; d < n3; d++) to[o++] = from[base + d * s3];
        }
      }
    }
  }
  return out;
}

/**
 * `count` row-major rows × columns matrices, each transposed, in 16 × 16 tiles: a column-by-column
 * pass reads the source with a stride of a whole row, which at the dense layer's 9216 × 128 weights
 * misses the cache on every read (27 ms a step, 5 ms in tiles).
 */
function transposeMatrices(from: Float32Array, to: Float32Array, count: number, rows: number, columns: number): void {
  const tile = 16;
  for (let m = 0, base = 0; m < count; m++, base += rows * columns) {
    for (let r0 = 0; r0 < rows; r0 += tile) {
      const r1 = Math.min(rows, r0 + tile);
      for (let c0 = 0; c0 < columns; c0 += tile) {
        const c1 = Math.min(columns, c0 + tile);
        for (let c = c0; c < c1; c++) {
          const column = base + c * rows;
          for (let r = r0, at = base + r0 * columns + c; r < r1; r++, at += columns) to[column + r] = from[at];
        }
      }
    }
  }
}

type Padding = { top: number; bottom: number; left: number; right: number };

/** Validates what the rewrite supports and returns the forward convolution's geometry. */
function forwardGeometry(
  kernel: string,
  xShape: number[],
  filterShape: number[],
  attrs: Pick<Conv2DBackpropFilterAttrs, 'strides' | 'pad' | 'dataFormat' | 'dimRoundingMode'>,
): { pad: Padding; outHeight: number; outWidth: number } {
  if (attrs.dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on wasm supports dataFormat NHWC only, got ${attrs.dataFormat}`);
  }
  const [strideHeight, strideWidth] =
    typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : attrs.strides;
  if (strideHeight !== 1 || strideWidth !== 1) {
    throw new Error(`${kernel} on wasm supports stride 1 only, got [${strideHeight}, ${strideWidth}]`);
  }
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    1,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  return { pad: { top, bottom, left, right }, outHeight: info.outHeight, outWidth: info.outWidth };
}

function explicitPadding(p: Padding): backend_util.ExplicitPadding {
  return [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
}

/**
 * dW[i,j,c,o] = Σ_{n,h,w} x[n, h+i-top, w+j-left, c] · dy[n,h,w,o] for any padding: dy is first
 * copied to the padded input's width (see filterGradient). The model's layers skip that copy: their
 * relu gradient writes dy in that layout directly (reluGrad, convFilterBiasGrad).
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { filterShape, ...conv } = attrs as unknown as Conv2DBackpropFilterAttrs;
  const { pad } = forwardGeometry('Conv2DBackpropFilter', x.shape, filterShape, conv);
  const [batch, outHeight, outWidth, outChannels] = dy.shape;
  const paddedWidth = outWidth + filterShape[1] - 1;
  const wasm = wasmBackend(backend);
  const wide = wasm.makeOutput([batch, outHeight, paddedWidth, outChannels], 'float32');
  const to = wasm.typedArrayFromHeap(wide);
  const from = wasm.typedArrayFromHeap(dy);
  const row = outWidth * outChannels;
  for (let r = 0; r < batch * outHeight; r++) {
    to.set(from.subarray(r * row, (r + 1) * row), r * paddedWidth * outChannels);
    to.fill(0, r * paddedWidth * outChannels + row, (r + 1) * paddedWidth * outChannels);
  }
  const [dW] = filterGradient(x, wide, filterShape, pad, false, backend);
  dispose(backend, wide);
  return dW;
};

/**
 * The model's convolution layers' filter and bias gradients: inputs x and dy as reluGrad writes it,
 * [n, outHeight, outWidth + filterWidth − 1, outChannels] with zeros in the extra columns (valid
 * padding only); outputs [dW, dBias].
 */
const convFilterBiasGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { filterShape } = attrs as unknown as { filterShape: number[] };
  if (x.shape[2] !== dy.shape[2] || x.shape[1] !== dy.shape[1] + filterShape[0] - 1) {
    throw new Error(`${CONV_FILTER_BIAS_GRAD}: dy ${dy.shape} is not x ${x.shape}'s valid output at x's width`);
  }
  const [filterHeight, filterWidth, channels, outChannels] = filterShape;
  const [, height, width] = x.shape;
  if (
    ownKernels() &&
    channels === 1 &&
    filterHeight === 3 &&
    filterWidth === 3 &&
    height === CONV1.height &&
    width === CONV1.width &&
    outChannels === CONV1.outChannels
  ) {
    return conv1FilterBiasGrad(x, dy, filterShape, backend);
  }
  if (
    filterHeight === 3 &&
    filterWidth === 3 &&
    winogradFits(height, width, channels, outChannels) &&
    tilesPerImage({ height, width }) % 4 === 0
  ) {
    return winogradFilterBiasGrad(x, dy, filterShape, backend);
  }
  return filterGradient(x, dy, filterShape, { top: 0, bottom: 0, left: 0, right: 0 }, true, backend);
};

/** Images per call of conv1's filter gradient kernel (their float32 partial sums are added in float64). */
const CONV1_CHUNK = 16;

/**
 * conv1's filter and bias gradients (one input channel, 3×3) in the trainer's module: per image,
 * each tap's Σ x·dy over the image's positions in float32 registers, then the images added up in
 * float64 here. 27M multiply-adds a step of 128, which XNNPACK ran as nine [2 × K]·[K × 32] products
 * (two rows: too few for its kernels) in ~20 ms.
 */
function conv1FilterBiasGrad(
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: number[],
  backend: KernelArgs['backend'],
): TensorInfo[] {
  const wasm = wasmBackend(backend);
  const kernels = trainKernels(heapMemory(backend));
  const [batch, height, width] = x.shape;
  const outChannels = filterShape[3];
  const per = 10 * outChannels;
  const partial = wasm.makeOutput([CONV1_CHUNK * per], 'float32');
  const sum = new Float64Array(per);
  for (let n0 = 0; n0 < batch; n0 += CONV1_CHUNK) {
    const count = Math.min(CONV1_CHUNK, batch - n0);
    kernels.conv1Filter(
      heapOffset(wasm, x) + n0 * height * width * 4,
      heapOffset(wasm, dy) + n0 * (height - 2) * width * outChannels * 4,
      heapOffset(wasm, partial),
      count,
    );
    const values = wasm.typedArrayFromHeap(partial);
    for (let e = 0; e < count; e++) {
      for (let i = 0, at = e * per; i < per; i++, at++) sum[i] += values[at];
    }
  }
  dispose(backend, partial);
  const dW = wasm.makeOutput(filterShape, 'float32');
  wasm.typedArrayFromHeap(dW).set(sum.subarray(0, 9 * outChannels));
  const dBias = wasm.makeOutput([outChannels], 'float32');
  wasm.typedArrayFromHeap(dBias).set(sum.subarray(9 * outChannels));
  return [dW, dBias];
}

/**
 * The filter gradient (and, with `withBias`, the bias gradient Σ dy) as XNNPACK matrix products,
 * a chunk of images at a time. dy comes at the padded input's width Wp (zero at w ≥ outWidth), so
 * positions (n,h,q) run over whole padded rows. For each filter row i, `shifted` holds x's padded
 * rows h+i channel-major, [c][n][h][q]; the im2col rows (i,j,c) over all positions are then row c
 * of copy i read from element j on. So each [C × K] patch matrix is a view, not a copy, and
 * dW[i,j] is one [C × K]·[K × O] product; the nine products of a chunk share dy, which XNNPACK
 * packs once (its matmul caches packed weights by tensor id). With `withBias`, copy 0 carries one
 * more row, of ones, whose product with dy is the bias gradient. Compared with a strided scalar
 * im2col this halves the work outside XNNPACK; the zero columns cost (Wp − outWidth)/outWidth more
 * multiplications (8% at conv2).
 */
function filterGradient(
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: number[],
  pad: Padding,
  withBias: boolean,
  backend: KernelArgs['backend'],
): TensorInfo[] {
  const [filterHeight, filterWidth, channels, outChannels] = filterShape;
  const [batch, inHeight, inWidth] = x.shape;
  const [, outHeight, paddedWidth] = dy.shape;
  const wasm = wasmBackend(backend);
  const perImage = outHeight * paddedWidth;
  const plane = inHeight * inWidth;
  const planes = withBias ? channels + 1 : channels;
  // ~1 MB of packed dy per chunk: 6 images at conv2, 10 at conv1 (measured flat from 4 to 8 at conv2).
  const chunk = Math.max(1, Math.min(batch, Math.round(250_000 / (perImage * outChannels))));
  // dW, then the bias gradient.
  const sum = new Float64Array(size(filterShape) + (withBias ? outChannels : 0));
  const xT = new Float32Array(channels * plane);
  for (let n0 = 0; n0 < batch; n0 += chunk) {
    const count = Math.min(batch, n0 + chunk) - n0;
    const k = count * perImage;
    // Each copy ends with filterWidth−1 zeros: the views at j > 0 read that far past their last row.
    const copyLength = planes * k + filterWidth - 1;
    const shifted = wasm.makeOutput([filterHeight * copyLength], 'float32');
    // Views after the allocation: growing wasm memory detaches older ones.
    const s = wasm.typedArrayFromHeap(shifted);
    const xv = wasm.typedArrayFromHeap(x);
    for (let e = 0; e < count; e++) {
      transposeImage(xv, (n0 + e) * plane * channels, plane, channels, xT);
      for (let i = 0; i < filterHeight; i++) {
        for (let c = 0; c < channels; c++) {
          const to = i * copyLength + c * k + e * perImage;
          shiftedRows(xT, c * plane, inHeight, inWidth, i - pad.top, pad.left, outHeight, paddedWidth, s, to);
        }
      }
    }
    for (let i = 0; i < filterHeight; i++) {
      s.fill(1, i * copyLength + channels * k, i * copyLength + planes * k);
      s.fill(0, i * copyLength + planes * k, (i + 1) * copyLength);
    }
    // A fresh tensor id per chunk: the matmul's cache of packed weights is keyed by it.
    const grads = viewOf(dy, n0 * perImage * outChannels, [k, outChannels], backend);
    for (let i = 0; i < filterHeight; i++) {
      for (let j = 0; j < filterWidth; j++) {
        const rows = i === 0 && j === 0 ? planes : channels;
        const patches = viewOf(shifted, i * copyLength + j, [rows, k], backend);
        const product = runKernel('BatchMatMul', {
          inputs: { a: patches, b: grads },
          attrs: { transposeA: false, transposeB: false },
          backend,
        });
        releaseView(patches, backend);
        const values = wasm.typedArrayFromHeap(product);
        const at = (i * filterWidth + j) * channels * outChannels;
        for (let v = 0; v < channels * outChannels; v++) sum[at + v] += values[v];
        if (rows > channels) {
          const bias = size(filterShape);
          for (let o = 0; o < outChannels; o++) sum[bias + o] += values[channels * outChannels + o];
        }
        dispose(backend, product);
      }
    }
    releaseView(grads, backend);
    dispose(backend, shifted);
  }
  const dW = wasm.makeOutput(filterShape, 'float32');
  wasm.typedArrayFromHeap(dW).set(sum.subarray(0, size(filterShape)));
  if (!withBias) return [dW];
  const dBias = wasm.makeOutput([outChannels], 'float32');
  wasm.typedArrayFromHeap(dBias).set(sum.subarray(size(filterShape)));
  return [dW, dBias];
}

/** One image's [pixels × channels] block of `x` from `from` on, written channel-major into `out`. */
function transposeImage(x: Float32Array, from: number, pixels: number, channels: number, out: Float32Array): void {
  if (channels === 1) {
    out.set(x.subarray(from, from + pixels));
    return;
  }
  // Four pixels per pass: four times fewer loop iterations than one (2.4 vs 3.6 ms at conv2's x).
  let p = 0;
  for (; p + 4 <= pixels; p += 4) {
    const at = from + p * channels;
    for (let c = 0, to = p; c < channels; c++, to += pixels) {
      out[to] = x[at + c];
      out[to + 1] = x[at + channels + c];
      out[to + 2] = x[at + 2 * channels + c];
      out[to + 3] = x[at + 3 * channels + c];
    }
  }
  for (; p < pixels; p++) {
    for (let c = 0; c < channels; c++) out[c * pixels + p] = x[from + p * channels + c];
  }
}

/**
 * Rows firstRow … firstRow+rows−1 of one channel plane (height × width from `from` in `plane`),
 * each padded to `paddedWidth` with `left` zeros in front, written end to end into `out` at `to`;
 * rows outside the plane are zeros.
 */
function shiftedRows(
  plane: Float32Array,
  from: number,
  height: number,
  width: number,
  firstRow: number,
  left: number,
  rows: number,
  paddedWidth: number,
  out: Float32Array,
  to: number,
): void {
  const lo = Math.max(0, -firstRow);
  const hi = Math.min(rows, height - firstRow);
  if (hi <= lo) {
    out.fill(0, to, to + rows * paddedWidth);
    return;
  }
  out.fill(0, to, to + lo * paddedWidth);
  out.fill(0, to + hi * paddedWidth, to + rows * paddedWidth);
  const src = from + (firstRow + lo) * width;
  if (left === 0 && width === paddedWidth) {
    // Valid padding: the rows are one contiguous run.
    out.set(plane.subarray(src, src + (hi - lo) * width), to + lo * paddedWidth);
    return;
  }
  for (let h = lo; h < hi; h++) {
    const at = to + h * paddedWidth;
    const row = src + (h - lo) * width;
    out.fill(0, at, at + left);
    out.set(plane.subarray(row, row + width), at + left);
    out.fill(0, at + left + width, at + paddedWidth);
  }
}

/**
 * dx[n,h,w,c] = Σ_{i,j,o} dy[n, h-i+top, w-j+left, o] · W[i,j,c,o]: a forward convolution of dy
 * with the filter rotated 180° and its channel axes swapped, padded so the output is x's size.
 */
const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { inputShape, ...conv } = attrs as unknown as Conv2DBackpropInputAttrs;
  const { pad } = forwardGeometry('Conv2DBackpropInput', inputShape, filter.shape, conv);
  const [filterHeight, filterWidth] = filter.shape;
  const [, inHeight, inWidth] = inputShape;
  const [, outHeight, outWidth] = dy.shape;
  const flipped = runKernel('Reverse', { inputs: { x: filter }, attrs: { dims: [0, 1] }, backend });
  const rotated = transpose(flipped, [0, 1, 3, 2], backend);
  const top = filterHeight - 1 - pad.top;
  const left = filterWidth - 1 - pad.left;
  const padding: Padding = {
    top,
    left,
    bottom: inHeight + filterHeight - 1 - outHeight - top,
    right: inWidth + filterWidth - 1 - outWidth - left,
  };
  if (Math.min(padding.top, padding.left, padding.bottom, padding.right) < 0) {
    throw new Error(`Conv2DBackpropInput on wasm: unsupported padding ${JSON.stringify(conv.pad)}`);
  }
  const dx = runKernel('Conv2D', {
    inputs: { x: dy, filter: rotated },
    attrs: { strides: 1, dilations: 1, pad: explicitPadding(padding), dataFormat: 'NHWC' },
    backend,
  });
  dispose(backend, flipped, rotated);
  return dx;
};

function swapLastTwo(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/** Depth of a block of the dense GEMM's k: [256 × 128] floats of B (128 KB) stay in L2 across A's rows. */
const GEMM_DEPTH = 256;

/**
 * A·B or Aᵀ·B for 2D float32 operands (a batch of one) with B's columns a multiple of 8, in the
 * trainer's module (register-blocked 4 × 8, relaxed FMA where the engine runs it), k in blocks of
 * GEMM_DEPTH; Aᵀ is read in place (no transpose), each block of 4 of its rows packed first.
 * Undefined for any other case.
 */
function ownMatMul(a: TensorInfo, b: TensorInfo, transposeA: boolean, backend: KernelArgs['backend']) {
  if (!ownKernels() || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const [ra, ca] = a.shape.slice(-2);
  const [k, n] = b.shape.slice(-2);
  if (size(a.shape) !== ra * ca || size(b.shape) !== k * n || n % GEMM_COLUMNS !== 0) return undefined;
  const m = transposeA ? ca : ra;
  if ((transposeA ? ra : ca) !== k) return undefined;
  const wasm = wasmBackend(backend);
  const out = wasm.makeOutput([...a.shape.slice(0, -2), m, n], 'float32');
  const kernels = trainKernels(heapMemory(backend));
  const [rowA, stepA] = transposeA ? [4, ca * 4] : [ca * 4, 4];
  const pack = transposeA ? wasm.makeOutput([4 * Math.min(GEMM_DEPTH, k)], 'float32') : undefined;
  const [aAt, bAt, cAt] = [heapOffset(wasm, a), heapOffset(wasm, b), heapOffset(wasm, out)];
  const packAt = pack ? heapOffset(wasm, pack) : 0;
  for (let l0 = 0; l0 < k; l0 += GEMM_DEPTH) {
    const depth = Math.min(GEMM_DEPTH, k - l0);
    const accumulate = l0 > 0 ? 1 : 0;
    kernels.gemm(aAt + l0 * stepA, bAt + l0 * n * 4, cAt, m, depth, n, rowA, stepA, n * 4, n * 4, accumulate, packAt);
  }
  if (pack) dispose(backend, pack);
  return out;
}

/** Wraps the stock BatchMatMul so that transposed operands are materialised first (10–30× faster). */
function withExplicitTransposes(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    if (!transposeB) {
      const own = ownMatMul(a, b, transposeA, args.backend);
      if (own) return own;
    }
    if (!transposeA && !transposeB) return stock.kernelFunc(args);
    if (!transposeA && a.shape.length === 2 && b.shape.length === 2 && size(b.shape) > 8 * size(a.shape)) {
      // a·bᵀ = (b·aᵀ)ᵀ: transposing the small a and the product instead of the large b, which XNNPACK
      // would also pack (the dense layer's input gradient: g [128 × 128] against W [9216 × 128]).
      const aT = transpose(a, [1, 0], args.backend);
      const product =
        ownMatMul(b, aT, false, args.backend) ??
        (stock.kernelFunc({
          ...args,
          inputs: { a: b, b: aT },
          attrs: { transposeA: false, transposeB: false },
        }) as TensorInfo);
      const out = transpose(product, [1, 0], args.backend);
      dispose(args.backend, aT, product);
      return out;
    }
    const aT = transposeA ? transpose(a, swapLastTwo(a.shape.length), args.backend) : a;
    const bT = transposeB ? transpose(b, swapLastTwo(b.shape.length), args.backend) : b;
    const out = stock.kernelFunc({
      ...args,
      inputs: { a: aT, b: bT },
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
    dispose(args.backend, ...[aT, bT].filter((t, i) => t !== [a, b][i]));
    return out;
  };
  return { ...stock, kernelFunc };
}

/**
 * While set, _FusedMatMul runs the stock kernel (XNNPACK): the exact recomputation of near ties
 * (network.ts) measures what stock tfjs measures. See `withStockProducts`.
 */
let stockProducts = false;

/** Runs `f` with the fused dense products on the stock kernel, as stock tfjs computes them. */
export function withStockProducts<T>(f: () => T): T {
  const before = stockProducts;
  stockProducts = true;
  try {
    return f();
  } finally {
    stockProducts = before;
  }
}

/**
 * The stock _FusedMatMul (outside gradients: the test passes' dense layers) with a·b, no transposes,
 * b's columns a multiple of 8, a bias of b's columns and no activation or relu, on the trainer's
 * GEMM (ownMatMul), then bias and relu in one pass; anything else on the stock kernel.
 */
function withOwnFusedMatMul(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const { transposeA, transposeB, activation } = args.attrs as unknown as {
      transposeA: boolean;
      transposeB: boolean;
      activation?: string;
    };
    const n = b?.shape.at(-1) ?? 0;
    if (
      stockProducts ||
      transposeA ||
      transposeB ||
      preluActivationWeights ||
      !a ||
      !b ||
      (activation !== undefined && activation !== 'linear' && activation !== 'relu') ||
      (bias !== undefined && (bias.dtype !== 'float32' || size(bias.shape) !== n))
    ) {
      return stock.kernelFunc(args);
    }
    const out = ownMatMul(a, b, false, args.backend);
    if (!out) return stock.kernelFunc(args);
    const wasm = wasmBackend(args.backend);
    const values = wasm.typedArrayFromHeap(out);
    const biasValues = bias ? wasm.typedArrayFromHeap(bias) : undefined;
    if (biasValues || activation === 'relu') {
      const relu = activation === 'relu';
      for (let i = 0; i < values.length; i += n) {
        for (let j = 0; j < n; j++) {
          const v = biasValues ? Math.fround(values[i + j] + biasValues[j]) : values[i + j];
          values[i + j] = relu && v < 0 ? 0 : v;
        }
      }
    }
    return out;
  };
  return { ...stock, kernelFunc };
}

/**
 * Sum over leading axes (bias gradients: Σ over n,h,w of an NHWC tensor) in one pass over wasm
 * memory. The stock kernel first transposes the reduced axes innermost: 10× slower at conv2's size.
 */
function withLeadingAxesSum(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as SumAttrs;
    const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32') return stock.kernelFunc(args);
    const kept = x.shape.slice(axes.length);
    const out = wasmBackend(args.backend).makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    sumRows(
      wasmBackend(args.backend).typedArrayFromHeap(x),
      size(kept),
      wasmBackend(args.backend).typedArrayFromHeap(out),
    );
    return out;
  };
  return { ...stock, kernelFunc };
}

/** out[c] = Σ_r x[r·width + c], accumulated in float64. */
function sumRows(x: Float32Array, width: number, out: Float32Array): void {
  const acc = new Float64Array(width);
  for (let at = 0; at < x.length; at += width) {
    for (let c = 0; c < width; c++) acc[c] += x[at + c];
  }
  out.set(acc);
}

/**
 * relu's gradient for a convolution layer: dyA = dy where y > 0, else 0, written at the width the
 * filter gradient wants (attr `paddedWidth` ≥ y's width; zeros in the extra columns), so neither it
 * nor the input gradient copies dy again. Inputs dy and y (the layer's output).
 */
const reluGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, y } = inputs as { dy: TensorInfo; y: TensorInfo };
  const { paddedWidth } = attrs as unknown as { paddedWidth: number };
  const [batch, height, width, channels] = y.shape;
  const wasm = wasmBackend(backend);
  const dyA = wasm.makeOutput([batch, height, paddedWidth, channels], 'float32');
  if (ownKernels() && (width * channels) % 4 === 0) {
    trainKernels(heapMemory(backend)).reluGrad(
      heapOffset(wasm, dy),
      heapOffset(wasm, y),
      heapOffset(wasm, dyA),
      batch * height,
      width * channels,
      paddedWidth * channels,
    );
    return dyA;
  }
  // The mask on the bits: y > 0 exactly when its int32 bits are > 0 (+0 is 0, −0 and negatives are < 0).
  // A branch on y > 0 is mispredicted for about half of relu's outputs: 2.7× slower at conv2.
  const gBits = int32View(wasm.typedArrayFromHeap(dy));
  const yBits = int32View(wasm.typedArrayFromHeap(y));
  const outBits = int32View(wasm.typedArrayFromHeap(dyA));
  const row = width * channels;
  const paddedRow = paddedWidth * channels;
  const unrolled = row - (row % 4);
  for (let r = 0; r < batch * height; r++) {
    const from = r * row;
    const to = r * paddedRow;
    let k = 0;
    for (; k < unrolled; k += 4) {
      outBits[to + k] = gBits[from + k] & positiveMask(yBits[from + k]);
      outBits[to + k + 1] = gBits[from + k + 1] & positiveMask(yBits[from + k + 1]);
      outBits[to + k + 2] = gBits[from + k + 2] & positiveMask(yBits[from + k + 2]);
      outBits[to + k + 3] = gBits[from + k + 3] & positiveMask(yBits[from + k + 3]);
    }
    for (; k < row; k++) outBits[to + k] = gBits[from + k] & positiveMask(yBits[from + k]);
    outBits.fill(0, to + row, to + paddedRow);
  }
  return dyA;
};

function int32View(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

/** −1 (all bits) if the float32 with int32 bits `b` is > 0, else 0; no branch. */
function positiveMask(b: number): number {
  return ((0 - b) >> 31) & ~(b >> 31);
}

/** Kernel names of reluGrad and convFilterBiasGrad, for network.ts. */
export const RELU_GRAD = 'MnistEdgeReluGrad';
export const CONV_FILTER_BIAS_GRAD = 'MnistEdgeConvFilterBiasGrad';

/** relu(conv2d(x, filter) + bias): the stock FusedConv2D under its own name, so network.ts can give it a gradient. */
export const CONV_BIAS_RELU = 'MnistEdgeConvBiasRelu';
const convBiasRelu: KernelFunc = (args) =>
  runKernel('FusedConv2D', { ...args, attrs: { ...args.attrs, activation: 'relu' } });

/**
 * maxPool₂ₓ₂(relu(conv2d(x, filter) + bias)); with attr `training` (network.ts sets it while a
 * gradient is recorded) the relu output is kept for the fused gradient (takeReluOutput). With attr
 * `winograd`, a 3×3 valid convolution whose output splits into 4×4 blocks runs as Winograd
 * F(4×4, 3×3), while training with the exact rule for ties (winogradTrainingForward). MNIST_EDGE_TRAINING_FORWARD=xnnpack sends the training forward
 * pass to XNNPACK's convolution instead (to compare them).
 */
export const CONV_BIAS_RELU_POOL = 'MnistEdgeConvBiasReluPool';
const convBiasReluPool: KernelFunc = (args) => {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const [, height, width, channels] = x.shape;
  const [filterHeight, filterWidth, , outChannels] = filter.shape;
  const { winograd, training } = args.attrs as { winograd?: boolean; training?: boolean };
  let outputs: TensorInfo[] | undefined;
  if (winograd && filterHeight === 3 && filterWidth === 3 && winogradFits(height, width, channels, outChannels)) {
    if (!training) return [winogradForward(args)];
    if (process.env[TRAINING_FORWARD_ENV] !== 'xnnpack') outputs = winogradTrainingForward(args);
  }
  if (!outputs) {
    const y = convBiasRelu(args) as TensorInfo;
    const pooled = runKernel('MaxPool', {
      inputs: { x: y },
      attrs: { filterSize: 2, strides: 2, pad: 'valid', dilations: 1 },
      backend: args.backend,
    });
    outputs = [pooled, y];
  }
  const [pooled, y] = outputs;
  if (training) reluOutputs.set(pooled.dataId, y);
  else dispose(args.backend, y);
  return [pooled];
};

/**
 * The relu outputs convBiasReluPool keeps for its gradient (attr `training`), by the pooled output's
 * dataId: not a second output of the kernel, since tfjs's backward pass gives every output that
 * feeds nothing a gradient of zeros, made in JavaScript and copied into wasm memory (18.9 MB for
 * conv2's at a batch of 128: 37 ms a step). The gradient takes it back (takeReluOutput) and disposes
 * of it; the engine's saved copy of the pooled output shares its dataId (Identity shares memory).
 */
const reluOutputs = new Map<object, TensorInfo>();

/**
 * Disposes of relu outputs no gradient took (a backward pass that did not reach the kernel, or
 * failed); network.ts calls it after every step, so none outlives one.
 */
export function disposeUntakenReluOutputs(backend: KernelArgs['backend']): number {
  const count = reluOutputs.size;
  for (const y of reluOutputs.values()) dispose(backend, y);
  reluOutputs.clear();
  return count;
}

/** The relu output kept with `pooled` (convBiasReluPool's), handed over to the caller, who disposes of it. */
export function takeReluOutput(pooled: { dataId: object }): TensorInfo {
  const y = reluOutputs.get(pooled.dataId);
  if (!y) throw new Error(`${CONV_BIAS_RELU_POOL}: no relu output kept for this pooled output`);
  reluOutputs.delete(pooled.dataId);
  return y;
}

/** Images the input gradient's planes hold (and take per pass). */
const WINOGRAD_CHUNK = 4;

/** Images per chunk of the filter gradient (4–16 measured alike); the forward planes have the same room. */
const FILTER_GRADIENT_CHUNK = 8;

/** The Winograd path of convBiasReluPool: the pooled output (src/shared/kernels/tfjs-wasm.ts). */
function winogradForward({ inputs, backend }: KernelArgs): TensorInfo {
  const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias: TensorInfo };
  const [, height, width, channels] = x.shape;
  const outChannels = filter.shape[3];
  const [outHeight, outWidth] = [height - 2, width - 2];
  // The filter gradient's room: one module for both (the prebuilt CONV2 at the model's sizes).
  const g = { height, width, channels, outChannels, outHeight, outWidth, chunk: FILTER_GRADIENT_CHUNK };
  const kernels = winogradKernels(g, heapMemory(backend));
  return winogradConvBiasReluPool(backend, g, kernels, PRODUCTS, x, filter, bias);
}

/** Environment variable: `xnnpack` runs the training forward pass of conv2 through XNNPACK. */
export const TRAINING_FORWARD_ENV = 'MNIST_EDGE_TRAINING_FORWARD';

/**
 * The training forward pass of convBiasReluPool as Winograd: [pooled, relu output]. XNNPACK gives
 * positions with equal input patches exactly equal outputs (MNIST's background; at the first step,
 * with zero biases, every zero patch gives exactly 0), Winograd's rounding does not, and relu's and
 * the pool's gradients would then route through whichever of them rounding lifts by 1e-8 (the first
 * step's bias gradient was 47% off that way). So every position whose patch holds one vector u at
 * all nine positions is recomputed directly, relu(bias + u·S) with S the filter summed over its 3×3
 * taps (`constantPatches`): equal patches give equal values and zero patches exactly the bias, as
 * a direct convolution; the rest keeps Winograd's value (~1e-6 relative, no tie to decide).
 */
function winogradTrainingForward({ inputs, backend }: KernelArgs): TensorInfo[] {
  const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias: TensorInfo };
  const wasm = wasmBackend(backend);
  const [batch, height, width, channels] = x.shape;
  const outChannels = filter.shape[3];
  const [outHeight, outWidth] = [height - 2, width - 2];
  const g = { height, width, channels, outChannels, outHeight, outWidth, chunk: FILTER_GRADIENT_CHUNK };
  const kernels = winogradKernels(g, heapMemory(backend));
  const y = wasm.makeOutput([batch, outHeight, outWidth, outChannels], 'float32');
  const u = transformedFilter(backend, filter);
  const s = wasm.makeOutput([channels, outChannels], 'float32');
  sumTaps(wasm.typedArrayFromHeap(filter), channels * outChannels, wasm.typedArrayFromHeap(s));
  const imageBytes = (h: number, w: number, c: number) => h * w * c * 4;
  winogradProducts(
    backend,
    g,
    kernels,
    PRODUCTS,
    batch,
    FORWARD_PASS_IMAGES,
    u,
    (n0, count, v) => kernels.inputTiles(heapOffset(wasm, x) + n0 * imageBytes(height, width, channels), v, count),
    (n0, count, m) =>
      kernels.outputBias(
        m,
        heapOffset(wasm, bias),
        heapOffset(wasm, y) + n0 * imageBytes(outHeight, outWidth, outChannels),
        count,
      ),
  );
  const mask = wasm.makeOutput([batch * outHeight * outWidth], 'int32');
  const xMax = kernels.constantPatches(
    heapOffset(wasm, x),
    heapOffset(wasm, s),
    heapOffset(wasm, bias),
    heapOffset(wasm, y),
    batch,
    heapOffset(wasm, mask),
  );
  const groups = outChannels / 4;
  const list = wasm.makeOutput([(batch * outHeight * outWidth * groups) / 4], 'int32');
  const eps = NEAR_TIE_SCALE * xMax * largestColumnSum(wasm.typedArrayFromHeap(filter), outChannels);
  const near = kernels.nearTies(heapOffset(wasm, y), batch, eps, heapOffset(wasm, list), heapOffset(wasm, mask));
  if (near > 0) {
    const windows = new Int32Array(wasm.typedArrayFromHeap(list).buffer, heapOffset(wasm, list), near);
    nearTieCount += directWindows(
      wasm.typedArrayFromHeap(x),
      wasm.typedArrayFromHeap(filter),
      wasm.typedArrayFromHeap(bias),
      wasm.typedArrayFromHeap(y),
      x.shape,
      outChannels,
      windows,
      eps,
    );
  }
  dispose(backend, u, s, list, mask);
  const pooled = runKernel('MaxPool', {
    inputs: { x: y },
    attrs: { filterSize: 2, strides: 2, pad: 'valid', dilations: 1 },
    backend,
  });
  return [pooled, y];
}

/**
 * Decisions closer than NEAR_TIE_SCALE · max|x| · max_o Σ|filter[·, ·, ·, o]| are retaken on float64
 * values: Winograd F(4×4, 3×3)'s error stays below ~1e-6 of that bound (the tests measure its error
 * against float64 at < 1e-5 of the largest output), so beyond it rounding cannot reverse a decision.
 */
const NEAR_TIE_SCALE = 1e-6;

/** Positions (of one channel) retaken on float64 values since the process started (for the benches). */
export let nearTieCount = 0;

/** max over o of Σ_{tap, c} |filter[tap, c, o]|. */
function largestColumnSum(filter: Float32Array, outChannels: number): number {
  const sums = new Float64Array(outChannels);
  for (let i = 0; i < filter.length; i++) sums[i % outChannels] += Math.abs(filter[i]);
  return Math.max(...sums);
}

/**
 * The listed windows (index window·O/4 + group of four channels, nearTies', left before relu),
 * decided exactly: in each channel, the positions within eps of the window's maximum are the only
 * ones that can be the first maximum or decide relu (the others are further below it than
 * Winograd's error); they are recomputed as a float64 direct convolution, rounded once, unless
 * only one of them is there and the maximum is not within eps of 0. Then relu, written into y.
 */
function directWindows(
  x: Float32Array,
  filter: Float32Array,
  bias: Float32Array,
  y: Float32Array,
  [, height, width, channels]: number[],
  outChannels: number,
  windows: Int32Array,
  eps: number,
): number {
  const [outHeight, outWidth] = [height - 2, width - 2];
  const groups = outChannels / 4;
  const [pooledHeight, pooledWidth] = [outHeight / 2, outWidth / 2];
  const at = [0, 0, 0, 0];
  let recomputed = 0;
  for (const index of windows) {
    const group = index % groups;
    const window = (index - group) / groups;
    const pc = window % pooledWidth;
    const pr = ((window - pc) / pooledWidth) % pooledHeight;
    const n = Math.floor(window / (pooledWidth * pooledHeight));
    for (let k = 0; k < 4; k++) {
      at[k] = ((n * outHeight + 2 * pr + (k >> 1)) * outWidth + 2 * pc + (k & 1)) * outChannels + group * 4;
    }
    for (let o = group * 4; o < group * 4 + 4; o++) {
      const d = o - group * 4;
      const m = Math.max(y[at[0] + d], y[at[1] + d], y[at[2] + d], y[at[3] + d]);
      let near = 0;
      for (let k = 0; k < 4; k++) if (y[at[k] + d] >= m - eps) near++;
      if (near > 1 || Math.abs(m) < eps) {
        for (let k = 0; k < 4; k++) {
          if (y[at[k] + d] < m - eps) continue;
          const r = 2 * pr + (k >> 1);
          const q = 2 * pc + (k & 1);
          let v = 0;
          for (let i = 0; i < 3; i++) {
            for (let j = 0; j < 3; j++) {
              const from = ((n * height + r + i) * width + q + j) * channels;
              const tap = (i * 3 + j) * channels * outChannels + o;
              for (let c = 0; c < channels; c++) v += x[from + c] * filter[tap + c * outChannels];
            }
          }
          y[at[k] + d] = Math.fround(v + bias[o]);
          recomputed++;
        }
      }
      for (let k = 0; k < 4; k++) y[at[k] + d] = Math.max(0, y[at[k] + d]);
    }
  }
  return recomputed;
}

/** S[c, o] = Σ over the taps of filter[tap, c, o] (`pairs` = C·O floats a tap), summed in float64. */
function sumTaps(filter: Float32Array, pairs: number, out: Float32Array): void {
  const taps = filter.length / pairs;
  for (let p = 0; p < pairs; p++) {
    let v = 0;
    for (let t = 0; t < taps; t++) v += filter[t * pairs + p];
    out[p] = v;
  }
}

/**
 * The Winograd path of convFilterBiasGrad (3×3 filters). With the forward pass written
 * Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, the gradient of its filter is dW = Gᵀ[(A dY Aᵀ) ⊙ (Bᵀ d B)]G summed
 * over tiles: the same input tiles as the forward pass, and each 4×4 block of dy turned into 6×6.
 * So the sum over tiles is 36 products [O × tiles]·[tiles × C], a chunk of images at a time, added
 * up across chunks (float32, in wasm); then Gᵀ P G per channel pair. The bias gradient Σ dy comes
 * from the same pass over dy.
 */
function winogradFilterBiasGrad(
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: number[],
  backend: KernelArgs['backend'],
): TensorInfo[] {
  const wasm = wasmBackend(backend);
  const [batch, height, width, channels] = x.shape;
  const outChannels = filterShape[3];
  const chunk = FILTER_GRADIENT_CHUNK;
  const g = { height, width, channels, outChannels, outHeight: height - 2, outWidth: width - 2, chunk };
  const kernels = winogradKernels(g, heapMemory(backend));
  const perImage = tilesPerImage(g);
  const rows = chunk * perImage;
  const pairs = channels * outChannels;
  const v = wasm.makeOutput([planesFloats(g, channels)], 'float32');
  // dy's planes as gradientBlocks lays them out for a whole chunk (planeStride: fewer images, closer).
  const dyt = wasm.makeOutput([(PLANES * planeStride(outChannels * rows)) / 4], 'float32');
  const sums = wasm.makeOutput([PLANES * pairs], 'float32');
  const dBias = wasm.makeOutput([outChannels], 'float32');
  wasm.typedArrayFromHeap(sums).fill(0);
  wasm.typedArrayFromHeap(dBias).fill(0);
  const products =
    PRODUCTS === 'xnnpack' || channels % GEMM_COLUMNS !== 0 ? wasm.makeOutput([PLANES * pairs], 'float32') : undefined;
  const productViews = products
    ? Array.from({ length: PLANES }, (_, p) => viewOf(products, p * pairs, [outChannels, channels], backend))
    : [];
  const batchMatMul = backendBatchMatMul(wasm);
  const id = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId).id;
  for (let n0 = 0; n0 < batch; n0 += chunk) {
    const count = Math.min(chunk, batch - n0);
    const k = count * perImage;
    kernels.inputTiles(heapOffset(wasm, x) + n0 * height * width * channels * 4, heapOffset(wasm, v), count);
    kernels.gradientBlocks(
      heapOffset(wasm, dy) + n0 * (height - 2) * width * outChannels * 4,
      heapOffset(wasm, dyt),
      heapOffset(wasm, dBias),
      count,
    );
    if (!products) {
      // Σ over chunks in the GEMM's accumulators: sums += dyt_p [O × k] · v_p [k × C], every plane.
      kernels.gemm(
        heapOffset(wasm, dyt),
        heapOffset(wasm, v),
        heapOffset(wasm, sums),
        outChannels,
        k,
        channels,
        planeStride(outChannels * k),
        planeBytes(g, channels),
        pairs * 4,
        PLANES,
        1,
      );
      continue;
    }
    const aShape = int32Bytes([1, outChannels, k]);
    const bShape = int32Bytes([1, k, channels]);
    for (let p = 0; p < PLANES; p++) {
      const a = viewOf(dyt, (p * planeStride(outChannels * k)) / 4, [outChannels, k], backend);
      // A fresh id per chunk: the matmul caches its packed right operand by tensor id.
      const b = viewOf(v, (p * planeBytes(g, channels)) / 4, [k, channels], backend);
      batchMatMul(id(a), aShape, 3, id(b), bShape, 3, 0, 0, id(productViews[p]));
      releaseView(a, backend);
      releaseView(b, backend);
    }
    kernels.accumulate(heapOffset(wasm, products), heapOffset(wasm, sums), PLANES * pairs);
  }
  for (const view of productViews) releaseView(view, backend);
  const dW = wasm.makeOutput(filterShape, 'float32');
  filterFromProducts(wasm.typedArrayFromHeap(sums), channels, outChannels, wasm.typedArrayFromHeap(dW));
  dispose(backend, v, dyt, sums, ...(products ? [products] : []));
  return [dW, dBias];
}

/**
 * The model's input gradient of a valid convolution, from dyA as relu's gradient writes it (at x's
 * width, zero columns on the right): dx = dyA, padded, correlated with the filter turned 180° and
 * its channel axes swapped. A 3×3 filter runs as Winograd F(4×4, 3×3): dyA is copied a chunk at a
 * time into a buffer with 2 zero rows and columns in front and enough behind for whole 4×4 blocks,
 * and the blocks past x's size are left out. Unlike the forward pass, no relu or pool decides
 * anything on these values afterwards, so Winograd's rounding (~1e-6 relative) stays that small.
 * Other filters go through Conv2DBackpropInput. Attr: `inputShape` (x's).
 */
export const CONV_INPUT_GRAD = 'MnistEdgeConvInputGrad';
const convInputGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { inputShape } = attrs as unknown as { inputShape: number[] };
  const [batch, height, width, channels] = inputShape;
  const [filterHeight, filterWidth, , outChannels] = filter.shape;
  const [, dyHeight, dyWidth] = dy.shape;
  if (dyWidth !== width || dyHeight !== height - filterHeight + 1) {
    throw new Error(`${CONV_INPUT_GRAD}: dy ${dy.shape} is not x ${inputShape}'s valid output at x's width`);
  }
  if (filterHeight !== 3 || filterWidth !== 3 || channels % 4 !== 0 || outChannels % 4 !== 0) {
    const pad: backend_util.ExplicitPadding = [
      [0, 0],
      [0, 0],
      [0, dyWidth - (width - filterWidth + 1)],
      [0, 0],
    ];
    return conv2DBackpropInput({
      inputs: { dy, filter },
      backend,
      attrs: { strides: 1, pad, dataFormat: 'NHWC', dilations: 1, inputShape } as unknown as NamedAttrMap,
    });
  }
  const wasm = wasmBackend(backend);
  const paddedHeight = Math.ceil(height / BLOCK) * BLOCK + 2;
  const paddedWidth = Math.ceil(width / BLOCK) * BLOCK + 2;
  const g = {
    height: paddedHeight,
    width: paddedWidth,
    channels: outChannels,
    outChannels: channels,
    outHeight: height,
    outWidth: width,
    chunk: WINOGRAD_CHUNK,
  };
  const kernels = winogradKernels(g, heapMemory(backend));
  const u = wasm.makeOutput([PLANES, outChannels, channels], 'float32');
  const padded = wasm.makeOutput([g.chunk, paddedHeight, paddedWidth, outChannels], 'float32');
  const dx = wasm.makeOutput(inputShape, 'float32');
  transformFilter(wasm.typedArrayFromHeap(filter), channels, outChannels, wasm.typedArrayFromHeap(u), true);
  wasm.typedArrayFromHeap(padded).fill(0);
  const row = dyWidth * outChannels;
  winogradProducts(
    backend,
    g,
    kernels,
    PRODUCTS,
    batch,
    WINOGRAD_CHUNK,
    u,
    (n0, count, v) => {
      const to = wasm.typedArrayFromHeap(padded);
      const from = wasm.typedArrayFromHeap(dy);
      for (let e = 0; e < count; e++) {
        for (let r = 0; r < dyHeight; r++) {
          const at = ((n0 + e) * dyHeight + r) * row;
          to.set(from.subarray(at, at + row), ((e * paddedHeight + r + 2) * paddedWidth + 2) * outChannels);
        }
      }
      kernels.inputTiles(heapOffset(wasm, padded), v, count);
    },
    (n0, count, m) => kernels.outputCropped(m, heapOffset(wasm, dx) + n0 * height * width * channels * 4, count),
  );
  dispose(backend, u, padded);
  return dx;
};

/**
 * The gradient of maxPool₂ₓ₂(y) followed by relu's (y = relu(·)), written at `paddedWidth` ≥ y's
 * width as reluGrad writes it: each window's pooled gradient goes to its first maximum if that
 * maximum is > 0, zeros elsewhere. One pass over y instead of MaxPoolGrad's and then reluGrad's.
 */
export const MAX_POOL_RELU_GRAD = 'MnistEdgeMaxPoolReluGrad';
const maxPoolReluGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, y } = inputs as { dy: TensorInfo; y: TensorInfo };
  const { paddedWidth } = attrs as unknown as { paddedWidth: number };
  const wasm = wasmBackend(backend);
  const [batch, height, width, channels] = y.shape;
  const [, outHeight, outWidth] = dy.shape;
  const out = wasm.makeOutput([batch, height, paddedWidth, channels], 'float32');
  if (ownKernels() && channels % 4 === 0 && height === outHeight * 2 && width === outWidth * 2) {
    trainKernels(heapMemory(backend)).maxPoolReluGrad(
      heapOffset(wasm, dy),
      heapOffset(wasm, y),
      heapOffset(wasm, out),
      batch,
      height,
      width,
      channels,
      paddedWidth,
    );
    return out;
  }
  const dx = wasm.typedArrayFromHeap(out);
  const x = wasm.typedArrayFromHeap(y);
  const gBits = int32View(wasm.typedArrayFromHeap(dy));
  const dxBits = int32View(dx);
  const rowStride = width * channels;
  const outRow = paddedWidth * channels;
  // Columns right of the last window, and rows below it, get no gradient.
  for (let r = 0; r < batch * height; r++) {
    const inWindows = r % height < outHeight * 2;
    dx.fill(0, r * outRow + (inWindows ? outWidth * 2 * channels : 0), (r + 1) * outRow);
  }
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const row = (n * height + oh * 2) * rowStride;
      const outAt = (n * height + oh * 2) * outRow;
      const gRow = (n * outHeight + oh) * outWidth * channels;
      for (let ow = 0; ow < outWidth; ow++) {
        const p0 = row + ow * 2 * channels;
        const q0 = outAt + ow * 2 * channels;
        const q = gRow + ow * channels;
        for (let c = 0; c < channels; c++) {
          const a = x[p0 + c];
          const b = x[p0 + channels + c];
          const d = x[p0 + rowStride + c];
          const e = x[p0 + rowStride + channels + c];
          // First maximum in the order a, b, d, e (as maxPoolGrad2x2), and relu's gradient: only if > 0.
          const ta = +(a >= b) & +(a >= d) & +(a >= e);
          const tb = +(b > a) & +(b >= d) & +(b >= e);
          const td = +(d > a) & +(d > b) & +(d >= e);
          const te = (ta | tb | td) ^ 1;
          const positive = +(a > 0) | +(b > 0) | +(d > 0) | +(e > 0);
          const bits = gBits[q + c] & -positive;
          dxBits[q0 + c] = bits & -ta;
          dxBits[q0 + channels + c] = bits & -tb;
          dxBits[q0 + outRow + c] = bits & -td;
          dxBits[q0 + outRow + channels + c] = bits & -te;
        }
      }
    }
  }
  return out;
};

/**
 * MaxPoolGrad for non-overlapping windows (stride = window, valid padding, NHWC): each window's
 * gradient goes to its first maximum, as TensorFlow does, in one pass over wasm memory. The stock
 * kernel is generic and 6× slower at the model's 2×2 pool.
 */
function withTiledMaxPoolGrad(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const { filterSize, strides, pad } = args.attrs as unknown as MaxPoolGradAttrs;
    const [fh, fw] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    if (fh !== sh || fw !== sw || pad !== 'valid' || input.dtype !== 'float32') return stock.kernelFunc(args);
    const backend = wasmBackend(args.backend);
    const [batch, height, width, channels] = input.shape;
    const [, outHeight, outWidth] = dy.shape;
    const out = backend.makeOutput(input.shape, 'float32');
    // Views after the allocation: growing wasm memory detaches older ones.
    const dx = backend.typedArrayFromHeap(out);
    const x = backend.typedArrayFromHeap(input);
    const g = backend.typedArrayFromHeap(dy);
    if (outHeight * fh !== height || outWidth * fw !== width) dx.fill(0);
    const pool = fh === 2 && fw === 2 ? maxPoolGrad2x2 : maxPoolGradTiled;
    pool(x, g, dx, [batch, height, width, channels], [outHeight, outWidth], [fh, fw]);
    return out;
  };
  return { ...stock, kernelFunc };
}

type PoolGrad = (
  x: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  [batch, height, width, channels]: number[],
  [outHeight, outWidth]: number[],
  [fh, fw]: number[],
) => void;

const maxPoolGradTiled: PoolGrad = (x, g, dx, [batch, height, width, channels], [outHeight, outWidth], [fh, fw]) => {
  const rowStride = width * channels;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const corner = ((n * height + oh * fh) * width + ow * fw) * channels;
        const gBase = ((n * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          let best = corner + c;
          let max = x[best];
          for (let i = 0; i < fh; i++) {
            for (let j = 0; j < fw; j++) {
              const at = corner + i * rowStride + j * channels + c;
              dx[at] = 0;
              if (x[at] > max) {
                max = x[at];
                best = at;
              }
            }
          }
          dx[best] = g[gBase + c];
        }
      }
    }
  }
};

/**
 * The 2×2 case without branches: which of the four holds the first maximum, as 0/1 integers, then
 * the gradient's bits masked into each. Relu's zeros make ties common and a branch on them
 * unpredictable: 3× faster than the tiled loop at the model's pool.
 */
const maxPoolGrad2x2: PoolGrad = (x, g, dx, [batch, height, width, channels], [outHeight, outWidth]) => {
  const gBits = int32View(g);
  const dxBits = int32View(dx);
  const rowStride = width * channels;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const row = (n * height + oh * 2) * rowStride;
      const gRow = (n * outHeight + oh) * outWidth * channels;
      for (let ow = 0; ow < outWidth; ow++) {
        const p0 = row + ow * 2 * channels;
        const p1 = p0 + channels;
        const p2 = p0 + rowStride;
        const p3 = p2 + channels;
        const q = gRow + ow * channels;
        for (let c = 0; c < channels; c++) {
          const a = x[p0 + c];
          const b = x[p1 + c];
          const d = x[p2 + c];
          const e = x[p3 + c];
          // First maximum in the order a, b, d, e: ≥ against later ones, > against earlier ones.
          const ta = +(a >= b) & +(a >= d) & +(a >= e);
          const tb = +(b > a) & +(b >= d) & +(b >= e);
          const td = +(d > a) & +(d > b) & +(d >= e);
          const te = (ta | tb | td) ^ 1;
          const bits = gBits[q + c];
          dxBits[p0 + c] = bits & -ta;
          dxBits[p1 + c] = bits & -tb;
          dxBits[p2 + c] = bits & -td;
          dxBits[p3 + c] = bits & -te;
        }
      }
    }
  }
};

/**
 * Identity shares the input's memory (one more reference), as Reshape already does: tfjs tensors are
 * immutable, and the engine clones every tensor a gradient saves, so the stock copy cost ~45 ms a step.
 */
function withSharedIdentity(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return stock.kernelFunc(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { ...stock, kernelFunc };
}

/**
 * Keras's inverted dropout mask, [n, …] with `perExample` units an example, drawn in the trainer's
 * module straight into wasm memory (dropoutMask there: the same stream as network.ts's JavaScript
 * loop, four units at a time): unit i of example e is `keep` where Mulberry32 seeded with
 * seeds[e] draws u ≥ threshold (an integer, ⌈rate·2³²⌉), else 0. Undefined when the units of an
 * example are not a multiple of 4 or the module is off (network.ts then draws them in JavaScript).
 */
export function dropoutMaskInfo(
  backend: KernelArgs['backend'],
  shape: number[],
  seeds: Int32Array,
  threshold: number,
  keep: number,
): TensorInfo | undefined {
  const perExample = size(shape) / shape[0];
  if (!ownKernels() || perExample % 4 !== 0) return undefined;
  const wasm = wasmBackend(backend);
  const out = wasm.makeOutput(shape, 'float32');
  const seedBuffer = wasm.makeOutput([seeds.length], 'int32');
  new Int32Array(wasm.typedArrayFromHeap(seedBuffer).buffer, heapOffset(wasm, seedBuffer), seeds.length).set(seeds);
  trainKernels(heapMemory(backend)).dropoutMask(
    heapOffset(wasm, out),
    heapOffset(wasm, seedBuffer),
    shape[0],
    perExample,
    threshold | 0,
    keep,
  );
  dispose(backend, seedBuffer);
  return out;
}

/** Replaces a stock wasm kernel by a wrapper around it (keeping its setup function). */
function wrapStock(name: string, wrap: (stock: KernelConfig) => KernelConfig): void {
  const stock = getKernel(name, BACKEND);
  unregisterKernel(name, BACKEND);
  registerKernel(wrap(stock));
}

let registered = false;

/**
 * Registers the training kernels for the wasm backend. Call before `tf.setBackend('wasm')` so
 * that the wrapped stock kernels still get their setup when the backend initializes.
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: BACKEND, kernelFunc: conv2DBackpropFilter });
  unregisterKernel('Conv2DBackpropInput', BACKEND);
  registerKernel({ kernelName: 'Conv2DBackpropInput', backendName: BACKEND, kernelFunc: conv2DBackpropInput });
  wrapStock('BatchMatMul', withExplicitTransposes);
  wrapStock('_FusedMatMul', withOwnFusedMatMul);
  wrapStock('Sum', withLeadingAxesSum);
  registerKernel({ kernelName: RELU_GRAD, backendName: BACKEND, kernelFunc: reluGrad });
  registerKernel({ kernelName: CONV_FILTER_BIAS_GRAD, backendName: BACKEND, kernelFunc: convFilterBiasGrad });
  registerKernel({ kernelName: CONV_BIAS_RELU, backendName: BACKEND, kernelFunc: convBiasRelu });
  registerKernel({ kernelName: CONV_BIAS_RELU_POOL, backendName: BACKEND, kernelFunc: convBiasReluPool });
  registerKernel({ kernelName: MAX_POOL_RELU_GRAD, backendName: BACKEND, kernelFunc: maxPoolReluGrad });
  registerKernel({ kernelName: CONV_INPUT_GRAD, backendName: BACKEND, kernelFunc: convInputGrad });
  wrapStock('MaxPoolGrad', withTiledMaxPoolGrad);
  wrapStock('Identity', withSharedIdentity);
}
