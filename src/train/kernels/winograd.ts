// The trainer's Winograd kernel modules: the prebuilt ones (src/shared/kernels/wasm/, the very
// bytes the Worker imports) for the model's geometries, read from disk; any other geometry (the
// kernel tests' small ones) assembled from the same generator with wabt, if it is installed (a dev
// dependency) and loadWinogradCompiler() has run. The variant, relaxed or plain SIMD, is chosen once
// per process (chooseVariant: WebAssembly.validate, MNIST_EDGE_PLAIN_SIMD forces plain).
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type wabtInit from 'wabt';
import { prebuiltName, wasmFileName } from '../../shared/kernels/prebuilt.ts';
import {
  chooseVariant,
  instantiateKernels,
  relaxedSimdSupported,
  type WinogradGeometry,
  type WinogradKernels,
} from '../../shared/kernels/winograd.ts';
import { type SimdVariant, watFeatures, winogradWat } from '../../shared/kernels/winograd-wat.ts';

export * from '../../shared/kernels/winograd.ts';

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Wabt | undefined;

/**
 * Loads the wat assembler (~40 ms) for geometries that are not prebuilt. The model's need none; a
 * production install without dev dependencies has no wabt, and then only those fail.
 */
export async function loadWinogradCompiler(): Promise<void> {
  if (wabt) return;
  try {
    wabt = await ((await import('wabt')).default as typeof wabtInit)();
  } catch {
    // No wabt: prebuilt geometries only.
  }
}

let chosen: SimdVariant | undefined;

/**
 * The SIMD variant this process runs, chosen on first use. Node 20's V8 (11.3) has relaxed SIMD
 * behind --experimental-wasm-relaxed-simd; the flag is turned on here, before any module is compiled
 * (V8's flags are the process's: the worker threads get it too), so Node 20 runs the relaxed kernels
 * as Node 22/24 do. MNIST_EDGE_PLAIN_SIMD=1 still forces plain SIMD.
 */
export function kernelVariant(): SimdVariant {
  if (!chosen && !relaxedSimdSupported()) {
    try {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // An engine without the flag: plain SIMD.
    }
  }
  if (!chosen) {
    const variant = chooseVariant();
    // The wide GEMMs where V8 revectorizes them (x64) or 32 vector registers hold them (arm64).
    chosen = variant === 'relaxed' && revectorize() ? 'wide' : variant;
  }
  return chosen;
}

/** Environment variable: `0` leaves V8's revectorization off (to compare). */
export const REVECTORIZE_ENV = 'MNIST_EDGE_REVECTORIZE';

/**
 * V8 13 (Node 24) can fuse pairs of 128-bit SIMD operations on adjacent memory into 256-bit AVX2
 * ones, behind --experimental-wasm-revectorize; the GEMMs are written so that it applies (each
 * register block one basic block, a row's column vectors stored at consecutive offsets of one
 * address), and the `wide` variant's 4 × 16 blocks then hold their 16 accumulators in 8 AVX2
 * registers. Turned on here, before the kernel modules are compiled, for the whole process (worker
 * threads included), where the engine runs relaxed SIMD. Older V8s (Node 20, 22) lack the flag,
 * or an earlier form of it, and keep the 4 × 8 blocks in 128-bit code. (V8 revectorizes only on a
 * CPU with AVX2: x64 without it would spill the wide blocks' registers.)
 */
function revectorize(): boolean {
  if (process.env[REVECTORIZE_ENV] === '0') return false;
  const major = Number(process.versions.v8.split('.')[0]);
  if (major < 13) return false;
  try {
    setFlagsFromString('--experimental-wasm-revectorize');
    return process.arch === 'x64' || process.arch === 'arm64';
  } catch {
    // An engine without the flag: 128-bit code.
    return false;
  }
}

const modules = new Map<string, WebAssembly.Module>();

/** The compiled module for geometry `g` in the process's variant, and where it came from. */
export function winogradModule(g: WinogradGeometry): { module: WebAssembly.Module; source: 'prebuilt' | 'wabt' } {
  const variant = kernelVariant();
  const name = prebuiltName(g);
  const key = `${JSON.stringify(g)} ${variant}`;
  let module = modules.get(key);
  if (!module) {
    if (name) {
      module = new WebAssembly.Module(
        readFileSync(new URL(`../../shared/kernels/wasm/${wasmFileName(name, variant)}`, import.meta.url)),
      );
    } else {
      if (!wabt) {
        throw new Error(`no prebuilt kernels for ${JSON.stringify(g)}: loadWinogradCompiler() (wabt) must run first`);
      }
      const text = wabt.parseWat('winograd.wat', winogradWat(g, variant), watFeatures(variant));
      try {
        module = new WebAssembly.Module(new Uint8Array(text.toBinary({}).buffer));
      } finally {
        text.destroy();
      }
    }
    modules.set(key, module);
  }
  return { module, source: name ? 'prebuilt' : 'wabt' };
}

/** Instances by the heap they work in (one per wasm backend), then by geometry. */
const instances = new WeakMap<WebAssembly.Memory, Map<string, WinogradKernels>>();

/** The kernels for geometry `g`, working in `memory` (the wasm backend's heap). */
export function winogradKernels(g: WinogradGeometry, memory: WebAssembly.Memory): WinogradKernels {
  const key = JSON.stringify(g);
  const byGeometry = instances.get(memory) ?? new Map<string, WinogradKernels>();
  instances.set(memory, byGeometry);
  let kernels = byGeometry.get(key);
  if (!kernels) {
    kernels = instantiateKernels(winogradModule(g).module, memory);
    byGeometry.set(key, kernels);
  }
  return kernels;
}
