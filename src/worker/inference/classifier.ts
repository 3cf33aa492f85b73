/**
 * The CNN's forward pass on tfjs-core ops, driven by LAYERS from the shared model spec: no
 * tfjs-layers, just fused conv2d/matMul kernels (bias and relu in one wasm call), maxPool and
 * softmax. Dropout is the identity at inference; flatten is a reshape (channels-last, like Keras).
 */
import {
  engine,
  fused,
  getBackend,
  io,
  maxPool,
  reshape,
  softmax,
  type Tensor,
  type Tensor2D,
  type Tensor4D,
  type TensorInfo,
  tensor,
  tensor4d,
  tidy,
} from '@tensorflow/tfjs-core';
import { assertNever } from '../../shared/assert-never';
import { CONV2 } from '../../shared/kernels/prebuilt';
import { transformedFilter, winogradConvBiasReluPool } from '../../shared/kernels/tfjs-wasm';
import { multiplyTiles, planesFloats, tilesPerImage } from '../../shared/kernels/winograd';
import {
  INPUT_SHAPE,
  LAYERS,
  type LayerSpec,
  MAX_PIXEL_VALUE,
  NUM_CLASSES,
  PIXEL_COUNT,
  parameterCount,
  scalePixels,
} from '../../shared/model-spec';
import type { ModelArtifacts, TopologyLayer } from './artifacts';
// A type only: the modules (.wasm imports) load in runtime.ts, so Node code can use this file as is.
import type { Conv2Kernels } from './conv2-kernels';

export interface Prediction {
  digit: number;
  confidence: number;
  probabilities: number[];
}

type Weights = Record<string, Tensor>;

/**
 * Winograd's rounding differs from the direct convolution's by ~1e-6 in a probability: a digit whose
 * two largest probabilities are closer than this is recomputed on the exact (stock tfjs) path, so
 * every prediction is stock tfjs's (the trainer's test pass does the same, on logits).
 */
export const NEAR_TIE = 1e-3;

/** The second convolution: the one Winograd computes, with the max-pool that follows it. */
const CONV2_LAYER = LAYERS.filter((layer) => layer.kind === 'conv2d')[1];

/** Whether the two largest of `probs` are within NEAR_TIE. */
function nearTie(probs: Float32Array): boolean {
  let [first, second] = [-1, -1];
  for (const p of probs) {
    if (p > first) [first, second] = [p, first];
    else if (p > second) second = p;
  }
  return first - second < NEAR_TIE;
}

/** conv2's kernels with its filter's transform, computed once at load. */
interface Conv2Winograd extends Conv2Kernels {
  /** U = G g Gᵀ, [36, C, O], kept on the backend for the isolate's lifetime. */
  u: TensorInfo;
}

const KERAS_CLASS: Record<LayerSpec['kind'], string> = {
  conv2d: 'Conv2D',
  maxPooling2d: 'MaxPooling2D',
  dropout: 'Dropout',
  flatten: 'Flatten',
  dense: 'Dense',
};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The forward pass below hard-codes what LAYERS does not say (valid padding, unit conv strides,
 * channels-last): refuse a topology that differs rather than return wrong digits.
 */
function checkTopology(layers: TopologyLayer[]): void {
  const byName = new Map(layers.map((layer) => [String(layer.config.name), layer]));
  for (const spec of LAYERS) {
    const layer = byName.get(spec.name);
    const problem = (what: string) => new Error(`model.json layer ${spec.name}: ${what}`);
    if (!layer) throw problem('missing');
    if (layer.class_name !== KERAS_CLASS[spec.kind])
      throw problem(`is ${layer.class_name}, expected ${KERAS_CLASS[spec.kind]}`);
    const { config } = layer;
    if ('data_format' in config && config.data_format !== 'channels_last') throw problem('must be channels_last');
    if (
      spec.kind === 'conv2d' &&
      !(config.padding === 'valid' && same(config.strides, [1, 1]) && config.activation === spec.activation)
    ) {
      throw problem('expected valid padding, strides 1 and the spec activation');
    }
    if (
      spec.kind === 'maxPooling2d' &&
      !(config.padding === 'valid' && same(config.strides, [spec.poolSize, spec.poolSize]))
    ) {
      throw problem('expected valid padding and strides equal to the pool size');
    }
    if (spec.kind === 'dense' && config.activation !== spec.activation)
      throw problem('activation differs from the spec');
  }
}

