import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { optimizeTfjs } from './test/worker/optimize-deps.ts';

// The Worker's tests run inside workerd with the real wasm backend and the committed model.
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      // A real workerd rate limiter for test/worker/security.test.ts, under a name the Worker does not
      // read: that file hands it over as RATE_LIMITER, so the other files' requests are never limited.
      miniflare: { ratelimits: { TEST_RATE_LIMITER: { simple: { limit: 2, period: 60 } } } },
    }),
  ],
  test: {
    name: 'workers',
    include: ['test/worker/**/*.test.ts'],
    deps: optimizeTfjs,
    // Reads MNIST test digits (and stock tfjs reference outputs) on the Node side: workerd has no filesystem.
    globalSetup: ['test/worker/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
