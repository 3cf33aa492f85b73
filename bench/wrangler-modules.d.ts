// What wrangler's module rules (and bench/worker-modules.ts in Node) make of these imports.
declare module '*.wasm' {
  const value: WebAssembly.Module;
  export default value;
}
declare module '*.bin' {
  const value: ArrayBuffer;
  export default value;
}