/** What the fixed graph needs of tfjs-backend-wasm's `BackendWasm` (public fields, untyped in its d.ts). */
interface WasmBackendInternals {
  wasm: {
    HEAPF32: Float32Array;
    cwrap(
      ident: string,
      returnType: null,
      argTypes: Array<'number' | 'array'>,
    ): (...args: Array<number | Uint8Array>) => void;
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined };
}

/** tfjs-backend-wasm's FusableActivation codes. */
const ACTIVATION = { linear: 0, relu: 1 } as const;
const shapeBytes = (shape: number[]) => new Uint8Array(Int32Array.from(shape).buffer);

/**
 * One digit's forward pass as a fixed graph: the same wasm kernels the tfjs ops call
 * (FusedConv2D ×2, MaxPool, _FusedMatMul ×2, Softmax) with the same arguments, so the results are
 * bit for bit those of the op path, but called straight on buffers allocated once in wasm memory.
 * No tensors are created, no scopes opened, no shapes inferred and nothing copied but the 784
 * inputs in and the 10 probabilities out: per-call overhead goes from ~0.3 ms to a few µs.
 */
class SingleDigitGraph {
  private constructor(
    private readonly backend: WasmBackendInternals,
    private readonly input: { id: number; offset: number },
    private readonly output: { offset: number },
    /** The stock kernels, layer by layer. */
    private readonly exactSteps: Array<() => void>,
    /** The same with conv2 + relu + pool as Winograd (the exact steps when there are no kernels). */
    private readonly fastSteps: Array<() => void>,
  ) {}

