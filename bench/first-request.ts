// The first request after `wrangler dev` starts vs warm ones (issue 12: the first at most 2× a
// warm one). Each run starts a fresh `wrangler dev`, sends the first POST /classify, then 30 warm
// ones, and records for each request:
//
//  - CPU: the time the workerd thread that runs the Worker spent on a CPU while the request was
//    answered, from /proc/<pid>/task/<tid>/schedstat (nanoseconds, Linux), so other processes on
//    a busy machine do not count. That thread also runs workerd's HTTP handling and wrangler dev's
//    router in front of the Worker: every other run first fetches a static asset (the page's
//    stylesheet, which never reaches the Worker) to warm those, and `--trivial` measures a Worker
//    that only answers `new Response('ok')` the same way, which is that harness's own share.
//  - the Worker's own time, from the `Server-Timing: app;dur=<ms>` header the Worker sets
//    (src/worker/index.ts): wall time from workerd handing the request to the Worker to the answer
//    being ready, in whole ms (local workerd's clock; on the edge it does not move during CPU
//    work), so warm figures are the mean of 30 readings. Wall time: inflated on a busy machine.
//  - the round trip seen by the client, which adds wrangler dev's own proxy chain (cold on its
//    first request too).
//
// The criterion's figure is the CPU of the first POST /classify after the static asset vs a warm
// one. A warm request sent after a 1 s pause is timed too: after idling, the CPU's caches have
// cooled (on a busy machine, other processes have filled them), and such a request costs more than
// one of a back-to-back series; the first request is in that state too. Medians over the runs.
// Run: npx tsx bench/first-request.ts [runs=6] [--page] [--no-compat] [--trivial]
//   --page    the page's request (a 140×140 reduced RGBA PNG) instead of one MNIST digit as JSON
//   --no-compat  wrangler dev --compatibility-flags no_nodejs_compat (wrangler.toml turns nodejs_compat on)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { reduceCanvas } from '../public/reduce.js';
import { PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { renderCanvasRgba } from '../test/support/client-images.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { median } from './stats.ts';
import { threadCpuMs, workerdMainThreads } from './workerd-threads.ts';

const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 6);
const page = args.includes('--page');
const noCompat = args.includes('--no-compat');
const trivial = args.includes('--trivial');
const PORT = Number(process.env.PORT ?? 8791);
const BASE = `http://127.0.0.1:${PORT}`;
const WARM = 30;
const PAUSED = 5;
const WRANGLER = resolve('node_modules/wrangler/bin/wrangler.js');

const digit = loadMnistTest().images.subarray(0, PIXEL_COUNT);
const small = reduceCanvas(renderCanvasRgba(digit), 280, 280);
const request = page
  ? {
      type: 'image/png',
      body: encodePng({ width: small.width, height: small.height, data: small.rgba, channels: 4, depth: 8 }),
    }
  : { type: 'application/json', body: JSON.stringify({ pixels: Array.from(digit) }) };

