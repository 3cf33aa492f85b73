import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { optimizeTfjs } from './test/worker/optimize-deps.ts';

// The Worker as `wrangler dev --env feedback` runs it: a local D1 behind FEEDBACK_DB, its schema
// from migrations/ (applied by the setup file inside workerd, before each test file).
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml', environment: 'feedback' },
        miniflare: { bindings: { TEST_MIGRATIONS: migrations } },
      }),
    ],
    test: {
      name: 'workers-feedback',
      include: ['test/worker-feedback/**/*.test.ts'],
      deps: optimizeTfjs,
      setupFiles: ['test/worker-feedback/apply-migrations.ts'],
      globalSetup: ['test/worker-feedback/global-setup.ts'],
      testTimeout: 5_000, // the whole file: ~0.5 s
      hookTimeout: 10_000, // the migrations, applied before each file
    },
  };
});
