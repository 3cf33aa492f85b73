import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/sequencer.ts';

// Node (trainer, shared module), workerd (the Worker through its HTTP API; again with feedback's D1) and end to end
// (the Worker under wrangler, driven over HTTP and from headless Chromium).
//
// One file per core at a time, across projects: much of a file's time is spent waiting (on a trainer's
// worker threads, on workerd, on Chromium), so node, workerd and e2e files share the machine rather
// than take turns. Only the e2e sweep with its timing ratios (vitest.e2e-sweep.config.ts) runs alone,
// after everything else.
export default defineConfig({
  test: {
    maxWorkers: Math.max(2, availableParallelism()),
    sequence: { sequencer: LongestFirst },
    // The Workers under wrangler, started once for both e2e projects (and only when one of them runs).
    globalSetup: ['test/e2e/global-setup.ts'],
    projects: [
      'vitest.node.config.ts',
      'vitest.workers.config.ts',
      'vitest.workers-limits.config.ts',
      'vitest.feedback.config.ts',
      'vitest.e2e.config.ts',
      'vitest.e2e-sweep.config.ts',
    ],
  },
});
