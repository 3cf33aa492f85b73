// Puts tfjs on the wasm backend with the training kernels it lacks.

import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingKernels } from './kernels.ts';
import { loadWinogradCompiler } from './winograd.ts';

export interface BackendInfo {
  name: string;
  simd: boolean;
  /** Threads of one wasm backend: tfjs turns wasm threads off in Node, so 1. */
  threads: number;
}

export async function useWasmBackend(): Promise<BackendInfo> {
  registerTrainingKernels();
  await loadWinogradCompiler();
  if (!(await tf.setBackend('wasm'))) throw new Error('The tfjs wasm backend failed to initialize');
  await tf.ready();
  return {
    name: tf.getBackend(),
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: getThreadsCount(),
  };
}
