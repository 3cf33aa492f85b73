// The training step's arithmetic (network.ts): its gradients against the same network in plain tfjs
// ops, and its dropout masks against the stream of src/shared/random.ts, seeded per example.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/shared/random.ts';
import { loadSplitSync, take } from '../../src/train/data/mnist.ts';
import { useWasmBackend } from '../../src/train/kernels/backend.ts';
import {
  batchTensors,
  type DropoutDraw,
  dropoutMask,
  exampleSeed,
  shardGradients,
} from '../../src/train/replicas/network.ts';
import { buildModel } from '../../src/train/run/model.ts';
import { trainableVariables } from '../../src/train/run/train.ts';

describe('shardGradients', () => {
  it("equal the gradients of the same network in plain tfjs ops (the registered kernels' other path)", async () => {
    await useWasmBackend();
    const set = take(loadSplitSync('t10k'), 40);
    const indices = Array.from({ length: 32 }, (_, i) => i + 8);
    const variables = trainableVariables(buildModel({ seed: 3 }));
    const { grads } = shardGradients(variables, set, indices, 64);
    const [k1, b1, k2, b2, w3, b3, w4, b4] = variables;
    const { x, oneHot } = batchTensors(set, indices);
    const loss = (...p: tf.Tensor[]) => {
      const [a1, c1, a2, c2, a3, c3, a4, c4] = p as [
        tf.Tensor4D,
        tf.Tensor,
        tf.Tensor4D,
        tf.Tensor,
        tf.Tensor2D,
        tf.Tensor,
        tf.Tensor2D,
        tf.Tensor,
      ];
      let h: tf.Tensor = tf.relu(tf.conv2d(x, a1, 1, 'valid').add(c1));
      h = tf.relu(tf.conv2d(h as tf.Tensor4D, a2, 1, 'valid').add(c2));
      h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid').reshape([indices.length, -1]);
      h = tf.relu(tf.matMul(h as tf.Tensor2D, a3).add(c3));
      const logits = tf.matMul(h as tf.Tensor2D, a4).add(c4);
      return tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, 0, tf.Reduction.SUM).div(64) as tf.Scalar;
    };
    const expected = tf.grads(loss)([k1, b1, k2, b2, w3, b3, w4, b4]);
    grads.forEach((g, i) => {
      const actual = g.dataSync();
      const reference = expected[i].dataSync();
      let scale = 0;
      let err = 0;
      for (let k = 0; k < reference.length; k++) {
        scale = Math.max(scale, Math.abs(reference[k]));
        err = Math.max(err, Math.abs(actual[k] - reference[k]));
      }
      expect(err / scale, variables[i].name).toBeLessThan(1e-5);
    });
    tf.dispose([...grads, ...expected, x, oneHot]);
  });
});

describe('dropoutMask', () => {
  // wasm: drawn in the trainer's module, four units at a time; cpu: the JavaScript loop.
  it.each(['wasm', 'cpu'])(
    'keeps a unit when seededRandom() ≥ rate, scaled by 1/(1 − rate), one stream per example (%s)',
    async (backend) => {
      await useWasmBackend();
      await tf.setBackend(backend);
      const shape = [5, 12, 12, 7];
      const perExample = 12 * 12 * 7;
      for (const rate of [0.25, 0.5]) {
        const draw: DropoutDraw = { seed: 9, step: 4, firstPosition: 2 };
        const mask = dropoutMask(shape, rate, draw, 1);
        const expected = new Float32Array(shape[0] * perExample);
        for (let e = 0; e < shape[0]; e++) {
          const random = seededRandom(exampleSeed(draw, e, 1));
          for (let i = 0; i < perExample; i++) expected[e * perExample + i] = random() >= rate ? 1 / (1 - rate) : 0;
        }
        expect(Array.from(mask.dataSync())).toEqual(Array.from(expected));
        // The shard that starts one example later draws that example's units identically.
        const later = dropoutMask([1, 12, 12, 7], rate, { ...draw, firstPosition: 3 }, 1);
        expect(Array.from(later.dataSync())).toEqual(Array.from(expected.subarray(perExample, 2 * perExample)));
        tf.dispose([mask, later]);
      }
    },
  );
});
