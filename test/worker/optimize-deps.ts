// The workerd projects' Vite options: tfjs (hundreds of small ES modules) is pre-bundled into one
// module by esbuild, as `wrangler deploy` bundles it, instead of being transformed and fetched into
// workerd module by module for every test file (~10 s per file on a 2-core machine before the first
// request was answered). The Worker's own code and its other dependencies are served as they are.
export const optimizeTfjs = {
  optimizer: {
    ssr: { enabled: true, include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm'] },
  },
};
