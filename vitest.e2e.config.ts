import { defineConfig } from 'vitest/config';

// End to end over real HTTP: the Worker runs in workerd under `wrangler` (started once by the
// global setup), clients are Node fetch and headless Chromium.
export default defineConfig({
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/global-setup.ts'],
    // One browser and one Worker on a 2-core machine: run the files one after the other.
    fileParallelism: false,
    // After the node and workers projects: timing ratios measured here share the machine with nothing.
    sequence: { groupOrder: 1 },
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
