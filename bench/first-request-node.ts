// The Worker's own first request vs warm ones, without wrangler dev's proxy chain (whose cold path
// costs a trivial Worker 40–160 ms by itself): a fresh Node process imports the Worker's entry
// (src/worker/index.ts, so module evaluation, the runtime start and the warm-up run as in workerd),
// then times POST /classify (one MNIST digit as JSON, and the page's 140×140 PNG) through its fetch:
// the first of each, then the median of 30 more. CPU time (process.cpuUsage). Node's own fetch
// classes are loaded first (workerd has them ready), and tsx compiles TypeScript on import, so
// "module evaluation" here is much more than workerd's startup (see `wrangler check startup`).
// Run: npx tsx bench/first-request-node.ts [runs=5] [projectDir=.]
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { median } from './stats.ts';

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'child') {
  const dir = rest[0];
  await import(`${dir}/bench/worker-modules.ts`);
  const { encode: encodePng } = await import('fast-png');
  const { loadMnistTest } = await import(`${dir}/test/support/mnist-files.ts`);
  const { renderCanvasRgba } = await import(`${dir}/test/support/client-images.ts`);
  const { reduceCanvas } = await import(`${dir}/public/reduce.js`);
  const digit = loadMnistTest().images.subarray(0, 784);
  const small = reduceCanvas(renderCanvasRgba(digit), 280, 280);
  const bodies = {
    json: { type: 'application/json', body: JSON.stringify({ pixels: Array.from(digit) }) },
    page: {
      type: 'image/png',
      body: encodePng({ width: small.width, height: small.height, data: small.rgba, channels: 4, depth: 8 }),
    },
  };
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  // Node loads its fetch classes (undici) on their first use, ~20 ms that workerd does not pay:
  // load them before the Worker, so the first request measures the Worker's own code. A Request's
  // AbortSignal (an EventTarget, set up on its first use: ~2.7 ms in a profile of the first
  // request) too.
  const preload = new Request('http://localhost/', { method: 'POST', body: '{}' });
  preload.signal.addEventListener('abort', () => {});
  await new Response(preload.body).text();
  await Response.json({}).json();
  const t0 = cpu();
  const { default: worker } = await import(`${dir}/src/worker/index.ts`);
  const startup = cpu() - t0;
  const kind = rest[1] as keyof typeof bodies;
  const send = async () => {
    const s = cpu();
    const res = await worker.fetch(
      new Request('http://localhost/classify', {
        method: 'POST',
        headers: { 'content-type': bodies[kind].type },
        body: bodies[kind].body as BodyInit,
      }),
    );
    await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return cpu() - s;
  };
  const first = await send();
  const warm: number[] = [];
  for (let i = 0; i < 30; i++) warm.push(await send());
  console.log(JSON.stringify({ startup, first, warm: median(warm) }));
} else {
  const runs = Number(mode ?? 5);
  const dir = resolve(rest[0] ?? '.');
  for (const kind of ['json', 'page']) {
    const results = Array.from({ length: runs }, () =>
      JSON.parse(
        execFileSync('npx', ['tsx', resolve('bench/first-request-node.ts'), 'child', dir, kind], { encoding: 'utf8' })
          .trim()
          .split('\n')
          .pop()!,
      ),
    );
    const m = (k: string) => median(results.map((r) => r[k]));
    console.log(
      `${dir} ${kind}: module evaluation ${m('startup').toFixed(0)} ms; first request ${m('first').toFixed(1)} ms, warm ${m('warm').toFixed(1)} ms → ${(m('first') / m('warm')).toFixed(2)}× (CPU, medians of ${runs} fresh processes)`,
    );
  }
}
