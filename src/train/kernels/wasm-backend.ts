// The tools run tfjs on the wasm backend, like the trainer and the Worker (and tfjs's cpu backend
// would print its "install tfjs-node" banner on first use).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

/** Inference needs only stock kernels; the trainer may already have put wasm (and its own) in place. */
export async function ensureWasmBackend(): Promise<void> {
  if (tf.getBackend() === 'wasm') return;
  if (!(await tf.setBackend('wasm'))) throw new Error('The tfjs wasm backend failed to initialise');
  await tf.ready();
}
