import { defineConfig } from 'vitest/config';

// End to end over real HTTP: the Worker runs in workerd under `wrangler` (started once by the root
// config's global setup, test/e2e/global-setup.ts), clients are Node fetch and headless Chromium.
// These files run alongside the node and workerd files: each uses its own API key, its own browser,
// and feedback-loop its own D1. The sweep with timing ratios is vitest.e2e-sweep.config.ts.
export default defineConfig({
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.test.ts'],
    exclude: ['test/e2e/classify.test.ts'],
    environment: 'node',
    // The slowest is the feedback loop's fine-tune, 8 s alone and 14 s in .ci/run: a trainer process
    // (start-up, then the 10k MNIST digits it must not forget); with fewer MNIST digits (500 instead
    // of 1000) it no longer learns the corrections. The rest take under 8 s.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