async function start(dir: string): Promise<ChildProcess> {
  const flags = noCompat ? ['--compatibility-flags', 'no_nodejs_compat'] : [];
  const child = spawn('node', [WRANGLER, 'dev', '--port', String(PORT), '--ip', '127.0.0.1', ...flags], {
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

const threadCpu = threadCpuMs;
let threads: string[] = [];

/** Round trip (ms), CPU of each workerd main thread (ms) and the Worker's own time from Server-Timing (ms, NaN when absent). */
async function send(path: string, post = true): Promise<{ trip: number; own: number; cpu: number[] }> {
  const before = threads.map(threadCpu);
  const t = performance.now();
  const res = await fetch(
    `${BASE}${path}`,
    post
      ? { method: 'POST', headers: { 'content-type': request.type }, body: new Uint8Array(Buffer.from(request.body)) }
      : {},
  );
  await res.arrayBuffer();
  const trip = performance.now() - t;
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  const cpu = threads.map((task, i) => threadCpu(task) - before[i]);
  const own = Number(/app;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? Number.NaN);
  return { trip, own, cpu };
}

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const f = (n: number) => n.toFixed(1);
const list = (v: number[]) => v.map(f).join(', ');

interface Run {
  harnessWarmed: boolean;
  first: { trip: number; own: number; cpu: number };
  warm: { trip: number; own: number; cpu: number };
  paused: { trip: number; own: number; cpu: number };
}

/** One fresh `wrangler dev` in `dir`: the first request to `path` (after a static asset when `warmHarness`), then WARM more. */
async function measure(dir: string, path: string, post: boolean, warmHarness: boolean): Promise<Run> {
  const child = await start(dir);
  try {
    threads = workerdMainThreads(child.pid!);
    if (warmHarness) await send('/style.css', false);
    const first = await send(path, post);
    const warm: Array<Awaited<ReturnType<typeof send>>> = [];
    for (let i = 0; i < WARM; i++) warm.push(await send(path, post));
    // Warm requests after a pause, as the first one comes after the Worker started: the CPU's
    // caches have cooled meanwhile (the model's 4.8 MB of float weights no longer sit in them).
    const paused: Array<Awaited<ReturnType<typeof send>>> = [];
    for (let i = 0; i < PAUSED; i++) {
      await new Promise((done) => setTimeout(done, 1000));
      paused.push(await send(path, post));
    }
    // The Worker's thread: the workerd main thread that worked most on the warm requests.
    const busiest = threads
      .map((_, i) => i)
      .reduce((best, i) => (mean(warm.map((w) => w.cpu[i])) > mean(warm.map((w) => w.cpu[best])) ? i : best), 0);
    return {
      harnessWarmed: warmHarness,
      first: { trip: first.trip, own: first.own, cpu: first.cpu[busiest] },
      warm: {
        trip: median(warm.map((w) => w.trip)),
        own: mean(warm.map((w) => w.own)),
        cpu: median(warm.map((w) => w.cpu[busiest])),
      },
      paused: {
        trip: median(paused.map((w) => w.trip)),
        own: mean(paused.map((w) => w.own)),
        cpu: median(paused.map((w) => w.cpu[busiest])),
      },
    };
  } finally {
    await stop(child);
  }
}

const results: Run[] = [];
for (let run = 0; run < runs; run++) results.push(await measure('.', '/classify', true, run % 2 === 1));

const trivialRuns: Run[] = [];
if (trivial) {
  // A Worker that does nothing, with a static stylesheet of its own: the harness's share.
  const dir = mkdtempSync(join(tmpdir(), 'trivial-worker-'));
  writeFileSync(join(dir, 'worker.js'), "export default { fetch: () => new Response('ok') };\n");
  writeFileSync(
    join(dir, 'wrangler.toml'),
    'name = "trivial"\nmain = "worker.js"\ncompatibility_date = "2025-09-01"\ncompatibility_flags = ["nodejs_compat"]\n[assets]\ndirectory = "./public"\n',
  );
  mkdirSync(join(dir, 'public'));
  writeFileSync(join(dir, 'public', 'style.css'), 'body { margin: 0 }\n');
  try {
    for (let run = 0; run < runs; run++) trivialRuns.push(await measure(dir, '/classify', true, run % 2 === 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const what = page ? `the page's ${small.width}×${small.height} PNG` : 'one MNIST digit as JSON';
console.log(
  `POST /classify with ${what}, ${runs} fresh \`wrangler dev\`${noCompat ? ' --compatibility-flags no_nodejs_compat' : ''} starts, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
const warmed = results.filter((r) => r.harnessWarmed);
const cold = results.filter((r) => !r.harnessWarmed);
const firsts = (rs: Run[], k: keyof Run['first']) => rs.map((r) => r.first[k]);
const warms = (rs: Run[], k: keyof Run['warm']) => rs.map((r) => r.warm[k]);
const ratio = (a: number, b: number) => `${f(a)} / ${f(b)} = ${(a / b).toFixed(2)}×`;
const row = (label: string, first: number[], warm: number[]) =>
  console.log(`  ${label}: ${ratio(median(first), median(warm))}   (first: ${list(first)}; warm: ${list(warm)})`);
console.log(`medians over the runs, first / warm (ms; warm: median of ${WARM}, Server-Timing: mean of ${WARM}):`);
console.log(' after a static asset warmed workerd and wrangler dev:');
row("CPU of the Worker's workerd thread  ← the criterion (≤ 2×)", firsts(warmed, 'cpu'), warms(results, 'cpu'));
row("the Worker's own time (Server-Timing app;dur, wall)", firsts(warmed, 'own'), warms(results, 'own'));
row('round trip', firsts(warmed, 'trip'), warms(results, 'trip'));
row(
  `CPU, against warm ones each sent after a 1 s pause (median of ${PAUSED})`,
  firsts(warmed, 'cpu'),
  results.map((r) => r.paused.cpu),
);
if (trivial) {
  const tw = trivialRuns.filter((r) => r.harnessWarmed);
  row("  a trivial Worker (`new Response('ok')`), CPU", firsts(tw, 'cpu'), warms(trivialRuns, 'cpu'));
  row(
    '  the same, against warm ones after a 1 s pause',
    firsts(tw, 'cpu'),
    trivialRuns.map((r) => r.paused.cpu),
  );
  const extra = (rs: Run[], all: Run[]) => median(firsts(rs, 'cpu')) - median(warms(all, 'cpu'));
  console.log(
    `  the first request's extra CPU, this Worker minus the trivial one: ${f(extra(warmed, results))} − ${f(extra(tw, trivialRuns))} = ${f(extra(warmed, results) - extra(tw, trivialRuns))} ms`,
  );
}
console.log(' the very first request to the fresh wrangler dev:');
row("CPU of the Worker's workerd thread", firsts(cold, 'cpu'), warms(results, 'cpu'));
row("the Worker's own time (Server-Timing app;dur, wall)", firsts(cold, 'own'), warms(results, 'own'));
row('round trip', firsts(cold, 'trip'), warms(results, 'trip'));
if (trivial) {
  const tc = trivialRuns.filter((r) => !r.harnessWarmed);
  row("  a trivial Worker (`new Response('ok')`), CPU", firsts(tc, 'cpu'), warms(trivialRuns, 'cpu'));
  row("  a trivial Worker's round trip", firsts(tc, 'trip'), warms(trivialRuns, 'trip'));
}
