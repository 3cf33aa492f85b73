// Starts the real Worker (wrangler.toml: static assets + API, workerd) on free local ports, twice:
// as configured, and with `nodejs_compat` on, as many Workers projects have it; and once more as an
// owner locks it down: an API_KEY secret (two keys, plus one to exhaust) and a rate-limiting binding.
import type { TestProject } from 'vitest/node';
import { unstable_startWorker } from 'wrangler';

/** The configurations every HTTP-level test runs against. */
export const CONFIGS = {
  default: [],
  nodejs_compat: ['nodejs_compat'],
} as const satisfies Record<string, readonly string[]>;
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
  }
}

type Bindings = NonNullable<Parameters<typeof unstable_startWorker>[0]['bindings']>;

async function start(compatibilityFlags: readonly string[], bindings?: Bindings) {
  return unstable_startWorker({
    config: 'wrangler.toml',
    compatibilityFlags: [...compatibilityFlags],
    bindings,
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false, persist: false, logLevel: 'warn' },
  });
}

export default async function setup(project: TestProject) {
  const names = Object.keys(CONFIGS) as ConfigName[];
  const keyedBindings = {
    // As `wrangler secret put API_KEY` / `--var API_KEY:…` would set it.
    API_KEY: { type: 'secret_text', value: KEYED.keys.join(',') },
    // As `[[ratelimits]]` in wrangler.toml would bind it.
    RATE_LIMITER: { type: 'ratelimit', namespace_id: '1001', simple: { limit: KEYED.limit, period: 60 } },
  } as unknown as Bindings;
  const workers = await Promise.all([...names.map((name) => start(CONFIGS[name])), start([], keyedBindings)]);
  const urls = await Promise.all(workers.map((worker) => worker.url));
  project.provide('workerUrls', Object.fromEntries(names.map((name, i) => [name, urls[i].href])) as Record<ConfigName, string>);
  project.provide('keyedUrl', urls[names.length].href);
  return async () => {
    await Promise.all(workers.map((worker) => worker.dispose()));
  };
}