  static create(weight: (name: string) => Tensor, conv2?: Conv2Winograd): SingleDigitGraph | undefined {
    if (getBackend() !== 'wasm') return undefined;
    const backend = engine().backend as unknown as WasmBackendInternals;
    if (!backend.wasm?.cwrap || !backend.dataIdMap) return undefined;
    const info = (t: Tensor) => {
      const data = backend.dataIdMap.get(t.dataId);
      if (!data) throw new Error('tensor not on the wasm backend');
      return { id: data.id, offset: data.memoryOffset };
    };
    // Buffers for every activation, kept for the isolate's lifetime (~0.3 MB).
    const buffer = (shape: number[]) => info(tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape));
    const { wasm } = backend;
    const conv2d = wasm.cwrap('FusedConv2D', null, new Array(23).fill('number'));
    const pool = wasm.cwrap('MaxPool', null, new Array(17).fill('number'));
    const matMul = wasm.cwrap('_FusedMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
      'number',
      'number',
      'number',
      'number',
    ]);
    const softmaxKernel = wasm.cwrap('Softmax', null, ['number', 'number', 'number', 'number']);

    const input = buffer([1, ...INPUT_SHAPE]);
    const steps: Array<() => void> = [];
    /** conv2 + pool as one Winograd step writing the pool's output buffer, and where it replaces them. */
    let winograd: ((pooledOffset: number) => () => void) | undefined;
    let winogradFrom = -1;
    let fast: { before: number; step: () => void; after: number } | undefined;
    let current = input;
    let [height, width, channels] = INPUT_SHAPE as unknown as number[];
    let features = 0;
    let output = input;
    for (const layer of LAYERS) {
      switch (layer.kind) {
        case 'conv2d': {
          const k = layer.kernelSize;
          const [x, filter, bias] = [current, info(weight(`${layer.name}/kernel`)), info(weight(`${layer.name}/bias`))];
          const [inH, inW, inC] = [height, width, channels];
          height -= k - 1;
          width -= k - 1;
          channels = layer.filters;
          const outC = channels;
          const out = buffer([1, height, width, outC]);
          const activation = ACTIVATION[layer.activation];
          if (conv2 && layer === CONV2_LAYER) {
            // One image through the Winograd module: tiles → 36 products → bias, relu, 2×2 max-pool.
            const { kernels } = conv2;
            const g = CONV2;
            const perImage = tilesPerImage(g);
            const v = buffer([planesFloats(g, g.channels)]);
            const m = buffer([planesFloats(g, g.outChannels)]);
            const u = info(conv2.u as Tensor).offset;
            winograd = (pooled) => () => {
              kernels.inputTiles(x.offset, v.offset, 1);
              multiplyTiles(kernels, g, perImage, v.offset, u, m.offset);
              kernels.outputPooled(m.offset, bias.offset, pooled, 1);
            };
            winogradFrom = steps.length;
          }
          // Arguments as tfjs-backend-wasm's FusedConv2D kernel passes them for valid padding, unit strides and dilations.
          steps.push(() =>
            conv2d(
              x.id,
              1,
              inH,
              inW,
              filter.id,
              k,
              k,
              bias.id,
              0,
              0,
              0,
              0,
              0,
              1,
              1,
              1,
              1,
              inC,
              outC,
              activation,
              0,
              0,
              out.id,
            ),
          );
          current = out;
          break;
        }
        case 'maxPooling2d': {
          const p = layer.poolSize;
          const [x, inH, inW, c] = [current, height, width, channels];
          height = Math.floor(height / p);
          width = Math.floor(width / p);
          const out = buffer([1, height, width, c]);
          steps.push(() => pool(x.id, 1, inH, inW, p, p, 0, 0, 0, 0, 1, 1, p, p, c, c, out.id));
          current = out;
          if (winograd && !fast) {
            // The Winograd step writes the pool's output: the layers after it read the same buffer.
            fast = { before: winogradFrom, step: winograd(out.offset), after: steps.length };
          }
          break;
        }
        case 'flatten':
          features = height * width * channels; // a reshape: the same buffer
          break;
        case 'dense': {
          const [a, kernel, bias] = [current, info(weight(`${layer.name}/kernel`)), info(weight(`${layer.name}/bias`))];
          const [aShape, bShape] = [shapeBytes([1, 1, features]), shapeBytes([1, features, layer.units])];
          const out = buffer([1, layer.units]);
          const activation = layer.activation === 'relu' ? ACTIVATION.relu : ACTIVATION.linear;
          steps.push(() => matMul(a.id, aShape, 3, kernel.id, bShape, 3, 0, 0, activation, bias.id, 0, 0, out.id));
          current = out;
          if (layer.activation === 'softmax') {
            const [logits, units] = [out, layer.units];
            const probs = buffer([1, units]);
            steps.push(() => softmaxKernel(logits.id, probs.id, units, 1));
            current = probs;
          }
          features = layer.units;
          break;
        }
        case 'dropout':
          break;
        default:
          assertNever(layer, 'layer kind');
      }
      output = current;
    }
    const fastSteps = fast ? [...steps.slice(0, fast.before), fast.step, ...steps.slice(fast.after)] : steps;
    return new SingleDigitGraph(backend, input, output, steps, fastSteps);
  }

  /** Probabilities for one digit of raw 0–255 pixels: Winograd's, or the stock kernels' for a near tie. */
  run(pixels: Float32Array): Float32Array {
    const probs = this.runSteps(pixels, this.fastSteps);
    return this.fastSteps !== this.exactSteps && nearTie(probs) ? this.runSteps(pixels, this.exactSteps) : probs;
  }

  private runSteps(pixels: Float32Array, steps: Array<() => void>): Float32Array {
    // Emscripten replaces HEAPF32 when memory grows: read it on every call.
    const heap = this.backend.wasm.HEAPF32;
    const at = this.input.offset >>> 2;
    for (let i = 0; i < PIXEL_COUNT; i++) heap[at + i] = pixels[i] / MAX_PIXEL_VALUE; // as scalePixels
    for (const step of steps) step();
    const out = this.output.offset >>> 2;
    return this.backend.wasm.HEAPF32.slice(out, out + NUM_CLASSES);
  }
}

export interface ClassifierOptions {
  /** conv2's Winograd kernels (conv2-kernels.ts); without them every pass is stock tfjs's. */
  conv2?: Conv2Kernels;
}

export class DigitClassifier {
  private readonly single: SingleDigitGraph | undefined;
  private readonly conv2: Conv2Winograd | undefined;

  private constructor(
    private readonly weights: Weights,
    options: ClassifierOptions,
  ) {
    if (options.conv2) {
      // The filter's transform, once: the products' right operands for every request.
      const filter = this.weight(`${CONV2_LAYER.name}/kernel`);
      this.conv2 = { ...options.conv2, u: transformedFilter(engine().backend, filter) };
    }
    this.single = SingleDigitGraph.create((name) => this.weight(name), this.conv2);
  }

  /** Decodes (and dequantizes) the weights onto the active backend; call once per isolate. */
  static load(artifacts: ModelArtifacts, options: ClassifierOptions = {}): DigitClassifier {
    checkTopology(artifacts.layers);
    const weights: Weights = io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
    const count = Object.values(weights).reduce((sum, t) => sum + t.size, 0);
    if (count !== parameterCount()) throw new Error(`weights hold ${count} parameters, the spec ${parameterCount()}`);
    return new DigitClassifier(weights, options);
  }

