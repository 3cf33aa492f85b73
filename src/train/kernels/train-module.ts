// The trainer's own kernel module (src/shared/kernels/train-wat.ts, prebuilt to
// src/shared/kernels/wasm/train.<variant>.wasm): a strided GEMM for the dense layers, conv1's
// filter gradient and the relu and max-pool gradients, instantiated in each wasm backend's heap, in the variant the Winograd kernels run.
import { readFileSync } from 'node:fs';
import { TRAIN_MODULE, wasmFileName } from '../../shared/kernels/prebuilt.ts';
import { kernelVariant } from './winograd.ts';

export interface TrainKernels {
  gemm(
    a: number,
    b: number,
    c: number,
    m: number,
    k: number,
    n: number,
    rowA: number,
    stepA: number,
    rowB: number,
    rowC: number,
    accumulate: number,
    pack: number,
  ): void;
  conv1Filter(x: number, dy: number, out: number, n: number): void;
  reluGrad(dy: number, y: number, out: number, rows: number, row: number, paddedRow: number): void;
  maxPoolReluGrad(
    dy: number,
    y: number,
    out: number,
    n: number,
    height: number,
    width: number,
    channels: number,
    paddedWidth: number,
  ): void;
  dropoutMask(out: number, seeds: number, n: number, perExample: number, threshold: number, keep: number): void;
}

let module: WebAssembly.Module | undefined;
const instances = new WeakMap<WebAssembly.Memory, TrainKernels>();

/** The module's kernels working in `memory` (a wasm backend's heap). */
export function trainKernels(memory: WebAssembly.Memory): TrainKernels {
  let kernels = instances.get(memory);
  if (!kernels) {
    module ??= new WebAssembly.Module(
      readFileSync(
        new URL(`../../shared/kernels/wasm/${wasmFileName(TRAIN_MODULE, kernelVariant())}`, import.meta.url),
      ),
    );
    kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as TrainKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}
