// tsx turns on Node's source maps, and Node then reads and parses the multi-MB .map files tfjs
// ships as its bundles load: ~0.2 s of CPU on every thread of every run, for stack traces into
// tfjs's own sources. tfjs is loaded here with them off; our modules, loaded after, keep theirs.
// Plain JavaScript: a replica worker calls it before it loads any TypeScript.
export async function loadTfjs() {
  const enabled = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  try {
    await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
  } finally {
    process.setSourceMapsEnabled(enabled);
  }
}
