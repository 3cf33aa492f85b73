/**
 * The CNN's forward pass on tfjs-core ops, driven by LAYERS from the shared model spec: no
 * tfjs-layers, just fused conv2d/matMul kernels (bias and relu in one wasm call), maxPool and
 * softmax. Dropout is the identity at inference; flatten is a reshape (channels-last, like Keras).
 */
import { fused, io, maxPool, reshape, softmax, tensor4d, tidy, type Tensor, type Tensor4D, type Tensor2D } from '@tensorflow/tfjs-core';
import { INPUT_SHAPE, LAYERS, NUM_CLASSES, PIXEL_COUNT, parameterCount, scalePixels, type LayerSpec } from '../../shared/model-spec';
import { assertNever } from '../../shared/assert-never';
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
    if (layer.class_name !== KERAS_CLASS[spec.kind]) throw problem(`is ${layer.class_name}, expected ${KERAS_CLASS[spec.kind]}`);
    const { config } = layer;
    if ('data_format' in config && config.data_format !== 'channels_last') throw problem('must be channels_last');
    if (spec.kind === 'conv2d' && !(config.padding === 'valid' && same(config.strides, [1, 1]) && config.activation === spec.activation)) {
      throw problem('expected valid padding, strides 1 and the spec activation');
    }
    if (spec.kind === 'maxPooling2d' && !(config.padding === 'valid' && same(config.strides, [spec.poolSize, spec.poolSize]))) {
      throw problem('expected valid padding and strides equal to the pool size');
    }
    if (spec.kind === 'dense' && config.activation !== spec.activation) throw problem('activation differs from the spec');
  }
}

export class DigitClassifier {
  private constructor(private readonly weights: Weights) {}

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
    return Array.from({ length: count }, (_, i) => toPrediction(probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES)));
  }
}

export function toPrediction(probs: Float32Array): Prediction {
  let digit = 0;
  for (let d = 1; d < probs.length; d++) if (probs[d] > probs[digit]) digit = d;
  return { digit, confidence: probs[digit], probabilities: Array.from(probs) };
}
