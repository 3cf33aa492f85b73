// Per-kernel profile of one training step at batch 128 on one thread, summed by kernel.
//   keras: model.trainOnBatch, the trainer before the custom loop (fitDataset did the same per batch)
//   loop:  the custom loop's step: shard gradients (network.ts) + one Keras-Adadelta update
// Kernel times are tf.profile's (wall clock), or with `cpu` each kernel's CPU time (process.cpuUsage
// around every top-level wasm kernel, medians of 7 steps): steadier on a shared machine.
// Run: npx tsx bench/profile-step.ts [keras|loop] [cpu]
import * as tf from '@tensorflow/tfjs';
import { getKernelsForBackend, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { loadSplit, take } from '../src/train/data/mnist.ts';
import { useWasmBackend } from '../src/train/kernels/backend.ts';
import { shardGradients } from '../src/train/replicas/network.ts';
import { buildModel } from '../src/train/run/model.ts';
import { toTensors, trainableVariables } from '../src/train/run/train.ts';
import { cpuMs, median } from './stats.ts';

const mode = process.argv[2] ?? 'loop';
const cpuMode = process.argv[3] === 'cpu';
await useWasmBackend();
// Per step: kernel name → [calls, ms]. Kernels called by kernels count in their caller.
let stepKernels = new Map<string, [number, number]>();
if (cpuMode) {
  let depth = 0;
  for (const config of getKernelsForBackend('wasm')) {
    const inner = config.kernelFunc;
    unregisterKernel(config.kernelName, 'wasm');
    registerKernel({
      ...config,
      kernelFunc: (args) => {
        const start = depth++ === 0 ? cpuMs() : 0;
        try {
          return inner(args);
        } finally {
          if (--depth === 0) {
            const [calls, ms] = stepKernels.get(config.kernelName) ?? [0, 0];
            stepKernels.set(config.kernelName, [calls + 1, ms + cpuMs() - start]);
          }
        }
      },
    });
  }
}
const train = take(await loadSplit('train'), 128);
const model = buildModel({ seed: 1 });
const { xs, ys } = toTensors(train);
const variables = trainableVariables(model);
const indices = Array.from({ length: 128 }, (_, i) => i);
let globalStep = 0;
const step =
  mode === 'keras'
    ? async () => void (await model.trainOnBatch(xs, ys))
    : async () => {
        const { grads } = shardGradients(variables, train, indices, 128, {
          seed: 1,
          step: globalStep++,
          firstPosition: 0,
        });
        model.optimizer.applyGradients(Object.fromEntries(variables.map((v, i) => [v.name, grads[i]])));
        tf.dispose(grads);
      };
await step();
await step();
if (cpuMode) {
  const steps: Map<string, [number, number]>[] = [];
  const totals: number[] = [];
  for (let i = 0; i < 7; i++) {
    stepKernels = new Map();
    const start = cpuMs();
    await step();
    totals.push(cpuMs() - start);
    steps.push(stepKernels);
  }
  const names = [...new Set(steps.flatMap((s) => [...s.keys()]))];
  const rows = names
    .map((name) => [name, steps[0].get(name)?.[0] ?? 0, median(steps.map((s) => s.get(name)?.[1] ?? 0))] as const)
    .sort((a, b) => b[2] - a[2]);
  const inKernels = median(steps.map((s) => [...s.values()].reduce((sum, [, ms]) => sum + ms, 0)));
  console.log(`${mode}: one step of 128 on one thread, ${median(totals).toFixed(0)} ms CPU (median of 7)\n`);
  console.log('| kernel | calls | CPU ms |\n| --- | --- | --- |');
  for (const [name, calls, ms] of rows) if (ms >= 0.5) console.log(`| ${name} | ${calls} | ${ms.toFixed(1)} |`);
  console.log(`| all kernels | | ${inKernels.toFixed(1)} |`);
  console.log(`| outside kernels (JS, tfjs engine, optimizer) | | ${(median(totals) - inKernels).toFixed(1)} |`);
  process.exit(0);
}
// CPU time as well as wall time: on a shared machine the CPU time is the steadier figure.
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < 5; i++) await step();
const wall = (performance.now() - t0) / 5;
const cpu = process.cpuUsage(cpu0).user / 1000 / 5;
const info = await tf.profile(step);
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += Number(k.kernelTimeMs);
  e.n++;
  byKernel.set(k.name, e);
}
const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((s, [, e]) => s + e.ms, 0);
console.log(
  `${mode}: one step of 128 on one thread, ${wall.toFixed(0)} ms wall, ${cpu.toFixed(0)} ms CPU (means of 5)\n`,
);
console.log('| kernel | calls | ms |\n| --- | --- | --- |');
for (const [name, e] of rows) if (e.ms >= 0.5) console.log(`| ${name} | ${e.n} | ${e.ms.toFixed(1)} |`);
console.log(`| all kernels | ${info.kernels.length} | ${total.toFixed(1)} |`);
if (process.env.PROFILE_DETAIL)
  for (const k of info.kernels)
    if (Number(k.kernelTimeMs) > 2 || k.name === process.env.PROFILE_DETAIL)
      console.log(k.name, JSON.stringify(k.inputShapes), Number(k.kernelTimeMs).toFixed(1));
