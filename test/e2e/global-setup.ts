// Global setup of the root vitest.config.ts, for the e2e projects (e2e and e2e-sweep).
// Starts the real Worker (wrangler.toml: static assets + API, workerd) on free local ports, twice:
// as configured (with `nodejs_compat`), and with it off, as older Workers projects have it; once more as an
// owner locks it down (an API_KEY secret with two keys plus one to exhaust, and a rate-limiting
// binding); and the `feedback` environment with a local D1 in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { unstable_startWorker } from 'wrangler';
import { startFeedbackWorker } from './feedback-worker.ts';

/** The configurations every HTTP-level test runs against: compatibility flags, or wrangler.toml's. */
export const CONFIGS = {
  default: undefined,
  no_nodejs_compat: ['no_nodejs_compat'],
} as const satisfies Record<string, readonly string[] | undefined>;
export type ConfigName = keyof typeof CONFIGS;

/** API_KEY of the locked-down Worker: the page test, the API tests, the rate-limit test each use their own (own budget). */
export const KEYED = {
  keys: ['e2e-page-key.1', 'e2e-api-key.2', 'e2e-limit-key.3'],
  /** RATE_LIMITER's simple limit per 60 s window, per key. */
  limit: 10,
} as const;

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the running Worker, e.g. http://127.0.0.1:41234/, per configuration. */
    workerUrls: Record<ConfigName, string>;
    /** Base URL of the Worker with an API key and a rate limiter (KEYED). */
    keyedUrl: string;
    /** The `feedback` environment's Worker and where its local D1 lives (for `wrangler d1 … --persist-to`). */
    feedbackWorker: { url: string; persistTo: string };
  }
}

type Bindings = NonNullable<Parameters<typeof unstable_startWorker>[0]['bindings']>;

async function start(compatibilityFlags: readonly string[] | undefined, bindings?: Bindings) {
  return unstable_startWorker({
    config: 'wrangler.toml',
    compatibilityFlags: compatibilityFlags && [...compatibilityFlags],
    bindings,
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      persist: false,
      logLevel: 'warn',
    },
  });
}

export default async function setup(project: TestProject) {
  // The root config's global setup: nothing to start when no e2e project is selected (--project workers, …).
  if (!project.vitest.projects.some((p) => p.name.startsWith('e2e'))) return;
  const names = Object.keys(CONFIGS) as ConfigName[];
  const keyedBindings = {
    // As `wrangler secret put API_KEY` / `--var API_KEY:…` would set it.
    API_KEY: { type: 'secret_text', value: KEYED.keys.join(',') },
    // As `[[ratelimits]]` in wrangler.toml would bind it.
    RATE_LIMITER: { type: 'ratelimit', namespace_id: '1001', simple: { limit: KEYED.limit, period: 60 } },
  } as unknown as Bindings;
  const persistTo = mkdtempSync(join(tmpdir(), 'mnist-edge-feedback-'));
  const [feedback, keyed, ...workers] = await Promise.all([
    startFeedbackWorker(persistTo),
    start(undefined, keyedBindings),
    ...names.map((name) => start(CONFIGS[name])),
  ]);
  const urls = await Promise.all(workers.map((worker) => worker.url));
  project.provide(
    'workerUrls',
    Object.fromEntries(names.map((name, i) => [name, urls[i].href])) as Record<ConfigName, string>,
  );
  project.provide('keyedUrl', (await keyed.url).href);
  project.provide('feedbackWorker', { url: (await feedback.url).href, persistTo });
  return async () => {
    await Promise.all([feedback, keyed, ...workers].map((worker) => worker.dispose()));
    rmSync(persistTo, { recursive: true, force: true });
  };
}
