// The Worker as `npm run start:feedback` runs it: `wrangler d1 migrations apply FEEDBACK_DB --local
// --env feedback`, then the Worker in the `feedback` environment, its local D1 persisted in `persistTo`.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { unstable_startWorker } from 'wrangler';

/** wrangler's CLI, run with this Node (no npx, no network). */
export const WRANGLER_BIN = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');

export async function wrangler(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [WRANGLER_BIN, ...args], {
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...options.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
  });
  return stdout;
}

export async function startFeedbackWorker(persistTo: string) {
  await wrangler([
    'd1',
    'migrations',
    'apply',
    'FEEDBACK_DB',
    '--local',
    '--env',
    'feedback',
    '--persist-to',
    persistTo,
  ]);
  return unstable_startWorker({
    config: 'wrangler.toml',
    env: 'feedback',
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      persist: persistTo,
      logLevel: 'warn',
    },
  });
}
