/** Loads tfjs and its wasm backend with Node's source maps off (see load-tfjs.mjs). */
export function loadTfjs(): Promise<void>;
