// Stock tfjs-backend-wasm kernels vs the training kernels of src/train/kernels/kernels.ts, side by side at
// the Keras recipe model's sizes (batch 128), in CPU ms (medians). Run: npx tsx bench/kernels.ts [rounds]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { getKernel, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  CONV_BIAS_RELU_POOL,
  CONV_FILTER_BIAS_GRAD,
  CONV_INPUT_GRAD,
  RELU_GRAD,
  registerTrainingKernels,
} from '../src/train/kernels/kernels.ts';
import { loadWinogradCompiler } from '../src/train/kernels/winograd.ts';
import { compare, cpuMs } from './stats.ts';

const rounds = Number(process.argv[2] ?? 7);
const stock = {
  backpropInput: getKernel('Conv2DBackpropInput', 'wasm'),
  batchMatMul: getKernel('BatchMatMul', 'wasm'),
  maxPoolGrad: getKernel('MaxPoolGrad', 'wasm'),
};
registerTrainingKernels();
await loadWinogradCompiler();
await tf.setBackend('wasm');
const backend = tf.backend();
stock.backpropInput.setupFunc?.(backend);

/** Runs a kernel config directly (bypassing the registry) and waits for its result. */
function runStock(config: KernelConfig, inputs: Record<string, tf.Tensor>, attrs: object): void {
  const out = config.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend }) as TensorInfo;
  backend.readSync(out.dataId);
  backend.disposeData(out.dataId);
}
function runAndRead(name: string, inputs: Record<string, tf.Tensor>, attrs: object): void {
  const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  for (const t of [out].flat()) {
    t.dataSync();
    t.dispose();
  }
}

const x = tf.randomNormal([128, 26, 26, 32]);
const w = tf.randomNormal([3, 3, 32, 64]);
const dy = tf.randomNormal([128, 24, 24, 64]);
const conv = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined };
// dy as the model's relu gradient leaves it: at x's width, zero in the two extra columns.
const dyWide = dy.pad([
  [0, 0],
  [0, 0],
  [0, 2],
  [0, 0],
]);
const bias = tf.randomNormal([64]);
const y = tf.relu(tf.randomNormal([128, 24, 24, 64]));
const pooled = tf.maxPool(y as tf.Tensor4D, 2, 2, 'valid');
const poolDy = tf.randomNormal(pooled.shape);
const pool = { filterSize: 2, strides: 2, pad: 'valid' };
const flat = tf.randomNormal([128, 9216]);
const g = tf.randomNormal([128, 128]);
const denseW = tf.randomNormal([9216, 128]);

console.log(`tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, ${rounds} rounds, medians in CPU ms`);
const t = await compare(
  {
    'forward Conv2D (reference)': () => runAndRead('Conv2D', { x, filter: w }, { ...conv, dilations: 1 }),
    'Conv2DBackpropInput stock': () =>
      runStock(stock.backpropInput, { dy, filter: w }, { ...conv, inputShape: x.shape }),
    'Conv2DBackpropInput ours': () =>
      runAndRead('Conv2DBackpropInput', { dy, filter: w }, { ...conv, inputShape: x.shape }),
    'input grad Winograd (model, dy wide)': () =>
      runAndRead(CONV_INPUT_GRAD, { dy: dyWide, filter: w }, { inputShape: x.shape }),
    'Conv2DBackpropFilter ours': () => runAndRead('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: w.shape }),
    'filter+bias grad Winograd (model)': () =>
      runAndRead(CONV_FILTER_BIAS_GRAD, { x, dy: dyWide }, { filterShape: w.shape }),
    'conv+bias+relu+pool XNNPACK': () =>
      runAndRead(CONV_BIAS_RELU_POOL, { x, filter: w, bias }, { ...conv, dilations: 1, winograd: false }),
    'conv+bias+relu+pool Winograd': () =>
      runAndRead(CONV_BIAS_RELU_POOL, { x, filter: w, bias }, { ...conv, dilations: 1, winograd: true }),
    'relu grad (model, to x width)': () => runAndRead(RELU_GRAD, { dy, y }, { paddedWidth: 26 }),
    'MaxPoolGrad 2×2 stock': () => runStock(stock.maxPoolGrad, { dy: poolDy, input: y, output: pooled }, pool),
    'MaxPoolGrad 2×2 ours': () => runAndRead('MaxPoolGrad', { dy: poolDy, input: y, output: pooled }, pool),
    'MatMul xᵀ·g stock (transposeA)': () =>
      runStock(stock.batchMatMul, { a: flat, b: g }, { transposeA: true, transposeB: false }),
    'MatMul xᵀ·g ours': () => runAndRead('BatchMatMul', { a: flat, b: g }, { transposeA: true, transposeB: false }),
    'MatMul g·Wᵀ stock (transposeB)': () =>
      runStock(stock.batchMatMul, { a: g, b: denseW }, { transposeA: false, transposeB: true }),
    'MatMul g·Wᵀ ours': () => runAndRead('BatchMatMul', { a: g, b: denseW }, { transposeA: false, transposeB: true }),
  },
  rounds,
  cpuMs,
);
for (const [name, ms] of Object.entries(t)) console.log(`${name.padEnd(34)} ${ms.toFixed(1).padStart(8)}`);
const ratio = (a: string, b: string) => (t[a] / t[b]).toFixed(1);
console.log(`\nConv2DBackpropInput: stock / ours = ${ratio('Conv2DBackpropInput stock', 'Conv2DBackpropInput ours')}×`);
console.log(
  `input gradient: ours by XNNPACK / Winograd = ${ratio('Conv2DBackpropInput ours', 'input grad Winograd (model, dy wide)')}×`,
);
console.log(
  `Conv2DBackpropFilter / forward conv = ${ratio('Conv2DBackpropFilter ours', 'forward Conv2D (reference)')}× (stock: no kernel)`,
);
console.log(
  `filter gradient: by XNNPACK (Conv2DBackpropFilter) / Winograd = ${ratio('Conv2DBackpropFilter ours', 'filter+bias grad Winograd (model)')}×`,
);
console.log(
  `conv2+bias+relu+pool: XNNPACK / Winograd = ${ratio('conv+bias+relu+pool XNNPACK', 'conv+bias+relu+pool Winograd')}×`,
);
console.log(`MaxPoolGrad 2×2: stock / ours = ${ratio('MaxPoolGrad 2×2 stock', 'MaxPoolGrad 2×2 ours')}×`);
console.log(`MatMul transposeA: stock / ours = ${ratio('MatMul xᵀ·g stock (transposeA)', 'MatMul xᵀ·g ours')}×`);
console.log(`MatMul transposeB: stock / ours = ${ratio('MatMul g·Wᵀ stock (transposeB)', 'MatMul g·Wᵀ ours')}×`);
