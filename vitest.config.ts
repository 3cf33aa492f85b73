import { defineConfig } from 'vitest/config';

// Node (trainer, shared module), workerd (the Worker through its HTTP API; again with feedback's D1) and end to end
// (the Worker under wrangler, driven over HTTP and from headless Chromium).
export default defineConfig({
  test: {
    projects: [
      'vitest.node.config.ts',
      'vitest.workers.config.ts',
      'vitest.workers-limits.config.ts',
      'vitest.feedback.config.ts',
      'vitest.e2e.config.ts',
    ],
  },
});
