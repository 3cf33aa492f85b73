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

/** Single requests for every 10th test digit: 1000 digits spread over the whole test set. */
const SINGLE_STRIDE = 10;
const BATCH_SIZE = 250;

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

/** Any number of test digits, BATCH_SIZE per request. */
async function classifyDigits(indices: number[]): Promise<Prediction[]> {
  const predictions: Prediction[] = [];
  for (let from = 0; from < indices.length; from += BATCH_SIZE) {
    predictions.push(...(await classifyOnce(indices.slice(from, from + BATCH_SIZE))));
  }
  return predictions;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const classifyBatch = (from: number, to: number) => classifyOnce(range(from, to));

describe('POST /classify with MNIST test digits', () => {
  it(`classifies every ${SINGLE_STRIDE}th test digit sent alone with ≥ 99% accuracy, as it does in a batch`, async () => {
    const { pixels, labels, count } = mnist();
    const indices = Array.from({ length: count / SINGLE_STRIDE }, (_, n) => n * SINGLE_STRIDE);
    const batched = await classifyDigits(indices);
    const singles: (Prediction & { model: string })[] = [];
    // A few requests in flight, as clients would send them; each is still one digit.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < indices.length) {
          const n = next++;
          const res = await postJson({ pixels: pixels(indices[n]) });
          expect(res.status).toBe(200);
          singles[n] = (await res.json()) as Prediction & { model: string };
        }
      }),
    );
    let right = 0;
    for (const [n, i] of indices.entries()) {
      const body = singles[n];
      expect(body.model).toBe(metadata.version);
      expectWellFormed(body);
      // Same network, same answer, whether the digit comes alone or as one row of a batch.
      expect(body.digit).toBe(batched[n].digit);
      body.probabilities.forEach((p, d) => expect(p).toBeCloseTo(batched[n].probabilities[d], 5));
      if (body.digit === labels[i]) right++;
    }
    expect(right / indices.length).toBeGreaterThanOrEqual(0.99);
  }, 180_000);

  it('classifies the whole 10k test set in batches of 250, in order, with ≥ 99% accuracy', async () => {
    const { count, labels } = mnist();
    let right = 0;
    const predictions = await classifyDigits(range(0, count));
    predictions.forEach((p, i) => {
      expectWellFormed(p);
      if (p.digit === labels[i]) right++;
    });
    expect(count).toBe(10_000);
    expect(right / count).toBeGreaterThanOrEqual(0.99);
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
