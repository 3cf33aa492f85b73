// MNIST test digits through POST /classify on the real Worker under wrangler (workerd), in every
// configuration of global-setup.ts: in the first, the whole 10k set in batches and 1,000 digits sent
// one by one; in the others (no_nodejs_compat), a share of both, answered exactly as the first did.
// These sweeps live here rather than in the vitest pool, where each request is slower than the
// one before it (cloudflare/workers-sdk#15446); workerd itself stays flat, and one test says so.
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import metadata from '../../models/mnist-cnn/metadata.json';
import { NUM_CLASSES, PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { loadMnistTest } from '../support/mnist-files.ts';
import { CONFIGS, type ConfigName } from './global-setup.ts';

interface Prediction {
  digit: number;
  confidence: number;
  probabilities: number[];
}

const BATCH = 256;
/** Requests per block when comparing the first and the last requests' pace. */
const BLOCK = 100;
const MAX_SLOWDOWN = 1.5;

const mnist = loadMnistTest();
const digit = (i: number) => Array.from(mnist.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT));
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)];

/** How many test digits each configuration classifies in batches, and how many of those one by one. */
const SWEEP: Record<ConfigName, { digits: number; singles: number }> = {
  default: { digits: mnist.count, singles: 5 * BLOCK },
  no_nodejs_compat: { digits: 4 * BATCH, singles: 2 * BLOCK },
};
const REFERENCE: ConfigName = 'default';
/** Each configuration's batched answers, for the others to compare with. */
const answers = new Map<ConfigName, Prediction[]>();

async function post(url: URL, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  const json = (await res.json()) as Record<string, unknown>;
  expect(json.model).toBe(metadata.version);
  return json;
}

function expectWellFormed(p: Prediction) {
  expect(p.probabilities).toHaveLength(NUM_CLASSES);
  expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  expect(p.probabilities[p.digit]).toBe(p.confidence);
  expect(p.confidence).toBe(Math.max(...p.probabilities));
}

describe.each(Object.keys(CONFIGS) as ConfigName[])('POST /classify under wrangler dev (%s)', (config) => {
  const url = new URL('/classify', inject('workerUrls')[config]);
  const { digits, singles } = SWEEP[config];
  const batched: Prediction[] = [];

  const expectation = config === REFERENCE ? 'as accurately as stock tfjs did' : `answered as under ${REFERENCE}`;
  it(`classifies ${digits} test digits in batches of ${BATCH}, ${expectation}`, async () => {
    for (let from = 0; from < digits; from += BATCH) {
      const indices = Array.from({ length: Math.min(BATCH, digits - from) }, (_, i) => from + i);
      const { predictions } = (await post(url, { images: indices.map(digit) })) as { predictions: Prediction[] };
      expect(predictions).toHaveLength(indices.length);
      batched.push(...predictions);
    }
    batched.forEach(expectWellFormed);
    answers.set(config, batched);
    if (config === REFERENCE) {
      const accuracy = batched.filter((p, i) => p.digit === mnist.labels[i]).length / mnist.count;
      expect(accuracy).toBeGreaterThanOrEqual(0.99);
      // metadata.testAccuracy is stock tfjs on the stored weights; kernels may differ in the last bits.
      expect(Math.abs(accuracy - metadata.testAccuracy)).toBeLessThanOrEqual(0.0005);
    } else {
      const reference = answers.get(REFERENCE);
      expect(reference, `the ${REFERENCE} configuration's sweep runs first`).toBeDefined();
      batched.forEach((p, i) => {
        expect(p.digit).toBe(reference![i].digit);
        p.probabilities.forEach((q, d) => {
          expect(q).toBeCloseTo(reference![i].probabilities[d], 5);
        });
      });
    }
  });

  it(`answers ${singles} digits sent one by one as in a batch, no slower at the end than at the start`, async () => {
    const stride = Math.floor(digits / singles);
    const millis: number[] = [];
    for (let n = 0; n < singles; n++) {
      const i = n * stride;
      const started = performance.now();
      const single = (await post(url, { pixels: digit(i) })) as unknown as Prediction;
      millis.push(performance.now() - started);
      expectWellFormed(single);
      expect(single.digit).toBe(batched[i].digit);
      single.probabilities.forEach((p, d) => {
        expect(p).toBeCloseTo(batched[i].probabilities[d], 5);
      });
    }
    // A ratio within one run, so the machine's speed cancels out. Other work on the machine only ever
    // adds time, so a block's fast end (10th percentile) shows what the Worker costs; a Worker that
    // slows with every request raises it as much as the median.
    const first = percentile(millis.slice(0, BLOCK), 0.1);
    const last = percentile(millis.slice(-BLOCK), 0.1);
    expect(
      last / first,
      `10th-percentile ms: first ${BLOCK} ${first.toFixed(2)}, last ${BLOCK} ${last.toFixed(2)}`,
    ).toBeLessThanOrEqual(MAX_SLOWDOWN);
  });

  it('reads the example pictures in every input form', async () => {
    const examples = [
      { file: 'docs/examples/seven.png', mediaType: 'image/png', digit: 7 },
      { file: 'docs/examples/two.jpg', mediaType: 'image/jpeg', digit: 2 },
    ];
    for (const { file, mediaType, digit } of examples) {
      const bytes = readFileSync(file);
      const form = new FormData();
      form.set('image', new Blob([bytes], { type: mediaType }), file);
      const requests: RequestInit[] = [
        { method: 'POST', headers: { 'content-type': mediaType }, body: bytes },
        { method: 'POST', body: form },
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ image: `data:${mediaType};base64,${bytes.toString('base64')}` }),
        },
      ];
      for (const init of requests) {
        const res = await fetch(url, init);
        expect(res.status, await res.clone().text()).toBe(200);
        expect(((await res.json()) as Prediction).digit).toBe(digit);
      }
    }
  });
});