  /** Which conv2 runs: 'winograd-relaxed', 'winograd-plain' or 'direct' (stock tfjs). */
  get conv2Kernel(): string {
    return this.conv2 ? `winograd-${this.conv2.variant}` : 'direct';
  }

  private weight(name: string): Tensor {
    const tensor = this.weights[name];
    if (!tensor) throw new Error(`weight ${name} missing from the manifest`);
    return tensor;
  }

  /**
   * Probabilities for `count` digits of raw 0–255 pixels laid end to end, as one batch: conv2 as
   * Winograd, the near ties (NEAR_TIE) recomputed on the exact path, so the predictions are stock tfjs's.
   */
  async probabilities(pixels: Float32Array, count: number): Promise<Float32Array> {
    if (pixels.length !== count * PIXEL_COUNT) throw new Error('pixel buffer does not match the batch size');
    if (count === 1 && this.single) return this.single.run(pixels);
    const probs = await this.batchProbabilities(pixels, count, !this.conv2);
    if (!this.conv2) return probs;
    const ties: number[] = [];
    for (let i = 0; i < count; i++) if (nearTie(probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES))) ties.push(i);
    if (ties.length) {
      const again = new Float32Array(ties.length * PIXEL_COUNT);
      for (const [r, i] of ties.entries()) {
        again.set(pixels.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT), r * PIXEL_COUNT);
      }
      const exact = await this.batchProbabilities(again, ties.length, true);
      for (const [r, i] of ties.entries()) {
        probs.set(exact.subarray(r * NUM_CLASSES, (r + 1) * NUM_CLASSES), i * NUM_CLASSES);
      }
    }
    return probs;
  }

  /**
   * The op-by-op forward pass (any batch size, any backend): one batch tensor through tfjs ops, with
   * conv2 + bias + relu + max-pool as one Winograd pass unless `exact` (or no kernels were loaded).
   */
  async batchProbabilities(pixels: Float32Array, count: number, exact = false): Promise<Float32Array> {
    const conv2 = exact ? undefined : this.conv2;
    const output = tidy(() => {
      let x: Tensor = tensor4d(scalePixels(pixels), [count, ...INPUT_SHAPE]);
      let pooled = false;
      for (const layer of LAYERS) {
        switch (layer.kind) {
          case 'conv2d':
            if (conv2 && layer === CONV2_LAYER) {
              const backend = engine().backend;
              const filter = this.weight(`${layer.name}/kernel`);
              const bias = this.weight(`${layer.name}/bias`);
              const out = winogradConvBiasReluPool(backend, CONV2, conv2.kernels, 'gemm', x, filter, bias, conv2.u);
              x = engine().makeTensorFromTensorInfo(out, backend);
              pooled = true; // the max-pool after it is done
              break;
            }
            x = fused.conv2d({
              x: x as Tensor4D,
              filter: this.weight(`${layer.name}/kernel`) as Tensor4D,
              bias: this.weight(`${layer.name}/bias`),
              strides: 1,
              pad: 'valid',
              activation: layer.activation,
            });
            break;
          case 'maxPooling2d':
            if (pooled) {
              pooled = false;
              break;
            }
            x = maxPool(x as Tensor4D, layer.poolSize, layer.poolSize, 'valid');
            break;
          case 'flatten':
            x = reshape(x, [count, -1]);
            break;
          case 'dense': {
            const fusedActivation = layer.activation === 'relu' ? 'relu' : 'linear';
            x = fused.matMul({
              a: x as Tensor2D,
              b: this.weight(`${layer.name}/kernel`) as Tensor2D,
              bias: this.weight(`${layer.name}/bias`),
              activation: fusedActivation,
            });
            if (layer.activation === 'softmax') x = softmax(x);
            break;
          }
          case 'dropout':
            break; // identity at inference
          default:
            assertNever(layer, 'layer kind');
        }
      }
      return x;
    });
    try {
      return (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
  }

  async classify(pixels: Float32Array, count: number): Promise<Prediction[]> {
    const probs = await this.probabilities(pixels, count);
    return Array.from({ length: count }, (_, i) =>
      toPrediction(probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES)),
    );
  }
}

export function toPrediction(probs: Float32Array): Prediction {
  let digit = 0;
  for (let d = 1; d < probs.length; d++) if (probs[d] > probs[digit]) digit = d;
  return { digit, confidence: probs[digit], probabilities: Array.from(probs) };
}
