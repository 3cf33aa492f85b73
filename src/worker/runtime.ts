// One classifier per isolate: the wasm backend and the weights are set up on the first request
// (Workers allow no async work at global scope) and shared by every request after it.
import { DigitClassifier } from './engine';
import { ApiError } from './errors';
import type { ModelMetadata } from './artifacts';
import { bundledArtifacts } from './model';
import { initWasmBackend, type BackendInfo } from './wasm-adapter';

export interface Runtime {
  classifier: DigitClassifier;
  metadata: ModelMetadata;
  backend: BackendInfo;
}

let runtime: Promise<Runtime> | undefined;

export function getRuntime(): Promise<Runtime> {
  runtime ??= (async () => {
    try {
      const artifacts = bundledArtifacts();
      const backend = await initWasmBackend();
      return { classifier: DigitClassifier.load(artifacts), metadata: artifacts.metadata, backend };
    } catch (cause) {
      console.error('model load failed', cause);
      throw new ApiError(500, 'model_unavailable', 'The model could not be loaded; see the Worker logs.');
    }
  })();
  runtime.catch(() => (runtime = undefined)); // retry on the next request rather than stay broken
  return runtime;
}
