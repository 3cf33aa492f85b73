// Starts the real Worker (wrangler.toml: static assets + API, workerd) on free local ports, twice:
// as configured, and with `nodejs_compat` on, as many Workers projects have it. A third runs the
// `feedback` environment with a local D1 in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { unstable_startWorker } from 'wrangler';
import { startFeedbackWorker } from './feedback-worker.ts';

/** The configurations every HTTP-level test runs against. */
export const CONFIGS = {
  default: [],
  nodejs_compat: ['nodejs_compat'],
} as const satisfies Record<string, readonly string[]>;
export type ConfigName = keyof typeof CONFIGS;

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the running Worker, e.g. http://127.0.0.1:41234/, per configuration. */
    workerUrls: Record<ConfigName, string>;
    /** The `feedback` environment's Worker and where its local D1 lives (for `wrangler d1 … --persist-to`). */
    feedbackWorker: { url: string; persistTo: string };
  }
}

async function start(compatibilityFlags: readonly string[]) {
  return unstable_startWorker({
    config: 'wrangler.toml',
    compatibilityFlags: [...compatibilityFlags],
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false, persist: false, logLevel: 'warn' },
  });
}

export default async function setup(project: TestProject) {
  const names = Object.keys(CONFIGS) as ConfigName[];
  const persistTo = mkdtempSync(join(tmpdir(), 'mnist-edge-feedback-'));
  const [feedback, ...workers] = await Promise.all([startFeedbackWorker(persistTo), ...names.map((name) => start(CONFIGS[name]))]);
  const urls = await Promise.all(workers.map((worker) => worker.url));
  project.provide('workerUrls', Object.fromEntries(names.map((name, i) => [name, urls[i].href])) as Record<ConfigName, string>);
  project.provide('feedbackWorker', { url: (await feedback.url).href, persistTo });
  return async () => {
    await Promise.all([feedback, ...workers].map((worker) => worker.dispose()));
    rmSync(persistTo, { recursive: true, force: true });
  };
}
