import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { optimizeTfjs } from './test/worker/optimize-deps.ts';

// The Worker in workerd with owner-set limits overriding wrangler.toml's [vars]: a separate project
// so the main workers project keeps the committed defaults (and this pool stays one small file).
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: { bindings: { MAX_BATCH: 4, MAX_PICTURE_MEGAPIXELS: 0.05 } },
    }),
  ],
  test: {
    name: 'workers-limits',
    include: ['test/worker-limits/**/*.test.ts'],
    deps: optimizeTfjs,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
