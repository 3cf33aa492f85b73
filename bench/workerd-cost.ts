// CPU per request inside workerd itself: starts `wrangler dev`, sends each request kind N times and
// reads CPU time from /proc (Linux): per request, the workerd thread that runs the Worker
// (schedstat, ns), and over all N, every workerd process (utime+stime). Both include workerd's HTTP
// handling and wrangler dev's own proxy worker, so GET /healthz is measured as the floor to
// subtract; for bodies, the same body sent to POST /healthz (answered 405 without reading it, then
// drained by wrangler dev) is a second floor that also counts carrying the body to the Worker. A cross-check for bench/request-cost.ts (Node): workerd's DecompressionStream
// is native code, Node's runs through JS streams.
// Run: npx tsx bench/workerd-cost.ts [requests=60] [--no-nodejs-compat] [--ratio]   (PORT=… to choose wrangler dev's port)
//   Then: the largest batch within the free plan's 10 ms, and a batch of 256's Server-Timing against
//   PyTorch 1.13's one-thread forward pass of the same digits (--ratio: only that).
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
import { benchNumberPicture } from '../test/support/number-images.ts';
import { median } from './stats.ts';
import { type TorchResult, torchForward } from './torch.ts';
import { threadCpuMs, workerdMainThreads } from './workerd-threads.ts';

const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 60);
const noNodejsCompat = process.argv.includes('--no-nodejs-compat');
/** --ratio: only the batch of 256 against PyTorch, no table. */
const ratioOnly = process.argv.includes('--ratio');
const PORT = Number(process.env.PORT ?? 8792);
const BASE = `http://127.0.0.1:${PORT}`;
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const mnist = loadMnistTest();
/** Batch sizes in the table: the 1, 8, 32, 256, and 16, 24 for the free plan's 10 ms. */
const BATCHES = [1, 8, 16, 24, 32, 256];
const FREE_PLAN_MS = 10;
/** Batch size → the Worker's thread CPU minus the same body's floor (ms). */
const batchCpu = new Map<number, number>();
const digit = (i: number) => mnist.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT);
const small = reduceCanvas(renderCanvasRgba(digit(0)), 280, 280);
const numberPicture = (style: 'scan' | 'jpeg', touching = false) => {
  const pic = benchNumberPicture(mnist, style, touching);
  const what = style === 'scan' ? 'RGB PNG scan' : 'JPEG photo';
  return [
    `/read, 4 ${touching ? 'touching ' : ''}digits, ${((pic.width * pic.height) / 1e6).toFixed(2)} MP ${what}`,
    pic.mediaType,
    pic.bytes,
    '/read',
  ] as const;
};
const kinds: Array<readonly [string, string | undefined, string | Uint8Array | undefined, string?]> = [
  ['GET /healthz (floor)', undefined, undefined],
  ['JSON, one digit', 'application/json', JSON.stringify({ pixels: Array.from(digit(0)) })],
  ...BATCHES.map(
    (b) =>
      [
        `JSON, batch of ${b}`,
        'application/json',
        JSON.stringify({ images: Array.from({ length: b }, (_, i) => Array.from(digit(i))) }),
      ] as const,
  ),
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
  numberPicture('jpeg'),
  numberPicture('scan'),
  numberPicture('jpeg', true),
  numberPicture('scan', true),
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
  for (const [name, type, body, path] of ratioOnly ? [] : kinds) {
    const route = path ?? (type ? '/classify' : '/healthz');
    for (let i = 0; i < 5; i++) await send(type, body, route); // warm
    const before = cpuTicks(pids);
    const perThread: number[][] = [];
    for (let i = 0; i < n; i++) perThread.push(await send(type, body, route));
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
    const batch = /^JSON, batch of (\d+)$/.exec(name);
    if (batch) batchCpu.set(Number(batch[1]), own - median(bodyFloor));
    console.log(
      `| ${name} | ${own.toFixed(1)} | ${minus(own, threadFloor)} | ${type ? minus(own, median(bodyFloor)) : '—'} | ${ms.toFixed(1)} | ${minus(ms, floor)} |`,
    );
  }
  const fits = ratioOnly ? [] : [...batchCpu].filter(([, ms]) => ms <= FREE_PLAN_MS).map(([b]) => b);
  if (!ratioOnly)
    console.log(
      `\nlargest batch within the free plan's ${FREE_PLAN_MS} ms (the Worker's thread minus the same body's floor; of ${BATCHES.join(', ')}): ${fits.length ? Math.max(...fits) : 'none'}`,
    );

  // A batch of 256: the Worker's own time (Server-Timing app;dur) against PyTorch's one-thread
  // forward pass of the same 256 digits, in the same sitting (ours before and after PyTorch).
  const count = 256;
  const images = Array.from({ length: count }, (_, i) => Array.from(digit(i)));
  const own: number[] = [];
  let probabilities: number[] = [];
  const timeOwn = async (requests: number) => {
    for (let i = 0; i < requests + 3; i++) {
      let res: Response;
      try {
        res = await fetch(`${BASE}/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ images }),
        });
      } catch {
        // wrangler dev reloads when a source file changes: wait for it and warm up again.
        await new Promise((ok) => setTimeout(ok, 5000));
        i = -1;
        continue;
      }
      const body = (await res.json()) as { predictions: Array<{ probabilities: number[] }> };
      probabilities = body.predictions.flatMap((p) => p.probabilities);
      const dur = Number(/app;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1]);
      if (i >= 3) own.push(dur);
    }
  };
  await timeOwn(Math.min(n, 20));
  let torch: TorchResult | undefined;
  try {
    const scaled = Float32Array.from(mnist.images.subarray(0, count * PIXEL_COUNT), (p) => p / 255);
    torch = torchForward(scaled, Float32Array.from(probabilities), 20);
  } catch (error) {
    console.log(`PyTorch: NOT MEASURED — ${(error as Error).message.split('\n')[0]}`);
  }
  await timeOwn(Math.min(n, 20));
  const ownMs = median(own);
  console.log(
    `batch of ${count}: the Worker's own time (Server-Timing app;dur) ${ownMs.toFixed(1)} ms, median of ${own.length}`,
  );
  if (torch) {
    console.log(
      `batch of ${count}: PyTorch ${torch.torch} one thread ${torch.median_ms.toFixed(1)} ms CPU (same probabilities to ${torch.max_abs_diff.toExponential(1)}); ratio PyTorch/ours ${(torch.median_ms / ownMs).toFixed(2)}`,
    );
  }
} finally {
  process.kill(-child.pid!, 'SIGTERM');
}
