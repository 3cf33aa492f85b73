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

const SINGLE_DIGITS = 500;
const BATCH_SIZE = 250;

function expectWellFormed(p: Prediction) {
  expect(p.probabilities).toHaveLength(NUM_CLASSES);
  expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  expect(p.confidence).toBe(Math.max(...p.probabilities));
  expect(p.probabilities[p.digit]).toBe(p.confidence);
}

async function classifyBatch(from: number, to: number): Promise<Prediction[]> {
  const { pixels } = mnist();
  const images = Array.from({ length: to - from }, (_, i) => pixels(from + i));
  const res = await postJson({ images });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { predictions: Prediction[]; model: string };
  expect(body.model).toBe(metadata.version);
  expect(body.predictions).toHaveLength(to - from);
  return body.predictions;
}

describe('POST /classify with MNIST test digits', () => {
  it(`classifies single digits (first ${SINGLE_DIGITS}) with ≥ 99% accuracy`, async () => {
    const { pixels, labels } = mnist();
    let right = 0;
    for (let i = 0; i < SINGLE_DIGITS; i++) {
      const res = await postJson({ pixels: pixels(i) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Prediction & { model: string };
      expect(body.model).toBe(metadata.version);
      expectWellFormed(body);
      if (body.digit === labels[i]) right++;
    }
    expect(right / SINGLE_DIGITS).toBeGreaterThanOrEqual(0.99);
  });

  it('classifies batches (all fixture digits, 250 per request) in order with ≥ 99% accuracy', async () => {
    const { count, labels } = mnist();
    let right = 0;
    for (let from = 0; from < count; from += BATCH_SIZE) {
      const predictions = await classifyBatch(from, Math.min(count, from + BATCH_SIZE));
      predictions.forEach((p, i) => {
        expectWellFormed(p);
        if (p.digit === labels[from + i]) right++;
      });
    }
    expect(count).toBeGreaterThanOrEqual(2000);
    expect(right / count).toBeGreaterThanOrEqual(0.99);
  });

  it('gives a digit the same answer alone and inside a batch (order kept)', async () => {
    const { pixels } = mnist();
    const batch = await classifyBatch(0, 16);
    for (const i of [0, 7, 15]) {
      const single = (await (await postJson({ pixels: pixels(i) })).json()) as Prediction;
      expect(single.digit).toBe(batch[i].digit);
      single.probabilities.forEach((p, d) => expect(p).toBeCloseTo(batch[i].probabilities[d], 5));
    }
  });

  it('matches stock tfjs-layers on the same committed weights', async () => {
    const reference = inject('referenceProbabilities');
    const predictions = await classifyBatch(0, reference.length);
    predictions.forEach((p, i) => {
      p.probabilities.forEach((q, d) => expect(q).toBeCloseTo(reference[i][d], 4));
    });
  });

  it('accepts the largest batch, 256 digits', async () => {
    const predictions = await classifyBatch(0, 256);
    expect(predictions).toHaveLength(256);
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
