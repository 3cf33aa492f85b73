// Training kernels the wasm backend lacks or runs slowly (tfjs-backend-wasm 4.22).
//
// Both convolution gradients are rewritten as forward convolutions, which the backend hands to
// XNNPACK. They call the backend's own registered kernels, so nothing leaves wasm memory.
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type BatchMatMulAttrs,
} from '@tensorflow/tfjs-core';

const BACKEND = 'wasm';

/** The part of the wasm backend these kernels use; avoids a type dependency on its internals. */
interface KernelBackendLike {
  disposeData(dataId: object): unknown;
}

type KernelArgs = Parameters<KernelFunc>[0];

function runKernel(name: string, args: KernelArgs): TensorInfo {
  const config = getKernel(name, BACKEND);
  if (config == null) throw new Error(`The ${BACKEND} backend has no ${name} kernel`);
  return config.kernelFunc(args) as TensorInfo;
}

function transpose(x: TensorInfo, perm: number[], backend: KernelArgs['backend']): TensorInfo {
  return runKernel('Transpose', { inputs: { x }, attrs: { perm }, backend });
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
  const [strideHeight, strideWidth] = typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : attrs.strides;
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
  return [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]];
}

/**
 * dW[i,j,c,o] = Σ_{n,h,w} x[n, h+i-top, w+j-left, c] · dy[n,h,w,o]: a forward convolution of x
 * seen as [C,H,W,N] (channels become the batch) with dy seen as a [outH,outW,N,O] filter.
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { filterShape, ...conv } = attrs as unknown as Conv2DBackpropFilterAttrs;
  const { pad } = forwardGeometry('Conv2DBackpropFilter', x.shape, filterShape, conv);
  const [filterHeight, filterWidth] = filterShape;
  const [, inHeight, inWidth] = x.shape;
  const [, outHeight, outWidth] = dy.shape;
  const xT = transpose(x, [3, 1, 2, 0], backend);
  const dyT = transpose(dy, [1, 2, 0, 3], backend);
  // Bottom/right padding that makes the result exactly filterHeight × filterWidth.
  const padding: Padding = {
    top: pad.top,
    left: pad.left,
    bottom: filterHeight + outHeight - 1 - inHeight - pad.top,
    right: filterWidth + outWidth - 1 - inWidth - pad.left,
  };
  const grad = runKernel('Conv2D', {
    inputs: { x: xT, filter: dyT },
    attrs: { strides: 1, dilations: 1, pad: explicitPadding(padding), dataFormat: 'NHWC' },
    backend,
  });
  const dW = transpose(grad, [1, 2, 0, 3], backend);
  dispose(backend, xT, dyT, grad);
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

let registered = false;

/**
 * Registers the training kernels for the wasm backend. Call before `tf.setBackend('wasm')` so
 * that the wrapped BatchMatMul still gets its setup when the backend initialises.
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: BACKEND, kernelFunc: conv2DBackpropFilter });
  unregisterKernel('Conv2DBackpropInput', BACKEND);
  registerKernel({ kernelName: 'Conv2DBackpropInput', backendName: BACKEND, kernelFunc: conv2DBackpropInput });
  const stockMatMul = getKernel('BatchMatMul', BACKEND);
  unregisterKernel('BatchMatMul', BACKEND);
  registerKernel(withExplicitTransposes(stockMatMul));
}
