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
  tensor,
  tensor4d,
  tidy,
} from '@tensorflow/tfjs-core';
import { assertNever } from '../../shared/assert-never';
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

export interface Prediction {
  digit: number;
  confidence: number;
  probabilities: number[];
}

type Weights = Record<string, Tensor>;

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
    private readonly steps: Array<() => void>,
  ) {}

  static create(weight: (name: string) => Tensor): SingleDigitGraph | undefined {
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
    return new SingleDigitGraph(backend, input, output, steps);
  }

  /** Probabilities for one digit of raw 0–255 pixels. */
  run(pixels: Float32Array): Float32Array {
    // Emscripten replaces HEAPF32 when memory grows: read it on every call.
    const heap = this.backend.wasm.HEAPF32;
    const at = this.input.offset >>> 2;
    for (let i = 0; i < PIXEL_COUNT; i++) heap[at + i] = pixels[i] / MAX_PIXEL_VALUE; // as scalePixels
    for (const step of this.steps) step();
    const out = this.output.offset >>> 2;
    return this.backend.wasm.HEAPF32.slice(out, out + NUM_CLASSES);
  }
}

export class DigitClassifier {
  private readonly single: SingleDigitGraph | undefined;

  private constructor(private readonly weights: Weights) {
    this.single = SingleDigitGraph.create((name) => this.weight(name));
  }

  /** Decodes (and dequantizes) the weights onto the active backend; call once per isolate. */
  static load(artifacts: ModelArtifacts): DigitClassifier {
    checkTopology(artifacts.layers);
    const weights: Weights = io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
    const count = Object.values(weights).reduce((sum, t) => sum + t.size, 0);
    if (count !== parameterCount()) throw new Error(`weights hold ${count} parameters, the spec ${parameterCount()}`);
    return new DigitClassifier(weights);
  }

  private weight(name: string): Tensor {
    const tensor = this.weights[name];
    if (!tensor) throw new Error(`weight ${name} missing from the manifest`);
    return tensor;
  }

  /** Probabilities for `count` digits of raw 0–255 pixels laid end to end, as one batch. */
  async probabilities(pixels: Float32Array, count: number): Promise<Float32Array> {
    if (pixels.length !== count * PIXEL_COUNT) throw new Error('pixel buffer does not match the batch size');
    if (count === 1 && this.single) return this.single.run(pixels);
    return this.batchProbabilities(pixels, count);
  }

  /** The op-by-op forward pass (any batch size, any backend): one batch tensor through tfjs ops. */
  async batchProbabilities(pixels: Float32Array, count: number): Promise<Float32Array> {
    const output = tidy(() => {
      let x: Tensor = tensor4d(scalePixels(pixels), [count, ...INPUT_SHAPE]);
      for (const layer of LAYERS) {
        switch (layer.kind) {
          case 'conv2d':
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
