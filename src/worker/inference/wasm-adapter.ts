/**
 * Starts @tensorflow/tfjs-backend-wasm from a precompiled `WebAssembly.Module`.
 *
 * Workers forbid compiling WebAssembly from bytes at run time (`WebAssembly.compile`,
 * `WebAssembly.instantiate(buffer)`); a `.wasm` file must be imported so wrangler uploads it as a
 * `CompiledWasm` module. tfjs-backend-wasm 4.22 has no hook to accept such a module (tfjs issue
 * 8157): its `init()` only sets emscripten's `instantiateWasm` when `setWasmPaths(path, true)` asks
 * for a platform fetch, and even then it fetches and compiles bytes. So this adapter re-registers
 * the `wasm` backend with a factory that runs the same emscripten glue and the same
 * `BackendWasm` class, but whose `instantiateWasm` instantiates the imported module.
 *
 * Instantiation is synchronous (`new WebAssembly.Instance`), which workerd allows at global scope,
 * so the Worker can start the backend while it starts rather than on its first request.
 *
 * It loads the SIMD, single-threaded binary (Workers have no threads) and never falls back to the
 * cpu backend: if the module cannot be instantiated, `initWasmBackend()` rejects.
 */

// The package entry registers the wasm kernels (under the backend name 'wasm') and exports the class.
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import simdModule from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';
// The emscripten glue; tfjs uses this one for both the plain and the SIMD binary.
import createWasmModule from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js';
import { getBackend, registerBackend, removeBackend, setBackend } from '@tensorflow/tfjs-core';

export const BACKEND_NAME = 'wasm';
/** Same priority tfjs-backend-wasm registers itself with. */
const WASM_PRIORITY = 2;

export interface BackendInfo {
  name: string;
  simd: boolean;
  threads: number;
}

// The package's typings lean on @types/emscripten for `cwrap`; spell out the one call used here.
type CType = 'number' | null;
type WasmModule = Awaited<ReturnType<typeof createWasmModule>> & {
  cwrap<R extends number | undefined>(ident: string, returnType: CType, argTypes: CType[]): (...args: number[]) => R;
};
type ReceiveInstance = (instance: WebAssembly.Instance, module: WebAssembly.Module) => void;

/**
 * Runs `start` while the global `process` is hidden. Emscripten's glue decides once, when its
 * factory is called, whether it runs in Node.js: it does when `process.versions.node` is a string,
 * as it is in workerd with `nodejs_compat` (and always in the vitest pool). Its Node.js branch reads
 * `__dirname`, requires `fs` and installs `process.on('unhandledRejection')` handlers that rethrow,
 * none of which belongs in a Worker. The factory's synchronous part is where the glue looks, so
 * the global is put back before anything else can run.
 */
function asNonNode<T>(start: () => T): T {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'process');
  if (!descriptor) return start();
  Object.defineProperty(globalThis, 'process', { value: undefined, configurable: true, writable: true });
  try {
    return start();
  } finally {
    Object.defineProperty(globalThis, 'process', descriptor);
  }
}

async function instantiateBackend(): Promise<BackendWasm> {
  // Emscripten reports instantiation failures only through `abort`; surface them as a rejection.
  let fail: (reason: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const ready = asNonNode(() =>
    createWasmModule({
      instantiateWasm(imports: WebAssembly.Imports, receive: ReceiveInstance) {
        const instance = new WebAssembly.Instance(simdModule, imports);
        receive(instance, simdModule);
        return instance.exports;
      },
      onAbort: (reason: string) => fail(new Error(`wasm backend aborted: ${reason}`)),
    }),
  );
  const wasm = (await Promise.race([ready, failed])) as WasmModule;
  // The bridge tfjs' own init() attaches (backend_wasm.js); BackendWasm and the kernels call it.
  wasm.tfjs = {
    init: wasm.cwrap<undefined>('init', null, []),
    initWithThreadsCount: wasm.cwrap<undefined>('init_with_threads_count', null, ['number']),
    getThreadsCount: wasm.cwrap<number>('get_threads_count', 'number', []),
    registerTensor: wasm.cwrap<undefined>('register_tensor', null, ['number', 'number', 'number']),
    disposeData: wasm.cwrap<undefined>('dispose_data', null, ['number']),
    dispose: wasm.cwrap<undefined>('dispose', null, []),
  };
  const backend = new BackendWasm(wasm);
  threads = wasm.tfjs.getThreadsCount();
  return backend;
}

let threads = 0;
let initialized: Promise<BackendInfo> | undefined;

/** Makes `wasm` the active tfjs backend, once per isolate. Needs no I/O, so it may run at global scope. */
export function initWasmBackend(): Promise<BackendInfo> {
  initialized ??= (async () => {
    removeBackend(BACKEND_NAME); // drop the package's fetch-based factory
    registerBackend(BACKEND_NAME, instantiateBackend, WASM_PRIORITY);
    // setBackend() resolves false instead of throwing when the factory fails.
    if (!(await setBackend(BACKEND_NAME)) || getBackend() !== BACKEND_NAME) {
      throw new Error('could not initialise the tfjs wasm backend');
    }
    // Instantiating the SIMD binary succeeds only where SIMD is supported, so reaching here proves it.
    return { name: BACKEND_NAME, simd: true, threads };
  })();
  // A failed start must not be cached forever: the next caller retries.
  initialized.catch(() => (initialized = undefined));
  return initialized;
}
