// Real MNIST test digits through POST /classify, with the committed model on the wasm backend.
import { memory } from '@tensorflow/tfjs-core';
import { describe, expect, inject, it } from 'vitest';
import metadata from '../../models/mnist-cnn/metadata.json';
import { NUM_CLASSES } from '../../src/shared/model-spec';
import { mnist, postJson } from './helpers';

interface Prediction {
  digit: number;
  confidence: number;
  probabilities: number[];
}

/** Digits sent one by one, compared with their row of a batch. Few: the heavy sweeps run in test/e2e. */
const SINGLES = 16;

function expectWellFormed(p: Prediction) {
  expect(p.probabilities).toHaveLength(NUM_CLASSES);
  expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  expect(p.confidence).toBe(Math.max(...p.probabilities));
  expect(p.probabilities[p.digit]).toBe(p.confidence);
}

/** One request with the given test digits as a batch. */
async function classifyOnce(indices: number[]): Promise<Prediction[]> {
  const res = await postJson({ images: indices.map(mnist().pixels) });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { predictions: Prediction[]; model: string };
  expect(body.model).toBe(metadata.version);
  expect(body.predictions).toHaveLength(indices.length);
  return body.predictions;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const classifyBatch = (from: number, to: number) => classifyOnce(range(from, to));

// Each test file gets a fresh workerd whose requests slow down as they accumulate
// (cloudflare/workers-sdk#15446), so this file sends a handful of requests; test/e2e/classify.test.ts
// sends the whole test set and 1,000 single digits to the Worker under wrangler.
describe('POST /classify with MNIST test digits', () => {
  it('classifies the largest batch, 256 real digits, in order and correctly', async () => {
    const { labels } = mnist();
    const predictions = await classifyBatch(0, 256);
    predictions.forEach(expectWellFormed);
    const right = predictions.filter((p, i) => p.digit === labels[i]).length;
    expect(right / predictions.length).toBeGreaterThanOrEqual(0.98);
  });

  it(`gives a digit sent alone the answer it gets as a row of a batch (${SINGLES} digits)`, async () => {
    const { pixels, count } = mnist();
    const indices = Array.from({ length: SINGLES }, (_, n) => Math.floor((n * count) / SINGLES));
    const batched = await classifyOnce(indices);
    for (const [n, i] of indices.entries()) {
      const res = await postJson({ pixels: pixels(i) });
      expect(res.status).toBe(200);
      const single = (await res.json()) as Prediction & { model: string };
      expect(single.model).toBe(metadata.version);
      expectWellFormed(single);
      expect(single.digit).toBe(batched[n].digit);
      single.probabilities.forEach((p, d) => {
        expect(p).toBeCloseTo(batched[n].probabilities[d], 5);
      });
    }
  });

  it('matches stock tfjs-layers on the same committed weights, batched and alone', async () => {
    const reference = inject('referenceProbabilities');
    const predictions = await classifyBatch(0, reference.length);
    predictions.forEach((p, i) => {
      p.probabilities.forEach((q, d) => {
        expect(q).toBeCloseTo(reference[i][d], 4);
      });
    });
    // A digit sent alone takes the fixed single-digit graph (direct wasm kernel calls): the same.
    const { pixels } = mnist();
    for (let i = 0; i < 8; i++) {
      const single = (await (await postJson({ pixels: pixels(i) })).json()) as Prediction;
      single.probabilities.forEach((q, d) => {
        expect(q).toBeCloseTo(reference[i][d], 4);
      });
    }
  });

  it('accepts fractional pixel values and the extremes 0 and 255', async () => {
    const pixels = Array.from({ length: 784 }, (_, i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? 255 : 127.5));
    const res = await postJson({ pixels });
    expect(res.status).toBe(200);
    expectWellFormed((await res.json()) as Prediction);
  });

  it('frees every intermediate tensor (no leak across requests)', async () => {
    const { pixels } = mnist();
    await postJson({ pixels: pixels(0) });
    const before = memory().numTensors;
    expect(before).toBeGreaterThanOrEqual(8); // the Worker's engine: its 8 weight tensors live here
    await postJson({ pixels: pixels(1) });
    await classifyBatch(0, 40);
    await postJson({ pixels: [1, 2, 3] });
    expect(memory().numTensors).toBe(before);
  });
});
