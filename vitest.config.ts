import { defineConfig } from 'vitest/config';

// Two projects: Node (trainer, shared module) and workerd (the Worker through its HTTP API).
export default defineConfig({
  test: {
    projects: ['vitest.node.config.ts', 'vitest.workers.config.ts'],
  },
});
