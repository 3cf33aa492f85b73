// Client mistakes through the HTTP API: always a 4xx with {"error": {"code", "message"}}, never a 5xx.
import { describe, expect, it } from 'vitest';
import worker from '../../src/worker/index';
import { MAX_BODY_BYTES } from '../../src/worker/schemas';
import { BASE, type ErrorBody, postJson, request } from './helpers';

const digit = () => Array.from({ length: 784 }, () => 0);
const withPixel = (value: unknown, at = 100) => {
  const pixels: unknown[] = digit();
  pixels[at] = value;
  return pixels;
};

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+/); // no stack trace
  return body;
}

describe('POST /classify rejects bad JSON bodies', () => {
  const cases: [name: string, body: unknown, code: string][] = [
    ['malformed JSON', '{"pixels": [1, 2,', 'invalid_json'],
    ['an empty body', '', 'invalid_json'],
    ['a JSON array', [digit()], 'invalid_body'],
    ['JSON null', 'null', 'invalid_body'],
    ['no pixels or images key', { data: digit() }, 'invalid_body'],
    ['an unknown extra key', { pixels: digit(), label: 3 }, 'invalid_body'],
    ['pixels not an array', { pixels: 'abc' }, 'invalid_body'],
    ['too few pixels', { pixels: [1, 2, 3] }, 'wrong_pixel_count'],
    ['too many pixels', { pixels: [...digit(), 0] }, 'wrong_pixel_count'],
    ['a 28×28 nested array', { pixels: Array.from({ length: 28 }, () => Array(28).fill(0)) }, 'wrong_pixel_count'],
    ['a string pixel', { pixels: withPixel('12') }, 'invalid_pixel_value'],
    ['a null pixel', { pixels: withPixel(null) }, 'invalid_pixel_value'],
    ['a boolean pixel', { pixels: withPixel(true) }, 'invalid_pixel_value'],
    ['a negative pixel', { pixels: withPixel(-1) }, 'pixel_out_of_range'],
    ['a pixel over 255', { pixels: withPixel(256) }, 'pixel_out_of_range'],
    ['a huge pixel (1e999 → Infinity is not JSON, so 1e308)', { pixels: withPixel(1e308) }, 'pixel_out_of_range'],
    ['images not an array', { images: 5 }, 'invalid_body'],
    ['an empty batch', { images: [] }, 'empty_batch'],
    ['a batch of 257', { images: Array.from({ length: 257 }, digit) }, 'batch_too_large'],
    ['a batch digit of the wrong length', { images: [digit(), [1, 2]] }, 'wrong_pixel_count'],
    ['a batch digit that is not an array', { images: [digit(), 7] }, 'invalid_body'],
    ['a bad pixel inside a batch', { images: [digit(), withPixel(300, 5)] }, 'pixel_out_of_range'],
    ['a non-number inside a batch', { images: [withPixel('x', 0)] }, 'invalid_pixel_value'],
  ];
  it.each(cases)('%s → 400 %s', async (_name, body, code) => {
    await expectError(await postJson(body), 400, code);
  });

  it('names the offending element in the message', async () => {
    const body = await expectError(await postJson({ images: [digit(), withPixel(300, 5)] }), 400, 'pixel_out_of_range');
    expect(body.error.message).toContain('images[1][5]');
  });
});

// Both routes that take a body share its guards: every transport mistake is tried on each.
describe.each(['/classify', '/read'])('POST %s rejects bad transport', (path) => {
  it('answers 415 to a content type it cannot read', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const res = await request(path, {
        method: 'POST',
        headers: { 'content-type': type },
        body: '{"pixels":[]}',
      });
      await expectError(res, 415, 'unsupported_media_type');
    }
  });

  it('answers 415 when Content-Type is missing', async () => {
    const res = await request(path, { method: 'POST', body: new Blob([JSON.stringify({ pixels: digit() })]) });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('answers 413 from Content-Length, before reading the body', async () => {
    const body = JSON.stringify({ pixels: digit(), pad: ' '.repeat(MAX_BODY_BYTES) });
    await expectError(await postJson(body, path), 413, 'payload_too_large');
  });

  it('answers 413 to a chunked body that grows past the limit while streaming', async () => {
    // No Content-Length: only a limit counted while the body streams in can catch this one.
    const chunk = new TextEncoder().encode(' '.repeat(256 * 1024));
    const chunks = Math.ceil((MAX_BODY_BYTES * 1.5) / chunk.length);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === chunks) return controller.close();
        controller.enqueue(sent++ === 0 ? new TextEncoder().encode('{"image":"') : chunk);
      },
    });
    // Straight into the Worker's fetch handler: through a service binding, workerd would report the
    // unread rest of the stream as an unhandled "Network connection lost".
    const req = new Request(`${BASE}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
    });
    const res = await worker.fetch(req);
    await expectError(res, 413, 'payload_too_large');
    expect(sent).toBeLessThan(chunks); // the Worker stopped reading before the end
  });
});

describe('unknown routes and methods', () => {
  it('answers 404 with JSON for unknown routes', async () => {
    await expectError(await request('/nope'), 404, 'not_found');
    await expectError(await request('/classify/extra', { method: 'POST' }), 404, 'not_found');
  });

  it('answers 405 with Allow for a known route and another method', async () => {
    for (const path of ['/classify', '/read']) {
      const get = await request(path);
      expect(get.headers.get('allow')).toBe('POST');
      await expectError(get, 405, 'method_not_allowed');
    }
    const del = await request('/healthz', { method: 'DELETE' });
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    await expectError(del, 405, 'method_not_allowed');
  });
});
