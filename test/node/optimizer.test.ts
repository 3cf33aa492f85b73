import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWasmBackend } from '../../src/train/kernels/backend.ts';
import { KERAS_ADADELTA, KerasAdadelta } from '../../src/train/replicas/optimizer.ts';

describe('Keras Adadelta (lr 1.0, ρ 0.95, ε 1e-7)', () => {
  beforeAll(async () => {
    await useWasmBackend();
  });

  it('takes the hand-computed steps', () => {
    // By hand for w = [1, -2], gradients [0.5, -0.1] then [0.5, 0.3]:
    //   step 1, w0: E[g²] = 0.05·0.25 = 0.0125; Δ = 0.5·√1e-7/√(0.0125+1e-7) = 0.00141421; w0 = 0.99858579
    //   step 2, w0: E[g²] = 0.95·0.0125 + 0.0125 = 0.024375; E[Δ²] = 0.05·Δ₁² = 9.99992e-8;
    //               Δ = 0.5·√(9.99992e-8+1e-7)/√(0.024375+1e-7) = 0.00143222; w0 = 0.99715357
    const w = tf.variable(tf.tensor1d([1, -2]), true, 'adadelta_test_w');
    const optimizer = new KerasAdadelta(KERAS_ADADELTA);
    optimizer.applyGradients({ adadelta_test_w: tf.tensor1d([0.5, -0.1]) });
    const step1 = w.dataSync();
    expect(step1[0]).toBeCloseTo(0.9985857920944472, 6);
    expect(step1[1]).toBeCloseTo(-1.9985859278377736, 6);
    optimizer.applyGradients({ adadelta_test_w: tf.tensor1d([0.5, 0.3]) });
    const step2 = w.dataSync();
    expect(step2[0]).toBeCloseTo(0.9971535681487, 6);
    expect(step2[1]).toBeCloseTo(-2.000487941507246, 6);
    expect(optimizer.iterations).toBe(2);
    optimizer.dispose();
    w.dispose();
  });

  it('differs from tfjs-core, whose first step is a plain lr·g step', () => {
    const w = tf.variable(tf.tensor1d([1]), true, 'adadelta_core_w');
    const core = tf.train.adadelta(1.0, 0.95, 1e-7);
    // tfjs-core types this map as variables; it reads only the gradient values.
    core.applyGradients({ adadelta_core_w: tf.tensor1d([0.5]) } as unknown as Parameters<
      typeof core.applyGradients
    >[0]);
    expect(w.dataSync()[0]).toBeCloseTo(0.5, 3);
    core.dispose();
    w.dispose();
  });

  it('round-trips its accumulators through getWeights/setWeights', async () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]), true, 'adadelta_state_w');
    const a = new KerasAdadelta();
    a.applyGradients({ adadelta_state_w: tf.tensor1d([0.1, 0.2, 0.3]) });
    const saved = await a.getWeights();
    const b = new KerasAdadelta();
    await b.setWeights(saved.map(({ name, tensor }) => ({ name, tensor: tensor.clone() })));
    const start = w.dataSync().slice();
    a.applyGradients({ adadelta_state_w: tf.tensor1d([0.1, 0.1, 0.1]) });
    const viaA = w.dataSync().slice();
    w.assign(tf.tensor1d(start));
    b.applyGradients({ adadelta_state_w: tf.tensor1d([0.1, 0.1, 0.1]) });
    expect(Array.from(w.dataSync())).toEqual(Array.from(viaA));
    expect(b.iterations).toBe(2);
  });
});
