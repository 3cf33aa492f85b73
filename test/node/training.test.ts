// A real (small) training run on real MNIST digits, and the model files it produces.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parameterCount } from '../../src/shared/model-spec.ts';
import { type DigitSet, loadSplit, take } from '../../src/train/data/mnist.ts';
import { encodeModel, loadModelFiles, modelArtifacts } from '../../src/train/formats/tfjs.ts';
import { useWasmBackend } from '../../src/train/kernels/backend.ts';
import { KERAS_ADADELTA } from '../../src/train/replicas/optimizer.ts';
import { ReplicaGroup } from '../../src/train/replicas/parallel.ts';
import { buildModel } from '../../src/train/run/model.ts';
import { epochOrder, evaluate, RECIPES, toTensors, trainableVariables, trainModel } from '../../src/train/run/train.ts';

describe('training on the wasm backend', () => {
  let train: DigitSet;
  let test: DigitSet;
  let model: tf.LayersModel;
  const losses: number[] = [];

  beforeAll(async () => {
    await useWasmBackend();
    train = take(await loadSplit('train'), 384);
    test = take(await loadSplit('t10k'), 500);
    model = buildModel({ seed: 7 });
    const recipe = {
      ...RECIPES.keras,
      name: 'keras' as const,
      epochs: 3,
      batchSize: 64,
      trainLimit: 384,
      seed: 7,
      optimizer: KERAS_ADADELTA,
    };
    const group = await ReplicaGroup.start({
      workers: 2,
      maxBatch: 64,
      variables: trainableVariables(model),
      train,
      test,
    });
    try {
      await trainModel(model, group, recipe, train, {
        hooks: { onBatchEnd: (_, logs) => void losses.push(logs.loss) },
      });
    } finally {
      await group.close();
    }
  });

  it("builds the Keras recipe's architecture", () => {
    expect(model.countParams()).toBe(parameterCount());
    expect(parameterCount()).toBe(1_199_882); // Keras's model.summary() for this architecture
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      'Conv2D',
      'Conv2D',
      'MaxPooling2D',
      'Dropout',
      'Flatten',
      'Dense',
      'Dropout',
      'Dense',
    ]);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('makes the loss fall on real digits', () => {
    expect(losses.length).toBe(18);
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(first).toBeGreaterThan(1.8);
    expect(last).toBeLessThan(first * 0.6);
  });

  it('learns: far better than chance on unseen test digits', async () => {
    const { accuracy } = await evaluate(model, test);
    expect(accuracy).toBeGreaterThan(0.6);
  });

  it('save → load with stock tfjs gives identical predictions (float32)', async () => {
    const files = encodeModel(await modelArtifacts(model), 'none');
    const loaded = await loadModelFiles(files);
    const { xs } = toTensors(take(test, 64));
    const before = (model.predict(xs) as tf.Tensor).dataSync();
    const after = (loaded.predict(xs) as tf.Tensor).dataSync();
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it('uint8 and float16 storage keep the predictions and shrink the weights', async () => {
    const artifacts = await modelArtifacts(model);
    const { xs } = toTensors(test);
    const reference = (model.predict(xs) as tf.Tensor).argMax(1).dataSync();
    for (const [dtype, bytes] of [
      ['uint8', parameterCount()],
      ['float16', 2 * parameterCount()],
    ] as const) {
      const files = encodeModel(artifacts, dtype);
      expect(files.weights.byteLength).toBe(bytes);
      expect(files.weightSpecs.every((s) => s.quantization?.dtype === dtype)).toBe(true);
      const predicted = ((await loadModelFiles(files)).predict(xs) as tf.Tensor).argMax(1).dataSync();
      const agree = predicted.filter((p, i) => p === reference[i]).length / reference.length;
      expect(agree).toBeGreaterThan(0.98);
    }
  });

  it('versions a model by the content of its weights', async () => {
    const artifacts = await modelArtifacts(model);
    expect(encodeModel(artifacts, 'uint8').version).toBe(encodeModel(artifacts, 'uint8').version);
    expect(encodeModel(artifacts, 'uint8').version).not.toBe(encodeModel(artifacts, 'none').version);
  });
});

describe('epoch order', () => {
  it('is a permutation that changes every epoch and repeats for the same seed', () => {
    const a = epochOrder(1000, 1, 0);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(1000).keys()]);
    expect(Array.from(epochOrder(1000, 1, 0))).toEqual(Array.from(a));
    expect(Array.from(epochOrder(1000, 1, 1))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(1000, 2, 0))).not.toEqual(Array.from(a));
  });
});
