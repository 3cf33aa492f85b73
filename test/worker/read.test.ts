// POST /read inside workerd: a handful of requests for the answer's shape, its input forms, the
// same answer as /classify for each digit cropped out, and its own refusals. (The accuracy sweeps
// run in Node, test/node/read-number.test.ts; the hostile pictures and transport mistakes of
// /classify are run against /read in image-inputs.test.ts, errors.test.ts and security.test.ts.)
import { describe, expect, it } from 'vitest';
import type { DigitSet } from '../../src/shared/model-spec';
import { PIXEL_COUNT } from '../../src/shared/model-spec';
import worker from '../../src/worker/index';
import { cropDigit, type NumberPicture, renderNumber } from '../support/number-images';
import { BASE, type ErrorBody, mnist, postJson, request } from './helpers';

interface Digit {
  digit: number;
  confidence: number;
  probabilities: number[];
  box: { x: number; y: number; width: number; height: number };
}
interface ReadBody {
  number: string;
  digits: Digit[];
  model: string;
}

function digitSet(): DigitSet {
  const { count, labels, pixels } = mnist();
  const images = new Uint8Array(count * PIXEL_COUNT);
  for (let i = 0; i < count; i++) images.set(pixels(i), i * PIXEL_COUNT);
  return { count, images, labels: Uint8Array.from(labels) };
}

/** MNIST test digits 0–3 ("7210"), on scanned paper, 8 px apart. */
const picture = (): NumberPicture =>
  renderNumber(digitSet(), { indices: [0, 1, 2, 3], gap: [8, 8], height: 40, jitter: 0.05, style: 'scan', seed: 3 });

const toBase64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));

const postPicture = (bytes: Uint8Array, type = 'image/png', path = '/read', env?: object) =>
  worker.fetch(new Request(`${BASE}${path}`, { method: 'POST', headers: { 'content-type': type }, body: bytes }), env);

describe('POST /read', () => {
  it('reads a number left to right, each digit with its box, probabilities and the model', async () => {
    const pic = picture();
    const res = await postPicture(pic.bytes);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as ReadBody;
    expect(Object.keys(body).sort()).toEqual(['digits', 'model', 'number']);
    expect(body.number).toBe(pic.label);
    expect(body.digits.map((d) => d.digit).join('')).toBe(body.number);
    body.digits.forEach((d, k) => {
      expect(Object.keys(d).sort()).toEqual(['box', 'confidence', 'digit', 'probabilities']);
      expect(d.probabilities).toHaveLength(10);
      // Each box holds the digit's ink as drawn (within the blur of the scan).
      const truth = pic.boxes[k];
      expect(Math.abs(d.box.x - truth.x0)).toBeLessThanOrEqual(2);
      expect(Math.abs(d.box.x + d.box.width - 1 - truth.x1)).toBeLessThanOrEqual(2);
      expect(Math.abs(d.box.y - truth.y0)).toBeLessThanOrEqual(2);
      expect(Math.abs(d.box.y + d.box.height - 1 - truth.y1)).toBeLessThanOrEqual(2);
    });
    const model = (await (await request('/model')).json()) as { version: string; limits: { maxDigits: number } };
    expect(body.model).toBe(model.version);
    expect(model.limits.maxDigits).toBe(32);

    // The same digit cropped out of the picture and sent to /classify gets the same answer.
    for (const d of body.digits) {
      const crop = cropDigit(pic, d.box, Math.round(d.box.height / 4));
      const single = (await (await postPicture(crop, 'image/png', '/classify')).json()) as Digit;
      expect(single.digit).toBe(d.digit);
      expect(single.confidence).toBeCloseTo(d.confidence, 1);
    }
  });

  it('gives the same answer for a raw body, a multipart upload and a JSON data URL', async () => {
    const pic = picture();
    const raw = (await (await postPicture(pic.bytes)).json()) as ReadBody;
    const form = new FormData();
    form.set('image', new Blob([pic.bytes], { type: 'image/png' }), 'number.png');
    const multipart = (await (await request('/read', { method: 'POST', body: form })).json()) as ReadBody;
    const json = (await (
      await postJson({ image: `data:image/png;base64,${toBase64(pic.bytes)}` }, '/read')
    ).json()) as ReadBody;
    expect(multipart).toEqual(raw);
    expect(json).toEqual(raw);
  });

  it('refuses more digits than MAX_DIGITS with 422 too_many_digits, and /classify shapes with 400', async () => {
    const res = await postPicture(picture().bytes, 'image/png', '/read', { MAX_DIGITS: '3' });
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('too_many_digits');
    expect(body.error.message).toMatch(/MAX_DIGITS/);
    expect(body.error.message).toMatch(/\b3\b/);
    const pixels = await postJson({ pixels: mnist().pixels(0) }, '/read');
    expect(pixels.status).toBe(400);
    expect(((await pixels.json()) as ErrorBody).error.code).toBe('invalid_body');
  });
});
