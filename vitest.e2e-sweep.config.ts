import { defineConfig } from 'vitest/config';

// The MNIST sweep under wrangler (test/e2e/classify.test.ts): its pace test compares the first and the
// last requests' times, so it runs after every other project, with the machine to itself.
export default defineConfig({
  test: {
    name: 'e2e-sweep',
    include: ['test/e2e/classify.test.ts'],
    environment: 'node',
    fileParallelism: false,
    sequence: { groupOrder: 1 },
    testTimeout: 15_000, // the slowest, 10k digits in batches: 5.2 s in .ci/run
    hookTimeout: 15_000,
  },
});
