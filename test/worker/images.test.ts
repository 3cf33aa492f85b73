// Pictures and ?normalize through POST /classify: the image parsers are wired into the route.
import { encode as encodePng } from 'fast-png';
import { describe, expect, inject, it } from 'vitest';
import { decodeToGray } from '../../src/worker/input/decode-image';
import { type ErrorBody, mnist, postJson, request } from './helpers';

const png = (pixels: number[]) =>
  encodePng({ width: 28, height: 28, data: Uint8Array.from(pixels), channels: 1, depth: 8 });
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

type Form = 'raw' | 'multipart' | 'json';
function send(bytes: Uint8Array, form: Form): Promise<Response> {
  switch (form) {
    case 'raw':
      return request('/classify', { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes });
    case 'multipart': {
      const body = new FormData();
      body.set('image', new Blob([bytes], { type: 'image/png' }), 'digit.png');
      return request('/classify', { method: 'POST', body });
    }
    case 'json':
      return postJson({ image: `data:image/png;base64,${base64(bytes)}` });
  }
}

describe('PNG decoding in workerd', () => {
  it("gives Node's gray picture for scans whose rows are filtered, inflated in several 256 KiB reads", async () => {
    const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    for (const scan of inject('filteredScans')) {
      const gray = await decodeToGray(bytes(scan.png));
      expect([gray.width, gray.height]).toEqual([scan.width, scan.height]);
      expect(Array.from(gray.data)).toEqual(Array.from(bytes(scan.gray)));
    }
  });
});

describe('POST /classify with pictures', () => {
  it('reads MNIST digits sent as PNG bodies, multipart uploads and JSON data URLs', async () => {
    const { pixels, labels } = mnist();
    const forms: Form[] = ['raw', 'multipart', 'json'];
    const total = 60;
    let right = 0;
    for (let i = 0; i < total; i++) {
      const res = await send(png(pixels(i)), forms[i % forms.length]);
      expect(res.status, await res.clone().text()).toBe(200);
      const body = (await res.json()) as { digit: number; probabilities: number[]; model: string };
      expect(body.probabilities).toHaveLength(10);
      if (body.digit === labels[i]) right++;
    }
    expect(right / total).toBeGreaterThanOrEqual(0.95);
  });

  it('answers 422 to bytes that are not a picture', async () => {
    const res = await request('/classify', {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: 'not a png',
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_image');
  });

  it('answers 422 to a blank picture', async () => {
    const res = await send(png(Array(784).fill(0)), 'raw');
    expect(res.status).toBe(422);
    expect(((await res.json()) as ErrorBody).error.code).toBe('no_ink');
  });
});

describe('?normalize on raw pixels', () => {
  it('normalizes a small off-centre digit when asked', async () => {
    // A short vertical bar near the top-left corner: after normalisation, a centred stroke.
    const pixels = Array.from({ length: 784 }, (_, i) => (i % 28 >= 2 && i % 28 < 4 && i < 28 * 12 ? 255 : 0));
    const res = await request('/classify?normalize=true', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pixels }),
    });
    expect(res.status).toBe(200);
  });

  it('rejects a blank digit with 422 and a bad value with 400', async () => {
    const blank = JSON.stringify({ pixels: Array(784).fill(0) });
    const post = (query: string) =>
      request(`/classify?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: blank });
    const noInk = await post('normalize=true');
    expect(noInk.status).toBe(422);
    expect(((await noInk.json()) as ErrorBody).error.code).toBe('no_ink');
    const bad = await post('normalize=yes');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.code).toBe('invalid_query');
    expect((await post('normalize=false')).status).toBe(200);
  });
});
