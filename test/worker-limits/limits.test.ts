// The Worker with limits set in [vars] (vitest.workers-limits.config.ts: MAX_BATCH = 4,
// MAX_PICTURE_MEGAPIXELS = 0.05): requests over them are refused with errors naming the limit,
// requests within them answered, and GET /model reports them.
import { exports } from 'cloudflare:workers';
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';

const BASE = 'http://worker.test';
const post = (init: RequestInit) => exports.default.fetch(new Request(`${BASE}/classify`, { method: 'POST', ...init }));
const json = (body: unknown) => post({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** A vertical bar, a crude "1", as 784 pixels. */
const one = () =>
  Array.from({ length: 784 }, (_, i) => (i % 28 >= 13 && i % 28 <= 15 && i > 28 * 4 && i < 28 * 24 ? 255 : 0));

describe('limits set in wrangler.toml [vars]', () => {
  it('refuses batches and pictures over the configured limits, naming them, and reports them at /model', async () => {
    const model = (await (await exports.default.fetch(new Request(`${BASE}/model`))).json()) as {
      limits: Record<string, number>;
    };
    expect(model.limits).toMatchObject({ maxBatch: 4, maxPictureMegapixels: 0.05 });

    expect((await json({ images: [one(), one(), one(), one()] })).status).toBe(200);
    for (const n of [5, 300]) {
      const res = await json({ images: Array.from({ length: n }, one) });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('batch_too_large');
      expect(error.message).toContain(`has ${n} digits; the limit is 4 per request (MAX_BATCH)`);
    }

    const picture = (side: number) => {
      const gray = new Uint8Array(side * side).fill(240);
      for (let y = side >> 2; y < (3 * side) >> 2; y++)
        gray.fill(20, y * side + (side >> 1) - 4, y * side + (side >> 1) + 4);
      return encodePng({ width: side, height: side, data: gray, channels: 1, depth: 8 });
    };
    expect((await post({ headers: { 'content-type': 'image/png' }, body: picture(200) })).status).toBe(200); // 0.04 MP
    const res = await post({ headers: { 'content-type': 'image/png' }, body: picture(240) }); // 0.0576 MP
    expect(res.status).toBe(413);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('image_too_large');
    expect(error.message).toContain('the limit is 4096 px a side and 0.05 MP (MAX_PICTURE_MEGAPIXELS)');
  });
});
