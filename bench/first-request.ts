// The first request after `wrangler dev` starts vs warm ones, as round trips (same HTTP overhead on
// both sides): the issue asks the first to cost at most 2× a warm one. Each run starts a fresh
// workerd, times the first POST /classify (one MNIST digit as JSON), then the median of 30 more.
// Every other run first sends GET /healthz (no model, no body): a first request of any kind pays
// for wrangler dev's own proxy chain warming up, which that separates from the Worker's own share.
// Run: npx tsx bench/first-request.ts [runs=4] [projectDir=.]
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { median } from './stats.ts';

const runs = Number(process.argv[2] ?? 4);
const dir = resolve(process.argv[3] ?? '.');
const PORT = 8791;
const BASE = `http://127.0.0.1:${PORT}`;
const body = JSON.stringify({ pixels: Array.from(loadMnistTest().images.subarray(0, PIXEL_COUNT)) });

async function start(): Promise<ChildProcess> {
  const child = spawn(
    'node',
    [resolve('node_modules/wrangler/bin/wrangler.js'), 'dev', '--port', String(PORT), '--ip', '127.0.0.1'],
    {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('wrangler dev did not become ready in 90 s')), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready on')) {
        clearTimeout(timer);
        ok();
      }
    });
    child.on('exit', (code) => fail(new Error(`wrangler dev exited with ${code}`)));
  });
  return child;
}
const stop = (child: ChildProcess) =>
  new Promise<void>((done) => {
    child.once('exit', () => done());
    process.kill(-child.pid!, 'SIGTERM');
  });
async function post(path = '/classify'): Promise<number> {
  const t = performance.now();
  const res = await fetch(
    `${BASE}${path}`,
    path === '/classify' ? { method: 'POST', headers: { 'content-type': 'application/json' }, body } : {},
  );
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return performance.now() - t;
}

const firsts: number[] = [];
const afterHealthz: number[] = [];
const healthzFirsts: number[] = [];
const warms: number[] = [];
const warmHealthz: number[] = [];
for (let run = 0; run < runs; run++) {
  const child = await start();
  try {
    if (run % 2) {
      healthzFirsts.push(await post('/healthz'));
      afterHealthz.push(await post());
    } else firsts.push(await post());
    const warm: number[] = [];
    const warmH: number[] = [];
    for (let i = 0; i < 30; i++) {
      warm.push(await post());
      warmH.push(await post('/healthz'));
    }
    warms.push(median(warm));
    warmHealthz.push(median(warmH));
  } finally {
    await stop(child);
  }
}
const f = (n: number) => n.toFixed(1);
const list = (v: number[]) => v.map(f).join(', ');
console.log(`${dir}, round trips in ms (each run a fresh wrangler dev):`);
console.log(`  first POST /classify:                      ${list(firsts)}`);
console.log(`  first GET /healthz, then first /classify:  ${list(healthzFirsts)}, then ${list(afterHealthz)}`);
console.log(`  warm /classify: ${list(warms)}; warm /healthz: ${list(warmHealthz)}`);
const warm = median(warms);
console.log(
  `first / warm /classify: ${f(median(firsts))} / ${f(warm)} = ${(median(firsts) / warm).toFixed(2)}×` +
    (afterHealthz.length
      ? `; after a first /healthz: ${f(median(afterHealthz))} / ${f(warm)} = ${(median(afterHealthz) / warm).toFixed(2)}×`
      : ''),
);
