// Times the Worker under `wrangler dev` (local workerd, the committed model): the cold first
// request after start-up, and warm per-digit inference, single and batched. Prints medians.
// Run: npx tsx bench/worker.ts [coldRuns=5] [warmRounds=200]
import { type ChildProcess, spawn } from 'node:child_process';
import { PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { median } from './stats.ts';

const coldRuns = Number(process.argv[2] ?? 5);
const warmRounds = Number(process.argv[3] ?? 200);
const PORT = 8790;
const BASE = `http://127.0.0.1:${PORT}`;

const mnist = loadMnistTest();
const digit = (i: number) => Array.from(mnist.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT));
const single = JSON.stringify({ pixels: digit(0) });
const batch = (n: number) => JSON.stringify({ images: Array.from({ length: n }, (_, i) => digit(i)) });

async function startWrangler(): Promise<ChildProcess> {
  const child = spawn(
    'node',
    ['node_modules/wrangler/bin/wrangler.js', 'dev', '--port', String(PORT), '--ip', '127.0.0.1'],
    {
      detached: true, // its own process group, so stop() also ends workerd
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('wrangler dev did not become ready in 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`wrangler dev exited with ${code}`)));
  });
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(-child.pid!, 'SIGTERM');
  });
}

async function timed(path: string, body?: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(
    BASE + path,
    body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body } : {},
  );
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return performance.now() - start;
}

const cold: number[] = [];
for (let run = 0; run < coldRuns; run++) {
  const child = await startWrangler();
  try {
    cold.push(await timed('/classify', single)); // first request: wasm instantiate + weight decode + inference
  } finally {
    await stop(child);
  }
}

const child = await startWrangler();
try {
  await timed('/classify', batch(256)); // warm up
  const times = { healthz: [] as number[], single: [] as number[], batch32: [] as number[], batch256: [] as number[] };
  const bodies = { b32: batch(32), b256: batch(256) };
  for (let round = 0; round < warmRounds; round++) {
    times.healthz.push(await timed('/healthz'));
    times.single.push(await timed('/classify', single));
    if (round % 5 === 0) times.batch32.push(await timed('/classify', bodies.b32));
    if (round % 10 === 0) times.batch256.push(await timed('/classify', bodies.b256));
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<
    keyof typeof times,
    number
  >;
  const fmt = (n: number) => n.toFixed(2);
  console.log(
    `cold first POST /classify after start (median of ${coldRuns}): ${fmt(median(cold))} ms  [${cold.map(fmt).join(', ')}]`,
  );
  console.log(`warm GET /healthz round trip (HTTP overhead):       ${fmt(m.healthz)} ms`);
  console.log(
    `warm single digit round trip:                       ${fmt(m.single)} ms  → ${fmt(m.single - m.healthz)} ms over /healthz`,
  );
  console.log(
    `warm batch of 32 round trip:                        ${fmt(m.batch32)} ms  → ${fmt((m.batch32 - m.healthz) / 32)} ms/digit`,
  );
  console.log(
    `warm batch of 256 round trip:                       ${fmt(m.batch256)} ms  → ${fmt((m.batch256 - m.healthz) / 256)} ms/digit`,
  );
} finally {
  await stop(child);
}
