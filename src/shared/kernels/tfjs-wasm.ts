// Winograd's products and the forward layer on the tfjs wasm backend's heap, shared by the trainer
// (src/train/kernels/kernels.ts) and the Worker (src/worker/inference/): tensors are the backend's
// own, the kernel module works on them in place, nothing is copied out of wasm memory.
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  multiplyTiles,
  PLANES,
  planeBytes,
  planesFloats,
  tilesPerImage,
  transformFilter,
  type WinogradGeometry,
  type WinogradKernels,
} from './winograd.ts';
import { GEMM_COLUMNS } from './winograd-wat.ts';

export type KernelArgs = Parameters<KernelFunc>[0];
export type Backend = KernelArgs['backend'];

/** The part of the wasm backend these kernels use; avoids a type dependency on its internals. */
export interface KernelBackendLike {
  disposeData(dataId: object): unknown;
  makeOutput(shape: number[], dtype: string, memoryOffset?: number): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number }; delete(dataId: object): unknown };
  wasm: {
    tfjs: { disposeData(id: number): void };
    asm: { memory: WebAssembly.Memory };
    cwrap(name: string, returnType: null, argTypes: string[]): (...args: unknown[]) => void;
  };
}

export function wasmBackend(backend: Backend): KernelBackendLike {
  return backend as unknown as KernelBackendLike;
}

/** The wasm backend's heap, which the kernel modules import as their memory. */
export const heapMemory = (backend: Backend): WebAssembly.Memory => wasmBackend(backend).wasm.asm.memory;

export function dispose(backend: Backend, ...tensors: TensorInfo[]): void {
  for (const t of tensors) wasmBackend(backend).disposeData(t.dataId);
}

/**
 * A float32 tensor over `shape`'s elements of `base`'s memory from element `offset` on: no copy.
 * Release it with `releaseView`, never `dispose`, which would free memory the view does not own.
 */
export function viewOf(base: TensorInfo, offset: number, shape: number[], backend: Backend): TensorInfo {
  const wasm = wasmBackend(backend);
  return wasm.makeOutput(shape, 'float32', wasm.dataIdMap.get(base.dataId).memoryOffset + offset * 4);
}

