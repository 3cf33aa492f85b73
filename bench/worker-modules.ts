// Lets Node import the Worker's own modules unchanged: wrangler's module rules turn `*.wasm` into a
// compiled `WebAssembly.Module` (CompiledWasm) and `*.bin` into an `ArrayBuffer` (Data); these
// hooks do the same, so `src/worker/app.ts` runs in Node on the very code path workerd runs.
// Import this module before any Worker module (it registers hooks for later imports). A relaxed-SIMD
// module that this Node cannot compile (Node 20 without --experimental-wasm-relaxed-simd) imports as
// null; the Worker then picks the plain variant, as WebAssembly.validate tells it to.
import { register } from 'node:module';

const hooks = `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function load(url, context, next) {
  const path = url.startsWith('file:') ? fileURLToPath(url) : '';
  if (path.endsWith('.wasm')) {
    return { format: 'module', shortCircuit: true, source:
      'import { readFileSync } from "node:fs";' +
      'let m = null; try { m = new WebAssembly.Module(readFileSync(' + JSON.stringify(path) + ')); }' +
      ' catch (e) { if (!String(e).includes("relaxed")) throw e; }' +
      'export default m;' };
  }
  if (path.endsWith('.bin')) {
    return { format: 'module', shortCircuit: true, source:
      'import { readFileSync } from "node:fs";' +
      'const b = readFileSync(' + JSON.stringify(path) + ');' +
      'export default b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);' };
  }
  return next(url, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url);
