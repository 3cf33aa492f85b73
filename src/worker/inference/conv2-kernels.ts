// conv2 (85% of the network's multiplications) as Winograd F(4×4, 3×3), from the same prebuilt kernel
// modules the trainer runs (src/shared/kernels/wasm/, `npm run build:kernels`, committed and checked
// by test/node/kernel-modules.test.ts). Workers cannot compile wasm at run time, so both variants are
// imported as modules (wrangler's CompiledWasm rule); the one this engine validates (relaxed SIMD's
// FMA in workerd, plain SIMD elsewhere) is instantiated synchronously on the tfjs wasm backend's own
// memory, so the kernels read and write its tensors in place.
import { engine } from '@tensorflow/tfjs-core';
import conv2Plain from '../../shared/kernels/wasm/conv2.plain.wasm';
import conv2Relaxed from '../../shared/kernels/wasm/conv2.relaxed.wasm';
import { chooseVariant, instantiateKernels, type WinogradKernels } from '../../shared/kernels/winograd';

export interface Conv2Kernels {
  kernels: WinogradKernels;
  variant: 'relaxed' | 'plain';
  memory: WebAssembly.Memory;
}

/** The conv2 kernels on the active wasm backend's heap, or undefined when the backend is not wasm. */
export function loadConv2Kernels(): Conv2Kernels | undefined {
  const backend = engine().backend as unknown as { wasm?: { asm?: { memory?: WebAssembly.Memory } } };
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  // (Under Node's module hooks, bench/worker-modules.ts, a relaxed module Node cannot compile is null.)
  const relaxed = conv2Relaxed as WebAssembly.Module | null;
  const variant = relaxed ? chooseVariant() : 'plain';
  const kernels = instantiateKernels(variant === 'relaxed' && relaxed ? relaxed : conv2Plain, memory);
  return { kernels, variant, memory };
}
