// CPU per request inside workerd itself: starts `wrangler dev`, sends each request kind N times and
// reads the workerd process's CPU time from /proc (Linux) before and after. The figure includes
// wrangler dev's own proxy worker and HTTP handling in workerd, so GET /healthz is measured as the
// floor to subtract. A cross-check for bench/request-cost.ts (Node): workerd's DecompressionStream
// is native code, Node's runs through JS streams.
// Run: npx tsx bench/workerd-cost.ts [requests=60]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { encode as encodePng } from 'fast-png';
import { reduceCanvas } from '../public/reduce.js';
import { PIXEL_COUNT } from '../src/shared/model-spec.ts';
import { renderCanvasRgba, renderPaperDigit } from '../test/support/client-images.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';

const n = Number(process.argv[2] ?? 60);
const PORT = 8792;
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
  ['node_modules/wrangler/bin/wrangler.js', 'dev', '--port', String(PORT), '--ip', '127.0.0.1'],
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
  const send = async (type?: string, body?: string | Uint8Array) => {
    const res = await fetch(
      type ? `${BASE}/classify` : `${BASE}/healthz`,
      type
        ? {
            method: 'POST',
            headers: { 'content-type': type },
            body: typeof body === 'string' ? body : new Uint8Array(body!),
          }
        : {},
    );
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  };
  console.log(
    `workerd CPU per request (${n} requests each, /proc utime+stime of ${pids.length} workerd process(es), ${TICK_MS} ms ticks)\n`,
  );
  console.log('| request | workerd CPU ms / request | minus the /healthz floor |');
  console.log('| --- | ---: | ---: |');
  let floor = 0;
  for (const [name, type, body] of kinds) {
    for (let i = 0; i < 5; i++) await send(type, body); // warm
    const before = cpuTicks(pids);
    for (let i = 0; i < n; i++) await send(type, body);
    const ms = ((cpuTicks(pids) - before) * TICK_MS) / n;
    if (!type) floor = ms;
    console.log(`| ${name} | ${ms.toFixed(1)} | ${type ? (ms - floor).toFixed(1) : '—'} |`);
  }
} finally {
  process.kill(-child.pid!, 'SIGTERM');
}
