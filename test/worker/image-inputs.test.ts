// Client pictures through POST /classify inside workerd (beyond images.test.ts): large scans on
// paper, the same answer from every input form, ?normalize=true on a real off-centre digit, and
// the 4xx answers for pictures that are truncated, too large, blank or of an unsupported type, which
// POST /read (the same picture forms, a number instead of a digit) must give as well.
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { PIXEL_COUNT } from '../../src/shared/model-spec';
import { PICTURE_MEDIA_TYPES } from '../../src/worker/input/media-types';
import { type ErrorBody, mnist, postJson, request } from './helpers';

interface Prediction {
  digit: number;
  confidence: number;
  probabilities: number[];
}

/** MNIST digit i drawn `scale`× larger as dark ink on white paper, inside a margin. */
function scan(i: number, scale = 8, margin = 40): Uint8Array {
  const digit = mnist().pixels(i);
  const side = 28 * scale + 2 * margin;
  const data = new Uint8Array(side * side).fill(235);
  for (let y = 0; y < 28 * scale; y++) {
    for (let x = 0; x < 28 * scale; x++) {
      const ink = digit[Math.floor(y / scale) * 28 + Math.floor(x / scale)] / 255;
      data[(y + margin) * side + x + margin] = Math.round(235 - ink * 205);
    }
  }
  return encodePng({ width: side, height: side, data, channels: 1, depth: 8 });
}

const toBase64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));

const postImage = (bytes: Uint8Array, type = 'image/png', path = '/classify') =>
  request(path, { method: 'POST', headers: { 'content-type': type }, body: bytes });

function postForm(bytes: Uint8Array, field = 'image', type = 'image/png', path = '/classify') {
  const form = new FormData();
  form.set(field, new Blob([bytes], { type }), 'digit');
  return request(path, { method: 'POST', body: form });
}

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
}

describe('pictures on POST /classify', () => {
  it('reads raw PNG scans of MNIST test digits', async () => {
    const { labels } = mnist();
    let right = 0;
    const n = 40;
    for (let i = 0; i < n; i++) {
      const response = await postImage(scan(i));
      expect(response.status).toBe(200);
      const body = (await response.json()) as Prediction;
      if (body.digit === labels[i]) right++;
    }
    expect(right / n).toBeGreaterThanOrEqual(0.95);
  });

  it('gives the same answer for a raw body, a multipart upload and a JSON data URL', async () => {
    const bytes = scan(3);
    const raw = (await (await postImage(bytes)).json()) as Prediction;
    const form = (await (await postForm(bytes)).json()) as Prediction;
    const json = (await (await postJson({ image: `data:image/png;base64,${toBase64(bytes)}` })).json()) as Prediction;
    expect(raw.digit).toBe(mnist().labels[3]);
    expect(form.probabilities).toEqual(raw.probabilities);
    expect(json.probabilities).toEqual(raw.probabilities);
  });

  it('normalises raw pixels only when asked (?normalize=true)', async () => {
    // Digit 0 shrunk to half size in the top-left corner of the 28×28 frame.
    const { pixels, labels } = mnist();
    const original = pixels(0);
    const small = new Array<number>(PIXEL_COUNT).fill(0);
    for (let y = 0; y < 14; y++) {
      for (let x = 0; x < 14; x++) {
        const block = [0, 1].flatMap((dy) => [0, 1].map((dx) => original[(2 * y + dy) * 28 + 2 * x + dx]));
        small[y * 28 + x] = Math.round(block.reduce((a, b) => a + b, 0) / 4);
      }
    }
    const normalised = (await (await postJson({ pixels: small }, '/classify?normalize=true')).json()) as Prediction;
    expect(normalised.digit).toBe(labels[0]);
    const asSent = (await (await postJson({ pixels: small })).json()) as Prediction;
    expect(asSent.probabilities).not.toEqual(normalised.probabilities);
    // Already MNIST-shaped digits come through normalisation with the same answer.
    const batch = (await (await postJson({ images: [pixels(1), pixels(2)] }, '/classify?normalize=true')).json()) as {
      predictions: Prediction[];
    };
    expect(batch.predictions.map((p) => p.digit)).toEqual([labels[1], labels[2]]);
  });

  it('reads every accepted media type, aliases such as image/jpg included, in every input form', async () => {
    const side = 28 * 4;
    const gray = new Uint8Array(side * side);
    const digit = mnist().pixels(7);
    gray.forEach((_, i) => {
      gray[i] = 255 - digit[Math.floor(i / side / 4) * 28 + Math.floor((i % side) / 4)];
    });
    const rgba = new Uint8Array(side * side * 4).map((_, i) => (i % 4 === 3 ? 255 : gray[i >> 2]));
    const files = {
      png: encodePng({ width: side, height: side, data: gray, channels: 1, depth: 8 }),
      jpeg: new Uint8Array(jpeg.encode({ width: side, height: side, data: rgba }, 90).data),
    };
    for (const [type, format] of Object.entries(PICTURE_MEDIA_TYPES)) {
      const bytes = files[format];
      const answers = [
        await postImage(bytes, type),
        await postForm(bytes, 'image', type),
        await postJson({ image: `data:${type};base64,${toBase64(bytes)}` }),
      ];
      for (const res of answers) {
        expect(res.status, `${type}: ${await res.clone().text()}`).toBe(200);
        expect(((await res.json()) as Prediction).digit).toBe(mnist().labels[7]);
      }
    }
  });
});

// The same hostile pictures on both routes that take pictures.
describe.each(['/classify', '/read'])('bad pictures on POST %s', (path) => {
  it('answers 422 for truncated or corrupt files and blank pages', async () => {
    const bytes = scan(5);
    await expectError(await postImage(bytes.subarray(0, bytes.length >> 1), 'image/png', path), 422, 'invalid_image');
    await expectError(
      await postImage(new TextEncoder().encode('not a picture'), 'image/png', path),
      422,
      'invalid_image',
    );
    await expectError(await postJson({ image: 'data:image/png;base64,!!!' }, path), 422, 'invalid_image');
    const blank = encodePng({ width: 64, height: 64, data: new Uint8Array(64 * 64).fill(255), channels: 1, depth: 8 });
    await expectError(await postImage(blank, 'image/png', path), 422, 'no_ink');
    await expectError(await postForm(blank, 'image', 'image/png', path), 422, 'no_ink');
  });

  it('refuses over-large pictures from their header with 413', async () => {
    // A PNG that claims 20000×20000 pixels: only the header is read.
    const header = scan(0).slice(0, 33);
    new DataView(header.buffer).setUint32(16, 20_000);
    new DataView(header.buffer).setUint32(20, 20_000);
    await expectError(await postImage(header, 'image/png', path), 413, 'image_too_large');
  });

  it('answers 415 for other picture types and 400 for a form without an image field', async () => {
    await expectError(
      await postImage(Uint8Array.of(0x47, 0x49, 0x46, 0x38, 0x39, 0x61), 'image/gif', path),
      415,
      'unsupported_media_type',
    );
    await expectError(await postForm(scan(0), 'file', 'image/png', path), 400, 'invalid_body');
    await expectError(await postJson({ image: 42 }, path), 400, 'invalid_body');
  });
});
