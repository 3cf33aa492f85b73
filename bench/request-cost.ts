// CPU per request kind on the Worker's own code path, in Node (same V8, same tfjs wasm SIMD kernels):
// the Hono app from src/worker/app.ts answers `app.request()` exactly as workerd would — body limit,
// content-type gate, zod validation, parse → decode → normalise → forward pass → JSON. Each kind is
// sent `rounds` times in a row after two warm-up requests (as an isolate serving that kind would
// see it; interleaving kinds bills one kind's garbage collection to the next), after one request of
// every kind has warmed the code they share (router, validation, JSON: a busy isolate's is warm,
// and the first kind measured would otherwise pay for it), and the median CPU
// time (process.cpuUsage, user+system: V8's background GC threads count against us) is printed
// beside the free plan's 10 ms, with the part of it that is Node's own Request body plumbing
// (undici's JS streams; workerd hands a Worker its body in native code). Then one digit's forward pass, ours vs PyTorch on one thread, as
// medians in the same run.
//
// Run: npx tsx bench/request-cost.ts [rounds=15] [--quick]   (--quick skips the 4 and 12 MP pictures)
import './worker-modules.ts'; // must come first: lets Node import the Worker's .wasm / .bin modules
import { encode as encodePng } from 'fast-png';
import { reduceCanvas } from '../public/reduce.js';
import { PIXEL_COUNT, scalePixels } from '../src/shared/model-spec.ts';
import { renderCanvasRgba, renderPaperDigit } from '../test/support/client-images.ts';
import { withRowFilters } from '../test/support/filtered-png.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { benchNumberPicture } from '../test/support/number-images.ts';
import { median } from './stats.ts';
import { type TorchResult, torchForward } from './torch.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 15);
const FREE_PLAN_MS = 10;
/** wrangler.toml's [vars] as committed. */
const env = { MAX_BATCH: 256, MAX_PICTURE_MEGAPIXELS: 16.8 };

const { app } = await import('../src/worker/app.ts');
const { getRuntime } = await import('../src/worker/inference/runtime.ts');

const mnist = loadMnistTest();
const digit = (i: number) => mnist.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT);
const json = (body: unknown) => ({ type: 'application/json', body: JSON.stringify(body) });

interface Case {
  name: string;
  path?: string;
  type: string;
  body: string | Uint8Array;
  /** Bytes on the wire, for the table. */
  bytes?: number;
}
const cases: Case[] = [];
const add = (name: string, c: { type: string; body: string | Uint8Array }, path = '/classify') =>
  cases.push({
    name,
    path,
    ...c,
    bytes: typeof c.body === 'string' ? new TextEncoder().encode(c.body).length : c.body.length,
  });

add('JSON, one digit', json({ pixels: Array.from(digit(0)) }));
for (const n of [1, 8, 32, 256])
  add(`JSON, batch of ${n}`, json({ images: Array.from({ length: n }, (_, i) => Array.from(digit(i))) }));

// The page: before, the 280×280 RGBA canvas PNG it used to post; now, what public/app.js posts
// (public/reduce.js run on the same canvas pixels, sent as a small opaque PNG).
const canvasRgba = renderCanvasRgba(digit(0));
add('page, before: 280×280 RGBA canvas PNG', {
  type: 'image/png',
  body: encodePng({ width: 280, height: 280, data: canvasRgba, channels: 4, depth: 8 }),
});
const small = reduceCanvas(canvasRgba, 280, 280);
add(`page, now: ${small.width}×${small.height} reduced PNG`, {
  type: 'image/png',
  body: encodePng({ width: small.width, height: small.height, data: small.rgba, channels: 4, depth: 8 }),
});

// POST /read: a 4-digit number, ~0.3 MP, as a noisy RGB scan and as a JPEG photo.
for (const style of ['scan', 'jpeg'] as const) {
  const pic = benchNumberPicture(mnist, style);
  add(
    `/read, 4 digits, ${((pic.width * pic.height) / 1e6).toFixed(2)} MP ${style === 'scan' ? 'RGB PNG scan' : 'JPEG photo'} (${pic.width}×${pic.height})`,
    { type: pic.mediaType, body: pic.bytes },
    '/read',
  );
}

