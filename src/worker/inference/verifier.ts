/**
 * The segment verifier's forward pass (shared/segment-verifier.ts) on tfjs-core ops: dense layers
 * as fused matMul kernels (bias and relu in one wasm call), softmax last. A few thousand
 * multiply-adds a piece, batched with the pieces /read classifies.
 */
import { fused, softmax, type Tensor, type Tensor2D, tensor, tensor2d, tidy } from '@tensorflow/tfjs-core';
import {
  VERIFIER_CLASSES,
  VERIFIER_INPUTS,
  VERIFIER_LAYERS,
  verifierWeightShapes,
} from '../../shared/segment-verifier';

export interface VerifierFiles {
  modelJson: unknown;
  metadata: { version: string };
  weights: ArrayBuffer;
}

export class SegmentVerifier {
  private constructor(
    private readonly weights: ReadonlyMap<string, Tensor>,
    readonly version: string,
  ) {}

  /** Throws if the files do not hold the layers shared/segment-verifier.ts describes. */
  static load(files: VerifierFiles): SegmentVerifier {
    const shapes = verifierWeightShapes();
    const json = files.modelJson as { inputs?: unknown; weights?: Array<{ name: string; shape: number[] }> };
    if (json.inputs !== VERIFIER_INPUTS || JSON.stringify(json.weights) !== JSON.stringify(shapes)) {
      throw new Error('segment verifier: model.json does not match shared/segment-verifier.ts');
    }
    const size = shapes.reduce((sum, { shape }) => sum + shape.reduce((a, b) => a * b, 1), 0);
    if (files.weights.byteLength !== 4 * size) {
      throw new Error(`segment verifier: weights.bin holds ${files.weights.byteLength} bytes, expected ${4 * size}`);
    }
    const data = new Float32Array(files.weights);
    const weights = new Map<string, Tensor>();
    let offset = 0;
    for (const { name, shape } of shapes) {
      const length = shape.reduce((a, b) => a * b, 1);
      weights.set(name, tensor(data.slice(offset, offset + length), shape));
      offset += length;
    }
    return new SegmentVerifier(weights, files.metadata.version);
  }

  /** For each of `count` candidates' inputs, the probabilities of VERIFIER_CLASSES, one after another. */
  async verify(inputs: Float32Array, count: number): Promise<Float32Array> {
    if (count === 0) return new Float32Array(0);
    const output = tidy(() => {
      let x: Tensor = tensor2d(inputs.subarray(0, count * VERIFIER_INPUTS), [count, VERIFIER_INPUTS]);
      for (const layer of VERIFIER_LAYERS) {
        x = fused.matMul({
          a: x as Tensor2D,
          b: this.weights.get(`${layer.name}/kernel`) as Tensor2D,
          bias: this.weights.get(`${layer.name}/bias`),
          activation: layer.activation === 'relu' ? 'relu' : 'linear',
        });
        if (layer.activation === 'softmax') x = softmax(x);
      }
      return x;
    });
    try {
      const probabilities = (await output.data()) as Float32Array;
      if (probabilities.length !== count * VERIFIER_CLASSES.length) throw new Error('segment verifier: output size');
      return probabilities;
    } finally {
      output.dispose();
    }
  }
}
