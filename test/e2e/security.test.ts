// The locked-down Worker under wrangler dev (global-setup.ts: API_KEY secret + rate-limiting binding),
// over real HTTP: keys, rate limit, open routes; and the page's security headers from public/_headers.
import { describe, expect, inject, it } from 'vitest';
import { PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { loadMnistTest } from '../support/mnist-files.ts';
import { KEYED } from './global-setup.ts';

const keyed = inject('keyedUrl');
const open = inject('workerUrls').default;
const mnist = loadMnistTest();
const digit = JSON.stringify({ pixels: Array.from(mnist.images.subarray(0, PIXEL_COUNT)) });
const [, API_KEY, LIMIT_KEY] = KEYED.keys;

let hostile = 0;

function classify(base: string, headers: Record<string, string> = {}, body = digit) {
  return fetch(new URL('/classify', base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
}

describe('with API_KEY set, under wrangler dev', () => {
  it('refuses no key and a wrong key: 401 JSON with a Bearer challenge', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer not-a-key' } as Record<string, string>,
      { authorization: `Basic ${btoa(API_KEY)}` },
    ]) {
      const res = await classify(keyed, headers);
      hostile++;
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      await expectError(res, 401, 'unauthorized');
    }
  });

  it('classifies with either key of the list', async () => {
    for (const key of KEYED.keys.slice(0, 2)) {
      const res = await classify(keyed, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { digit: number }).digit).toBe(mnist.labels[0]);
    }
  });

  it('keeps the page, /healthz, /model and /openapi.json open', async () => {
    for (const path of ['/', '/app.js', '/healthz', '/model', '/openapi.json']) {
      const res = await fetch(new URL(path, keyed));
      expect(res.status, path).toBe(200);
      await res.body?.cancel();
    }
  });

  it(`answers 429 with Retry-After past ${KEYED.limit} requests a minute for one key`, async () => {
    // Fixed 60 s windows: if one ends during the loop, up to twice the limit get through.
    let passed = 0;
    let refused: Response | undefined;
    while (!refused && passed <= 2 * KEYED.limit) {
      const res = await classify(keyed, { authorization: `Bearer ${LIMIT_KEY}` }, '{"pixels":[]}');
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(400); // through the guards, then refused for the body
        await res.body?.cancel();
        passed++;
      }
    }
    hostile++;
    expect(refused, `no 429 after ${passed} requests`).toBeDefined();
    expect(passed).toBeGreaterThanOrEqual(KEYED.limit);
    expect(refused!.headers.get('retry-after')).toBe('60');
    await expectError(refused!, 429, 'rate_limited');
    // Another key has its own budget.
    expect((await classify(keyed, { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
  });

  it('sends no CORS headers to other origins once a key is set', async () => {
    const res = await fetch(new URL('/classify', keyed), {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    hostile++;
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('security headers on the page (public/_headers)', () => {
  it.each([
    ['open', open],
    ['keyed', keyed],
  ])('serves /, /app.js and /style.css with a strict CSP, nosniff and a Referrer-Policy (%s)', async (_name, base) => {
    for (const path of ['/', '/app.js', '/api-key.js', '/style.css']) {
      const res = await fetch(new URL(path, base));
      expect(res.status, path).toBe(200);
      await res.body?.cancel();
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toMatch(/unsafe-(eval|inline)/);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });

  it('does not serve the _headers file itself', async () => {
    const res = await fetch(new URL('/_headers', open));
    expect(res.status).toBe(404);
    await res.body?.cancel();
  });

  it('counts the hostile requests sent here', () => {
    console.log(`e2e/security.test.ts: ${hostile} hostile requests refused`);
    expect(hostile).toBeGreaterThan(0);
  });
});
