// POST /feedback and GET /feedback/stats in workerd with a real local D1 (the `feedback`
// environment of wrangler.toml, schema from migrations/): what is stored is what was sent, as the
// model saw it; bad corrections get a 4xx and store nothing. Few requests: the pool slows per request.
import { env } from 'cloudflare:workers';
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import metadata from '../../models/mnist-cnn/metadata.json';
import { PIXEL_COUNT } from '../../src/shared/model-spec';
import { normalizePixels } from '../../src/shared/normalize';
import { app } from '../../src/worker/app';
import { BASE, type ErrorBody, mnist, postJson, request } from '../worker/helpers';

const db = (env as unknown as { FEEDBACK_DB: D1Database }).FEEDBACK_DB;

interface Row {
  id: string;
  created_at: string;
  label: number;
  predicted: number | null;
  model: string | null;
  source: string;
  pixels: number[];
}

async function rowById(id: string): Promise<Row> {
  const row = await db
    .prepare('SELECT * FROM corrections WHERE id = ?')
    .bind(id)
    .first<Omit<Row, 'pixels'> & { pixels: ArrayBuffer | number[] }>();
  expect(row, `row ${id}`).not.toBeNull();
  return {
    ...row!,
    pixels: Array.from(row!.pixels instanceof ArrayBuffer ? new Uint8Array(row!.pixels) : row!.pixels),
  };
}

const countRows = async () => (await db.prepare('SELECT COUNT(*) AS n FROM corrections').first<{ n: number }>())!.n;

/** MNIST digit i drawn 6× larger as dark ink on light paper, as a PNG: a picture, not pixels. */
function scanPng(i: number): Uint8Array {
  const digit = mnist().pixels(i);
  const scale = 6;
  const margin = 20;
  const side = 28 * scale + 2 * margin;
  const data = new Uint8Array(side * side).fill(240);
  for (let y = 0; y < 28 * scale; y++) {
    for (let x = 0; x < 28 * scale; x++) {
      data[(y + margin) * side + x + margin] = Math.round(
        240 - (digit[Math.floor(y / scale) * 28 + Math.floor(x / scale)] / 255) * 220,
      );
    }
  }
  return encodePng({ width: side, height: side, data, channels: 1, depth: 8 });
}
const dataUrl = (bytes: Uint8Array) =>
  `data:image/png;base64,${btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''))}`;

/** Straight into the app's fetch handler with the environment's bindings: many cases, no pool slowdown. */
function direct(body: unknown, { path = '/feedback', type = 'application/json' } = {}): Promise<Response> {
  const init = {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
  return Promise.resolve(app.fetch(new Request(`${BASE}${path}`, init), env));
}

async function created(res: Response): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(201);
  const body = JSON.parse(text) as { id: string };
  expect(Object.keys(body)).toEqual(['id']);
  expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
  return body.id;
}

