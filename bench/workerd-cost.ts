// CPU per request inside workerd itself: starts `wrangler dev`, sends each request kind N times and
// reads CPU time from /proc (Linux): per request, the workerd thread that runs the Worker
// (schedstat, ns), and over all N, every workerd process (utime+stime). Both include workerd's HTTP
// handling and wrangler dev's own proxy worker, so GET /healthz is measured as the floor to
// subtract; for bodies, the same body sent to POST /healthz (answered 405 without reading it, then
// drained by wrangler dev) is a second floor that also counts carrying the body to the Worker. A cross-check for bench/request-cost.ts (Node): workerd's DecompressionStream
// is native code, Node's runs through JS streams.
// Run: npx tsx bench/workerd-cost.ts [requests=60] [--no-nodejs-compat]   (PORT=… to choose wrangler dev's port)
//   --no-nodejs-compat: the Worker without wrangler.toml's `nodejs_compat` (PNG rows then inflate
//   through a DecompressionStream instead of the runtime's zlib)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { encode as encodePng } from 'fast-png';
import { reduceCanvas } from '../public/reduce.js';
import { PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { renderCanvasRgba, renderPaperDigit } from '../test/support/client-images.ts';
import { withRowFilters } from '../test/support/filtered-png.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { median } from './stats.ts';
import { threadCpuMs, workerdMainThreads } from './workerd-threads.ts';

const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 60);
const noNodejsCompat = process.argv.includes('--no-nodejs-compat');
const PORT = Number(process.env.PORT ?? 8792);
const BASE = `http://127.0.0.1:${PORT}`;
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const mnist = loadMnistTest();
const digit = (i: number) => mnist.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT);
const small = reduceCanvas(renderCanvasRgba(digit(0)), 280, 280);
const kinds: Array<[string, string | undefined, string | Uint8Array | undefined]> = [
  ['GET /healthz (floor)', undefined, undefined],
  ['JSON, one digit', 'application/json', JSON.stringify({ pixels: Array.from(digit(0)) })],
  [
    'page: 140×140 reduced PNG',
    'image/png',
    encodePng({ width: small.width, height: small.height, data: small.rgba, channels: 4, depth: 8 }),
  ],
  ['PNG 0.3 MP RGB scan', 'image/png', renderPaperDigit(digit(1), 632, 474, 'png')],
  [
    'PNG 0.3 MP RGB scan, rows filtered as libpng does',
    'image/png',
    withRowFilters(renderPaperDigit(digit(1), 632, 474, 'png')),
  ],
  ['PNG 0.3 MP gray scan', 'image/png', renderPaperDigit(digit(1), 632, 474, 'gray-png')],
  ['JPEG 0.3 MP photo', 'image/jpeg', renderPaperDigit(digit(2), 632, 474, 'jpeg')],
  ['PNG 1 MP RGB scan', 'image/png', renderPaperDigit(digit(1), 1155, 866, 'png')],
  ['JPEG 1 MP photo', 'image/jpeg', renderPaperDigit(digit(2), 1155, 866, 'jpeg')],
];

function workerdPids(root: number): number[] {
  const children = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const all: number[] = [];
  const walk = (pid: number) =>
    children(pid).forEach((c) => {
      all.push(c);
      walk(c);
    });
  walk(root);
  return all.filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd');
}
const cpuTicks = (pids: number[]) =>
  pids.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return sum + Number(fields[11]) + Number(fields[12]); // utime + stime
  }, 0);

const child: ChildProcess = spawn(
  'node',
  [
    'node_modules/wrangler/bin/wrangler.js',
    'dev',
    '--port',
    String(PORT),
    '--ip',
    '127.0.0.1',
    ...(noNodejsCompat ? ['--compatibility-flags', 'no_nodejs_compat'] : []),
  ],
  {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
try {
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('wrangler dev did not become ready')), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('Ready on')) return;
      clearTimeout(timer);
      ok();
    });
  });
  const pids = workerdPids(child.pid!);
  if (!pids.length) throw new Error('no workerd process found');
  const threads = workerdMainThreads(child.pid!);
  /** Sends one request; returns the CPU (ms) each workerd main thread spent meanwhile. */
  const send = async (type?: string, body?: string | Uint8Array, path = type ? '/classify' : '/healthz') => {
    const before = threads.map(threadCpuMs);
    const res = await fetch(
      `${BASE}${path}`,
      type
        ? {
            method: 'POST',
            headers: { 'content-type': type },
            body: typeof body === 'string' ? body : new Uint8Array(body!),
          }
        : {},
    );
    await res.arrayBuffer();
    if (!res.ok && !(path === '/healthz' && res.status === 405)) throw new Error(`HTTP ${res.status}`);
    return threads.map((task, i) => threadCpuMs(task) - before[i]);
  };
  console.log(
    `workerd CPU per request${noNodejsCompat ? ', nodejs_compat off' : ''} (${n} requests each; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' ',
      )}): the Worker's thread, median of the requests (/proc/…/schedstat), and all ${pids.length} workerd processes, mean (/proc utime+stime, ${TICK_MS} ms ticks)\n`,
  );
  console.log(
    "| request | the Worker's thread, ms | minus its /healthz floor | minus the same body's floor | all workerd, ms | minus the /healthz floor |",
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  let floor = 0;
  let threadFloor = 0;
  for (const [name, type, body] of kinds) {
    for (let i = 0; i < 5; i++) await send(type, body); // warm
    const before = cpuTicks(pids);
    const perThread: number[][] = [];
    for (let i = 0; i < n; i++) perThread.push(await send(type, body));
    const ms = ((cpuTicks(pids) - before) * TICK_MS) / n;
    // The Worker's thread: the main thread that worked most on these requests.
    const busiest = threads
      .map((_, t) => t)
      .reduce((best, t) => (median(perThread.map((c) => c[t])) > median(perThread.map((c) => c[best])) ? t : best), 0);
    const own = median(perThread.map((c) => c[busiest]));
    if (!type) {
      floor = ms;
      threadFloor = own;
    }
    const minus = (a: number, b: number) => (type ? (a - b).toFixed(1) : '—');
    // The same body sent to POST /healthz (405, drained unread): what carrying it through
    // wrangler dev's proxy worker and workerd costs, which a deployed Worker does not pay.
    const bodyFloor: number[] = [];
    if (type) for (let i = 0; i < Math.min(n, 20); i++) bodyFloor.push((await send(type, body, '/healthz'))[busiest]);
    console.log(
      `| ${name} | ${own.toFixed(1)} | ${minus(own, threadFloor)} | ${type ? minus(own, median(bodyFloor)) : '—'} | ${ms.toFixed(1)} | ${minus(ms, floor)} |`,
    );
  }
} finally {
  process.kill(-child.pid!, 'SIGTERM');
}
