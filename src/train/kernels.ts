// Training kernels the wasm backend lacks or runs slowly (tfjs-backend-wasm 4.22).
//
// Both convolution gradients are rewritten as forward convolutions, which the backend hands to
// XNNPACK. They call the backend's own registered kernels, so nothing leaves wasm memory.
import {
  type BatchMatMulAttrs,
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  registerKernel,
  type SumAttrs,
  type TensorInfo,
  unregisterKernel,
  util,
} from '@tensorflow/tfjs-core';

const BACKEND = 'wasm';

/** The part of the wasm backend these kernels use; avoids a type dependency on its internals. */
interface KernelBackendLike {
  disposeData(dataId: object): unknown;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

function wasmBackend(backend: KernelArgs['backend']): KernelBackendLike {
  return backend as unknown as KernelBackendLike;
}

type KernelArgs = Parameters<KernelFunc>[0];

function runKernel(name: string, args: KernelArgs): TensorInfo {
  const config = getKernel(name, BACKEND);
  if (config == null) throw new Error(`The ${BACKEND} backend has no ${name} kernel`);
  return config.kernelFunc(args) as TensorInfo;
}

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

function dispose(backend: KernelArgs['backend'], ...tensors: TensorInfo[]): void {
  for (const t of tensors) (backend as unknown as KernelBackendLike).disposeData(t.dataId);
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
 * dW[i,j,c,o] = Σ_{n,h,w} x[n, h+i-top, w+j-left, c] · dy[n,h,w,o] as matrix products: for a chunk
 * of images, the patches of x laid out as rows (i,j,c) × columns (n,h,w), times dy's rows (n,h,w) ×
 * o, summed over chunks. Chunks of ~2.4 MB of patches keep both operands in cache; one product over the
 * whole batch, or XNNPACK's convolution with dy as a 24×24 filter, streams megabytes per output row.
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { filterShape, ...conv } = attrs as unknown as Conv2DBackpropFilterAttrs;
  const { pad } = forwardGeometry('Conv2DBackpropFilter', x.shape, filterShape, conv);
  const [filterHeight, filterWidth, channels, outChannels] = filterShape;
  const [batch, inHeight, inWidth] = x.shape;
  const [, outHeight, outWidth] = dy.shape;
  const wasm = wasmBackend(backend);
  const rows = filterHeight * filterWidth * channels;
  const positions = outHeight * outWidth;
  // ~2.4 MB of patches per chunk: 2k positions at conv2 (288 rows), the whole batch at conv1 (9 rows).
  const chunk = Math.max(1, Math.floor(Math.max(2048, 600_000 / rows) / positions));
  const sum = new Float64Array(rows * outChannels);
  for (let n0 = 0; n0 < batch; n0 += chunk) {
    const n1 = Math.min(batch, n0 + chunk);
    const m = (n1 - n0) * positions;
    const patches = wasm.makeOutput([rows, m], 'float32');
    const grads = wasm.makeOutput([m, outChannels], 'float32');
    const dyValues = wasm.typedArrayFromHeap(dy);
    wasm.typedArrayFromHeap(grads).set(dyValues.subarray(n0 * positions * outChannels, n1 * positions * outChannels));
    const p = wasm.typedArrayFromHeap(patches);
    const xv = wasm.typedArrayFromHeap(x);
    for (let n = n0; n < n1; n++) {
      for (let h = 0; h < outHeight; h++) {
        const column = ((n - n0) * outHeight + h) * outWidth;
        for (let i = 0; i < filterHeight; i++) {
          const ih = h + i - pad.top;
          const inside = ih >= 0 && ih < inHeight;
          const xRow = (n * inHeight + ih) * inWidth;
          for (let j = 0; j < filterWidth; j++) {
            // Output columns [lo, hi) read inside x; the padding around them reads zeros.
            const lo = inside ? Math.max(0, pad.left - j) : outWidth;
            const hi = inside ? Math.min(outWidth, inWidth + pad.left - j) : outWidth;
            for (let c = 0; c < channels; c++) {
              const at = ((i * filterWidth + j) * channels + c) * m + column;
              p.fill(0, at, at + lo);
              let src = (xRow + lo + j - pad.left) * channels + c;
              for (let w = lo; w < hi; w++, src += channels) p[at + w] = xv[src];
              p.fill(0, at + Math.max(lo, hi), at + outWidth);
            }
          }
        }
      }
    }
    // A fresh `grads` tensor each chunk: the stock matmul caches packed weights by tensor id.
    const product = runKernel('BatchMatMul', {
      inputs: { a: patches, b: grads },
      attrs: { transposeA: false, transposeB: false },
      backend,
    });
    const values = wasm.typedArrayFromHeap(product);
    for (let k = 0; k < sum.length; k++) sum[k] += values[k];
    dispose(backend, patches, grads, product);
  }
  const dW = wasm.makeOutput(filterShape, 'float32');
  wasm.typedArrayFromHeap(dW).set(sum);
  return dW;
};

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

/** Wraps the stock BatchMatMul so that transposed operands are materialised first (10–30× faster). */
function withExplicitTransposes(stock: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    if (!transposeA && !transposeB) return stock.kernelFunc(args);
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

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

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
 * The backward pass of relu(conv + bias) up to the convolution: dyA = dy where y > 0, else 0, and
 * the bias gradient Σ dyA over all but the channel axis, in one pass instead of Step, Cast,
 * Multiply and a transposing Sum. Inputs dy and y (the layer's output); outputs [dyA, dBias].
 */
const reluBiasGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, y } = inputs as { dy: TensorInfo; y: TensorInfo };
  const wasm = wasmBackend(backend);
  const channels = y.shape.at(-1)!;
  const dyA = wasm.makeOutput(y.shape, 'float32');
  const dBias = wasm.makeOutput([channels], 'float32');
  const out = wasm.typedArrayFromHeap(dyA);
  const g = wasm.typedArrayFromHeap(dy);
  const act = wasm.typedArrayFromHeap(y);
  const acc = new Float64Array(channels);
  for (let at = 0; at < act.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      const v = act[at + c] > 0 ? g[at + c] : 0;
      out[at + c] = v;
      acc[c] += v;
    }
  }
  wasm.typedArrayFromHeap(dBias).set(acc);
  return [dyA, dBias];
};

/** Kernel name of reluBiasGrad, for network.ts. */
export const RELU_BIAS_GRAD = 'MnistEdgeReluBiasGrad';

/** relu(conv2d(x, filter) + bias): the stock FusedConv2D under its own name, so network.ts can give it a gradient. */
export const CONV_BIAS_RELU = 'MnistEdgeConvBiasRelu';
const convBiasRelu: KernelFunc = (args) =>
  runKernel('FusedConv2D', { ...args, attrs: { ...args.attrs, activation: 'relu' } });

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
    return out;
  };
  return { ...stock, kernelFunc };
}

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
  wrapStock('Sum', withLeadingAxesSum);
  registerKernel({ kernelName: RELU_BIAS_GRAD, backendName: BACKEND, kernelFunc: reluBiasGrad });
  registerKernel({ kernelName: CONV_BIAS_RELU, backendName: BACKEND, kernelFunc: convBiasRelu });
  wrapStock('MaxPoolGrad', withTiledMaxPoolGrad);
  wrapStock('Identity', withSharedIdentity);
}