describe('POST /feedback stores the digit as the model saw it', () => {
  it('stores raw pixels byte for byte, with label, prediction, model and time, and nothing else', async () => {
    const pixels = mnist().pixels(0); // a 7
    const before = Date.now();
    const id = await created(await postJson({ pixels, label: 7, predicted: 1, model: metadata.version }, '/feedback'));
    const row = await rowById(id);
    expect(row).toMatchObject({ id, label: 7, predicted: 1, model: metadata.version, source: 'pixels' });
    expect(row.pixels).toEqual(pixels);
    expect(Date.parse(row.created_at)).toBeGreaterThanOrEqual(before - 1000);
    // The schema has no room for anything about the client (IP address, user agent, …).
    expect(Object.keys(row).sort()).toEqual(['created_at', 'id', 'label', 'model', 'pixels', 'predicted', 'source']);
  });

  it('stores a picture as the normalised 28×28 digit /classify classifies, not as the picture', async () => {
    const image = dataUrl(scanPng(1));
    const id = await created(await postJson({ image, label: 2 }, '/feedback'));
    const row = await rowById(id);
    expect(row).toMatchObject({ label: 2, predicted: null, model: null, source: 'image' });
    expect(row.pixels).toHaveLength(PIXEL_COUNT);
    // The stored digit gets the answer the picture got: it is the model's input.
    const fromPicture = (await (await postJson({ image })).json()) as { digit: number; probabilities: number[] };
    const fromStored = (await (await postJson({ pixels: row.pixels })).json()) as {
      digit: number;
      probabilities: number[];
    };
    expect(fromStored.digit).toBe(fromPicture.digit);
    fromStored.probabilities.forEach((p, d) => {
      expect(p).toBeCloseTo(fromPicture.probabilities[d], 5);
    });
  });

  it('normalises raw pixels with ?normalize=true, as /classify does, before storing them', async () => {
    // Digit 2 shifted to the top-left corner: normalisation moves it back to the centre.
    const original = mnist().pixels(2);
    const shifted = new Array<number>(PIXEL_COUNT).fill(0);
    for (let y = 0; y < 22; y++) for (let x = 0; x < 22; x++) shifted[y * 28 + x] = original[(y + 6) * 28 + x + 6];
    const res = await direct({ pixels: shifted, label: mnist().labels[2] }, { path: '/feedback?normalize=true' });
    const row = await rowById(await created(res));
    expect(row.source).toBe('pixels-normalized');
    expect(row.pixels).toEqual(Array.from(normalizePixels(shifted)));
    expect(row.pixels).not.toEqual(shifted);
  });
});

describe('POST /feedback rejects bad corrections with a 4xx and stores nothing', () => {
  const digit = () => mnist().pixels(3);
  const blank = encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32).fill(255), channels: 1, depth: 8 });
  const cases: [name: string, body: () => unknown, status: number, code: string, path?: string, type?: string][] = [
    ['no label', () => ({ pixels: digit() }), 400, 'invalid_label'],
    ['label 10', () => ({ pixels: digit(), label: 10 }), 400, 'invalid_label'],
    ['label -1', () => ({ pixels: digit(), label: -1 }), 400, 'invalid_label'],
    ['label 2.5', () => ({ pixels: digit(), label: 2.5 }), 400, 'invalid_label'],
    ['label "3"', () => ({ pixels: digit(), label: '3' }), 400, 'invalid_label'],
    ['label null', () => ({ pixels: digit(), label: null }), 400, 'invalid_label'],
    ['predicted 12', () => ({ pixels: digit(), label: 3, predicted: 12 }), 400, 'invalid_label'],
    [
      'a model that is not a version',
      () => ({ pixels: digit(), label: 3, model: 'x'.repeat(65) }),
      400,
      'invalid_body',
    ],
    [
      'an unknown field (no room for personal data)',
      () => ({ pixels: digit(), label: 3, email: 'a@b.c' }),
      400,
      'invalid_body',
    ],
    ['a batch', () => ({ images: [digit()], label: 3 }), 400, 'invalid_body'],
    ['pixels and image', () => ({ pixels: digit(), image: 'iVBOR', label: 3 }), 400, 'invalid_body'],
    ['no digit', () => ({ label: 3 }), 400, 'invalid_body'],
    ['a JSON array', () => [digit()], 400, 'invalid_body'],
    ['malformed JSON', () => '{"label": 3, "pixels": [', 400, 'invalid_json'],
    ['too few pixels', () => ({ pixels: [1, 2, 3], label: 3 }), 400, 'wrong_pixel_count'],
    ['a pixel over 255', () => ({ pixels: [...digit().slice(1), 300], label: 3 }), 400, 'pixel_out_of_range'],
    ['a string pixel', () => ({ pixels: ['x', ...digit().slice(1)], label: 3 }), 400, 'invalid_pixel_value'],
    [
      'a picture that is not one',
      () => ({ image: 'data:image/png;base64,aGVsbG8gd29ybGQ=', label: 3 }),
      422,
      'invalid_image',
    ],
    ['bad base64', () => ({ image: 'data:image/png;base64,!!!', label: 3 }), 422, 'invalid_image'],
    ['a blank picture', () => ({ image: dataUrl(blank), label: 3 }), 422, 'no_ink'],
    [
      'blank pixels to normalise',
      () => ({ pixels: new Array(784).fill(0), label: 3 }),
      422,
      'no_ink',
      '/feedback?normalize=true',
    ],
    ['a bad query', () => ({ pixels: digit(), label: 3 }), 400, 'invalid_query', '/feedback?normalize=yes'],
    ['a PNG body', () => 'png bytes', 415, 'unsupported_media_type', '/feedback', 'image/png'],
    [
      'a body over the limit',
      () => ({ pixels: digit(), label: 3, pad: ' '.repeat(2 * 1024 * 1024) }),
      413,
      'payload_too_large',
    ],
  ];

  it.each(cases)('%s → %i %s', async (_name, body, status, code, path, type) => {
    const rows = await countRows();
    const res = await direct(body(), { path, type });
    const text = await res.text();
    expect(res.status, text).toBe(status);
    const error = JSON.parse(text) as ErrorBody;
    expect(error.error.code).toBe(code);
    expect(error.error.message.length).toBeGreaterThan(10);
    expect(await countRows()).toBe(rows);
  });

  it('names the bad field in the message', async () => {
    const res = await direct({ pixels: digit(), label: 3, predicted: 'seven' });
    expect(((await res.json()) as ErrorBody).error.message).toContain('"predicted" is "seven"');
  });
});

