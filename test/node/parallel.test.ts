// Data-parallel training is the same arithmetic as one thread: N workers give the gradient and the
// weights one worker gives on the same batch, and every replica ends the step with those weights.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_DIR } from '../../src/shared/model-spec.ts';
import { type DigitSet, loadSplit, take } from '../../src/train/data/mnist.ts';
import { storedWeightMap } from '../../src/train/formats/keras/export.ts';
import { loadStoredModel, readModelDir } from '../../src/train/formats/model-dir.ts';
import { useWasmBackend } from '../../src/train/kernels/backend.ts';
import { PARAM_COUNT } from '../../src/train/replicas/network.ts';
import type { KerasAdadelta } from '../../src/train/replicas/optimizer.ts';
import { ReplicaGroup, shardRange } from '../../src/train/replicas/parallel.ts';
import { predictProbabilities } from '../../src/train/report/evaluation.ts';
import { computeMetrics } from '../../src/train/report/metrics.ts';
import { buildModel } from '../../src/train/run/model.ts';
import { trainableVariables } from '../../src/train/run/train.ts';

const BATCH = Array.from({ length: 64 }, (_, i) => (i * 37) % 512);

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** A group of `workers` replicas of the same freshly built model (seed 7). */
async function startGroup(workers: number, train: DigitSet, test: DigitSet) {
  const model = buildModel({ seed: 7 });
  const variables = trainableVariables(model);
  const group = await ReplicaGroup.start({ workers, maxBatch: BATCH.length, variables, train, test });
  /** One training step on BATCH: returns the gradient used. */
  const step = async (dropout: { seed: number; step: number } | null) => {
    const batch = await group.gradients(BATCH, dropout);
    await group.update(model.optimizer as KerasAdadelta);
    return { gradient: group.gradient.slice(), lossSum: batch.lossSum, correct: batch.correct };
  };
  return { group, step };
}

describe('data-parallel replicas', () => {
  let train: DigitSet;
  let test: DigitSet;
  let groups: Awaited<ReturnType<typeof startGroup>>[];

  beforeAll(async () => {
    await useWasmBackend();
    train = take(await loadSplit('train'), 512);
    test = take(await loadSplit('t10k'), 300);
    // 3 workers split 64 unevenly (22, 21, 21): shards must still weigh by their size.
    groups = await Promise.all([1, 2, 3].map((workers) => startGroup(workers, train, test)));
  });

  afterAll(async () => {
    await Promise.all(groups.map(({ group }) => group.close()));
  });

  it('splits a batch into contiguous shards that cover it', () => {
    expect([0, 1, 2].map((r) => shardRange(128, 3, r))).toEqual([
      [0, 43],
      [43, 86],
      [86, 128],
    ]);
    expect([0, 1].map((r) => shardRange(96, 2, r))).toEqual([
      [0, 48],
      [48, 96],
    ]);
  });

  it('N workers give the same gradient and the same weights after a step as one (dropout off)', async () => {
    const [one, ...many] = await Promise.all(groups.map(({ step }) => step(null)));
    for (const other of many) {
      expect(other.gradient.length).toBe(PARAM_COUNT);
      expect(maxDifference(other.gradient, one.gradient)).toBeLessThan(1e-5);
      expect(other.lossSum).toBeCloseTo(one.lossSum, 3);
      expect(other.correct).toBe(one.correct);
    }
    for (const { group } of groups.slice(1)) {
      expect(maxDifference(group.weights, groups[0].group.weights)).toBeLessThan(1e-5);
    }
  });

  it('every replica holds the updated weights: the split test pass matches one thread', async () => {
    const [one, ...many] = await Promise.all(groups.map(({ group }) => group.evaluate()));
    for (const other of many) {
      expect(other.correct).toBe(one.correct);
      expect(other.lossSum).toBeCloseTo(one.lossSum, 2);
    }
  });

  it('draws the same dropout masks whichever worker gets an example', async () => {
    const [one, ...many] = await Promise.all(groups.map(({ step }) => step({ seed: 3, step: 11 })));
    for (const other of many) expect(maxDifference(other.gradient, one.gradient)).toBeLessThan(1e-5);
  });

  it('predicts with the stored (uint8) weights exactly as stock tf.loadLayersModel does, trained weights untouched', async () => {
    const stored = await readModelDir(MODEL_DIR);
    const model = await loadStoredModel(stored);
    const expected = await predictProbabilities(model, test);
    model.dispose();
    const metrics = computeMetrics(expected, test.labels);
    expect(metrics.accuracy).toBeGreaterThan(0.97); // the committed model on real test digits
    for (const { group } of groups) {
      const trained = await group.evaluate();
      const weights = group.weights.slice();
      const { probabilities, correct, lossSum } = await group.predict(storedWeightMap(stored));
      expect(probabilities.length).toBe(expected.length);
      expect(maxDifference(probabilities, expected)).toBeLessThan(1e-5);
      expect(correct).toBe(Math.round(metrics.accuracy * test.count));
      expect(lossSum / test.count).toBeCloseTo(metrics.loss, 4);
      expect(maxDifference(group.weights, weights)).toBe(0);
      expect(await group.evaluate()).toEqual(trained);
    }
  });
});
