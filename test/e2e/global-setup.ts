// Starts the real Worker (wrangler.toml: static assets + API, workerd) on a free local port.
import type { TestProject } from 'vitest/node';
import { unstable_startWorker } from 'wrangler';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the running Worker, e.g. http://127.0.0.1:41234/ */
    workerUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const worker = await unstable_startWorker({
    config: 'wrangler.toml',
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false, persist: false, logLevel: 'warn' },
  });
  const url = await worker.url;
  project.provide('workerUrl', url.href);
  return async () => {
    await worker.dispose();
  };
}