describe('GET /feedback/stats', () => {
  it('counts per label and per model version, and how often the model was wrong', async () => {
    await db.prepare('DELETE FROM corrections').run();
    const pixels = mnist().pixels(4);
    const sent: [label: number, predicted: number | undefined, model: string | undefined][] = [
      [4, 9, 'aaaa'],
      [4, 4, 'aaaa'],
      [9, 4, 'aaaa'],
      [4, undefined, 'bbbb'],
      [0, 6, undefined],
    ];
    for (const [label, predicted, model] of sent) await created(await direct({ pixels, label, predicted, model }));
    const res = await request('/feedback/stats');
    expect(res.status).toBe(200);
    const stats = (await res.json()) as {
      total: number;
      withPrediction: number;
      wrong: number;
      labels: { label: number; count: number; wrong: number }[];
      models: { model: string | null; count: number; wrong: number }[];
    };
    expect(stats).toMatchObject({ total: 5, withPrediction: 4, wrong: 3 });
    expect(stats.labels).toHaveLength(10);
    expect(stats.labels[4]).toEqual({ label: 4, count: 3, wrong: 1 });
    expect(stats.labels[9]).toEqual({ label: 9, count: 1, wrong: 1 });
    expect(stats.labels[0]).toEqual({ label: 0, count: 1, wrong: 1 });
    expect(stats.labels[1]).toEqual({ label: 1, count: 0, wrong: 0 });
    expect(stats.models).toEqual([
      { model: 'aaaa', count: 3, wrong: 2 },
      { model: null, count: 1, wrong: 1 },
      { model: 'bbbb', count: 1, wrong: 0 },
    ]);
  });

  it('/model says feedback is on', async () => {
    expect(((await (await request('/model')).json()) as { feedback: boolean }).feedback).toBe(true);
  });
});

describe('access control, as on /classify', () => {
  const keyed = { ...(env as object), API_KEY: 'feedback-key' };
  const send = (path: string, init: RequestInit) =>
    Promise.resolve(app.fetch(new Request(`${BASE}${path}`, init), keyed));

  it('needs the API key on POST /feedback and GET /feedback/stats once one is set, and stores nothing without it', async () => {
    const before = await countRows();
    const body = JSON.stringify({ pixels: mnist().pixels(0), label: mnist().labels[0] });
    const json = { 'content-type': 'application/json' };
    const refused = await send('/feedback', { method: 'POST', headers: json, body });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await refused.json()) as ErrorBody).error.code).toBe('unauthorized');
    expect((await send('/feedback/stats', { method: 'GET' })).status).toBe(401);
    expect(await countRows()).toBe(before);

    const authorized = { ...json, authorization: 'Bearer feedback-key' };
    await created(await send('/feedback', { method: 'POST', headers: authorized, body }));
    expect(await countRows()).toBe(before + 1);
    expect((await send('/feedback/stats', { method: 'GET', headers: authorized })).status).toBe(200);
  });
});