const sizes: Array<[string, number, number]> = [
  ['0.1 MP', 365, 274],
  ['0.3 MP', 632, 474],
  ['1 MP', 1155, 866],
  ['4 MP', 2309, 1732],
  ['12 MP', 4000, 3000],
];
for (const [label, w, h] of sizes) {
  if (quick && (label === '4 MP' || label === '12 MP')) continue;
  if (label !== '12 MP')
    add(`PNG ${label} (${w}×${h} RGB scan)`, { type: 'image/png', body: renderPaperDigit(digit(1), w, h, 'png') });
  if (label === '0.3 MP' || label === '1 MP') {
    add(`PNG ${label} (${w}×${h} RGB scan, rows filtered as libpng does)`, {
      type: 'image/png',
      body: withRowFilters(renderPaperDigit(digit(1), w, h, 'png')),
    });
  }
  if (label === '0.3 MP' || label === '1 MP')
    add(`PNG ${label} (${w}×${h} gray scan)`, {
      type: 'image/png',
      body: renderPaperDigit(digit(1), w, h, 'gray-png'),
    });
  add(`JPEG ${label} (${w}×${h} photo, q85)`, { type: 'image/jpeg', body: renderPaperDigit(digit(2), w, h, 'jpeg') });
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * CPU of this thread alone, where Node can tell (process.threadCpuUsage: Node 24; not Node 20):
 * the request's own work without what V8's helper threads (concurrent GC, compilation) did beside
 * it. Workers bill the isolate's thread; the whole-process figure stays the one compared to 10 ms.
 */
const threadCpuUsage = (process as { threadCpuUsage?: () => { user: number; system: number } }).threadCpuUsage;
function threadCpuMs(): number {
  const { user, system } = threadCpuUsage!.call(process);
  return (user + system) / 1000;
}

/**
 * As an HTTP client sends a body it holds (curl, browsers' fetch, Python's requests): with its
 * length. Without one (a chunked upload), Hono's body limit counts the bytes through a stream and
 * rebuilds the Request: in Node ~0.1 ms more for one JSON digit, ~0.4 ms for a 0.3 MP PNG.
 */
const headersOf = (c: Case) => ({ 'content-type': c.type, 'content-length': String(c.bytes) });
const bodyOf = (c: Case) => (typeof c.body === 'string' ? c.body : new Uint8Array(c.body));

for (const c of cases) {
  const response = await app.request(
    c.path ?? '/classify',
    { method: 'POST', headers: headersOf(c), body: bodyOf(c) },
    env,
  );
  await response.arrayBuffer();
}

const times = new Map<Case, number[]>(cases.map((c) => [c, []]));
/** Node's own Request body plumbing (undici's streams), which workerd does natively: the same body into a Request and out. */
const bodyTimes = new Map<Case, number[]>(cases.map((c) => [c, []]));
const threadTimes = new Map<Case, number[]>(cases.map((c) => [c, []]));
const status = new Map<Case, string>();
for (const c of cases) {
  const body = bodyOf(c);
  const headers = headersOf(c);
  for (let round = -2; round < rounds; round++) {
    const bodyStart = cpuMs();
    await new Request('http://localhost/', { method: 'POST', headers, body }).arrayBuffer();
    if (round >= 0) bodyTimes.get(c)!.push(cpuMs() - bodyStart);
    const threadStart = threadCpuUsage ? threadCpuMs() : 0;
    const start = cpuMs();
    const response = await app.request(c.path ?? '/classify', { method: 'POST', headers, body }, env);
    const text = await response.text();
    const elapsed = cpuMs() - start;
    if (threadCpuUsage && round >= 0) threadTimes.get(c)!.push(threadCpuMs() - threadStart);
    if (round === -2)
      status.set(
        c,
        response.ok
          ? `${response.status} → ${JSON.parse(text).digit ?? 'batch'}`
          : `${response.status} ${JSON.parse(text).error.code}`,
      );
    else if (round >= 0) times.get(c)!.push(elapsed);
  }
}

const kb = (n: number) => (n >= 1e6 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
console.log(
  `CPU per request on the Worker's code path in Node ${process.version}, median of ${rounds} (free plan: ${FREE_PLAN_MS} ms)\n`,
);
console.log(
  "| request | body | answer | CPU ms (median) | of which Node's Request body | the rest | this thread alone | free plan (on the whole) |",
);
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | --- |');
for (const c of cases) {
  const ms = median(times.get(c)!);
  const body = median(bodyTimes.get(c)!);
  const thread = threadCpuUsage ? median(threadTimes.get(c)!).toFixed(1) : '—';
  console.log(
    `| ${c.name} | ${kb(c.bytes!)} | ${status.get(c)} | ${ms.toFixed(1)} | ${body.toFixed(1)} | ${(ms - body).toFixed(1)} | ${thread} | ${ms <= FREE_PLAN_MS ? 'fits' : `${(ms / FREE_PLAN_MS).toFixed(1)}× over`} |`,
  );
}
if (!threadCpuUsage)
  console.log('\n"This thread alone" needs process.threadCpuUsage (Node 24); this Node counts the whole process only.');
console.log(
  "\nNode's Request body: the same body put into a Request and read back (undici's JS streams), which workerd does in native code: bench/workerd-cost.ts measures the Worker there.",
);

// The forward pass of one digit and of a batch of 256, ours (conv2 as Winograd) vs PyTorch on one
// thread, with the same weights; ours before and after PyTorch, so both see the same machine.
const { classifier } = await getRuntime();
console.log(`\nconv2: ${classifier.conv2Kernel}`);
for (const count of [1, 256]) {
  const pixels = Float32Array.from(mnist.images.subarray(0, count * PIXEL_COUNT));
  const reps = count === 1 ? 10 + rounds * 10 : 3 + rounds;
  const ours: number[] = [];
  const timeOurs = async () => {
    for (let i = 0; i < reps; i++) {
      const start = cpuMs();
      await classifier.classify(pixels, count);
      if (i >= (count === 1 ? 10 : 3)) ours.push(cpuMs() - start);
    }
  };
  await timeOurs();
  let torch: TorchResult | undefined;
  try {
    const expected = await classifier.probabilities(pixels, count);
    torch = torchForward(scalePixels(pixels), expected, count === 1 ? rounds * 20 : rounds * 2);
  } catch (error) {
    console.log(`PyTorch: NOT MEASURED — ${(error as Error).message.split('\n')[0]}; install Debian's python3-torch.`);
  }
  await timeOurs();
  const oursMs = median(ours);
  const what = count === 1 ? 'one digit' : `a batch of ${count}`;
  console.log(
    `\nforward pass, ${what}: ours ${oursMs.toFixed(2)} ms CPU (median of ${ours.length}, before and after PyTorch)`,
  );
  if (torch) {
    console.log(
      `forward pass, ${what}: PyTorch ${torch.torch} on one thread ${torch.median_ms.toFixed(2)} ms CPU; same probabilities to ${torch.max_abs_diff.toExponential(1)}`,
    );
    console.log(`ratio PyTorch/ours: ${(torch.median_ms / oursMs).toFixed(2)} (≥ 1 means ours is at least as fast)`);
  }
}
