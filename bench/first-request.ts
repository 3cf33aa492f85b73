// The first request after `wrangler dev` starts vs warm ones, as round trips (same HTTP overhead on
// both sides): the issue asks the first to cost at most 2× a warm one. Each run starts a fresh
// workerd, times the first POST /classify (one MNIST digit as JSON), then the median of 30 more.
// Run: npx tsx bench/first-request.ts [runs=3] [projectDir=.]
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { median } from './stats.ts';

const runs = Number(process.argv[2] ?? 3);
const dir = resolve(process.argv[3] ?? '.');
const PORT = 8791;
const BASE = `http://127.0.0.1:${PORT}`;
const body = JSON.stringify({ pixels: Array.from(loadMnistTest().images.subarray(0, PIXEL_COUNT)) });

async function start(): Promise<ChildProcess> {
  const child = spawn('node', [resolve('node_modules/wrangler/bin/wrangler.js'), 'dev', '--port', String(PORT), '--ip', '127.0.0.1'], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
async function post(): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${BASE}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return performance.now() - t;
}

const firsts: number[] = [];
const warms: number[] = [];
for (let run = 0; run < runs; run++) {
  const child = await start();
  try {
    firsts.push(await post());
    const warm: number[] = [];
    for (let i = 0; i < 30; i++) warm.push(await post());
    warms.push(median(warm));
  } finally {
    await stop(child);
  }
}
const f = (n: number) => n.toFixed(1);
console.log(`${dir}: first request ${firsts.map(f).join(', ')} ms; warm median ${warms.map(f).join(', ')} ms`);
console.log(`first / warm (medians of ${runs} runs): ${f(median(firsts))} / ${f(median(warms))} ms = ${(median(firsts) / median(warms)).toFixed(2)}×`);
