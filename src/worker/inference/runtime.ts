// One classifier per isolate, started while the Worker starts: the wasm backend is instantiated
// from the imported module and the weights decoded at global scope (no I/O is involved, which
// workerd allows), so the first request costs what every later one does.

import { PIXEL_COUNT } from '../../shared/model-spec';
import { VERIFIER_INPUTS } from '../../shared/segment-verifier';
import { ApiError } from '../errors';
import type { ModelMetadata } from './artifacts';
import { bundledArtifacts } from './bundled-model';
import { bundledVerifierFiles } from './bundled-verifier';
import { DigitClassifier } from './classifier';
import { loadConv2Kernels } from './conv2-kernels';
import { SegmentVerifier } from './verifier';
import { type BackendInfo, initWasmBackend } from './wasm-adapter';

export interface Runtime {
  classifier: DigitClassifier;
  /** POST /read's segment verifier (shared/segment-verifier.ts). */
  verifier: SegmentVerifier;
  metadata: ModelMetadata;
  backend: BackendInfo;
}

async function start(): Promise<Runtime> {
  const artifacts = bundledArtifacts();
  const backend = await initWasmBackend();
  // conv2 as Winograd from the prebuilt kernel module, on the backend's heap; the filter transform
  // is computed here, once.
  const classifier = DigitClassifier.load(artifacts, { conv2: loadConv2Kernels() });
  // One forward pass while the Worker starts: each wasm kernel creates and caches its XNNPACK
  // operator (packing the weights) on its first call, and the code runs once, so the first request
  // costs what a warm one does. A few ms of the 1 s startup budget.
  // The batch path too (its Winograd pass and the tfjs ops around it), with two digits.
  await classifier.probabilities(new Float32Array(PIXEL_COUNT), 1);
  await classifier.probabilities(new Float32Array(2 * PIXEL_COUNT), 2);
  // The verifier's matMul kernels too, batched as /read asks it.
  const verifier = SegmentVerifier.load(bundledVerifierFiles());
  await verifier.verify(new Float32Array(2 * VERIFIER_INPUTS), 2);
  return { classifier, verifier, metadata: artifacts.metadata, backend };
}

let runtime: Promise<Runtime> = start();
// Settled before the module finishes loading; a failure is logged and answered per request.
await runtime.catch((cause) => console.error('model load failed at startup', cause));

export function getRuntime(): Promise<Runtime> {
  return runtime.catch((cause) => {
    console.error('model load failed', cause);
    runtime = start(); // retry on the next request rather than stay broken
    runtime.catch(() => {}); // reported by the request that meets it
    throw new ApiError(500, 'model_unavailable', 'The model could not be loaded; see the Worker logs.');
  });
}