export function releaseView(view: TensorInfo, backend: Backend): void {
  const wasm = wasmBackend(backend);
  wasm.wasm.tfjs.disposeData(wasm.dataIdMap.get(view.dataId).id);
  wasm.dataIdMap.delete(view.dataId);
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(wasm: KernelBackendLike, t: TensorInfo): number {
  return wasm.dataIdMap.get(t.dataId).memoryOffset;
}

export function int32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

/** The backend's BatchMatMul entry point: (aId, aShape, aRank, bId, bShape, bRank, transposeA, transposeB, outId). */
const batchMatMuls = new WeakMap<object, (...args: unknown[]) => void>();
export function backendBatchMatMul(wasm: KernelBackendLike): (...args: unknown[]) => void {
  let f = batchMatMuls.get(wasm);
  if (!f) {
    const [id, shape, rank, flag] = ['number', 'array', 'number', 'number'];
    f = wasm.wasm.cwrap('BatchMatMul', null, [id, shape, rank, id, shape, rank, flag, flag, id]);
    batchMatMuls.set(wasm, f);
  }
  return f;
}

/**
 * Who multiplies Winograd's 36 planes: the module's own GEMM (`gemm`, register-blocked, relaxed FMA
 * in the relaxed variant) or the backend's BatchMatMul (XNNPACK 2022, no FMA).
 */
export type Products = 'gemm' | 'xnnpack';

/** Images per pass of the forward layer's products: 2–4 keep the planes in L2 (8–16 measured 5–15% slower). */
export const FORWARD_PASS_IMAGES = 4;

/**
 * Winograd's products, `perPass` images at a time: `tiles(n0, count, v)` writes the pass's
 * transformed tiles into the 36 planes at byte offset v, the 36 products [tiles × C]·[C × O] with
 * the planes of `u`, and `blocks(n0, count, m)` turns the result planes at m into outputs.
 */
export function winogradProducts(
  backend: Backend,
  g: WinogradGeometry,
  kernels: WinogradKernels,
  products: Products,
  batch: number,
  perPass: number,
  u: TensorInfo,
  tiles: (n0: number, count: number, v: number) => void,
  blocks: (n0: number, count: number, m: number) => void,
): void {
  const wasm = wasmBackend(backend);
  const perImage = tilesPerImage(g);
  const rows = g.chunk * perImage;
  const step = Math.min(perPass, g.chunk);
  const v = wasm.makeOutput([planesFloats(g, g.channels)], 'float32');
  const m = wasm.makeOutput([planesFloats(g, g.outChannels)], 'float32');
  // The GEMM takes n (here O) in multiples of its 8 columns; other sizes go to the backend's.
  if (products === 'gemm' && g.outChannels % GEMM_COLUMNS === 0) {
    const [vAt, uAt, mAt] = [heapOffset(wasm, v), heapOffset(wasm, u), heapOffset(wasm, m)];
    for (let n0 = 0; n0 < batch; n0 += step) {
      const count = Math.min(step, batch - n0);
      tiles(n0, count, vAt);
      multiplyTiles(kernels, g, count * perImage, vAt, uAt, mAt);
      blocks(n0, count, mAt);
    }
  } else {
    const batchMatMul = backendBatchMatMul(wasm);
    const views = Array.from({ length: PLANES }, (_, p) => [
      viewOf(v, (p * planeBytes(g, g.channels)) / 4, [rows, g.channels], backend),
      viewOf(u, p * g.channels * g.outChannels, [g.channels, g.outChannels], backend),
      viewOf(m, (p * planeBytes(g, g.outChannels)) / 4, [rows, g.outChannels], backend),
    ]);
    const ids = views.map((plane) => plane.map((t) => wasm.dataIdMap.get(t.dataId).id));
    const bShape = int32Bytes([1, g.channels, g.outChannels]);
    for (let n0 = 0; n0 < batch; n0 += step) {
      const count = Math.min(step, batch - n0);
      tiles(n0, count, heapOffset(wasm, v));
      const aShape = int32Bytes([1, count * perImage, g.channels]);
      for (const [a, b, out] of ids) batchMatMul(a, aShape, 3, b, bShape, 3, 0, 0, out);
      blocks(n0, count, heapOffset(wasm, m));
    }
    for (const plane of views) for (const view of plane) releaseView(view, backend);
  }
  dispose(backend, v, m);
}

/** U = G g Gᵀ of a [3, 3, C, O] filter (transformFilter) as a new tensor of the backend: [36, C, O]. */
export function transformedFilter(backend: Backend, filter: TensorInfo): TensorInfo {
  const wasm = wasmBackend(backend);
  const [, , channels, outChannels] = filter.shape;
  const u = wasm.makeOutput([PLANES, channels, outChannels], 'float32');
  transformFilter(wasm.typedArrayFromHeap(filter), channels, outChannels, wasm.typedArrayFromHeap(u));
  return u;
}

/**
 * maxPool₂ₓ₂(relu(conv2d(x, filter) + bias)) of a 3×3 valid convolution as Winograd F(4×4, 3×3),
 * with `kernels` built for geometry `g` (x's sizes): the pooled output, a new tensor of the backend.
 * `u`, the filter's transform (transformedFilter), may be passed in when the filter does not change.
 */
export function winogradConvBiasReluPool(
  backend: Backend,
  g: WinogradGeometry,
  kernels: WinogradKernels,
  products: Products,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo,
  u?: TensorInfo,
): TensorInfo {
  const wasm = wasmBackend(backend);
  const [batch, height, width, channels] = x.shape;
  const { outChannels, outHeight, outWidth } = g;
  if (height !== g.height || width !== g.width || channels !== g.channels || filter.shape[3] !== outChannels) {
    throw new Error(`Winograd kernels for ${JSON.stringify(g)} called on x ${x.shape}, filter ${filter.shape}`);
  }
  const pooled = wasm.makeOutput([batch, outHeight / 2, outWidth / 2, outChannels], 'float32');
  const planes = u ?? transformedFilter(backend, filter);
  // A pooled image is a quarter of the convolution's floats: outHeight·outWidth·outChannels bytes.
  winogradProducts(
    backend,
    g,
    kernels,
    products,
    batch,
    FORWARD_PASS_IMAGES,
    planes,
    (n0, count, v) => kernels.inputTiles(heapOffset(wasm, x) + n0 * height * width * channels * 4, v, count),
    (n0, count, m) =>
      kernels.outputPooled(
        m,
        heapOffset(wasm, bias),
        heapOffset(wasm, pooled) + n0 * outHeight * outWidth * outChannels,
        count,
      ),
  );
  if (!u) dispose(backend, planes);
  return pooled;
}
