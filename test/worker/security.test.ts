// API keys, rate limits, CORS and security headers, inside workerd. Each configuration is an `env`
// handed to the Worker's fetch, as a deployment with those secrets/vars/bindings would receive it;
// the rate limiter is the real workerd binding (TEST_RATE_LIMITER in vitest.workers.config.ts).
// Hostile requests are counted in HOSTILE (reported in the README's "Security and limits").
import { env } from 'cloudflare:workers';
import { afterAll, describe, expect, it } from 'vitest';
import worker from '../../src/worker/index';
import type { SecurityEnv } from '../../src/worker/security/config';
import { BASE, type ErrorBody, mnist } from './helpers';

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_RATE_LIMITER: RateLimit;
    }
  }
}

/** The limit of TEST_RATE_LIMITER (vitest.workers.config.ts). */
const LIMIT = 2;
const KEYS = ['k-old.2025_a1b2c3', 'k-new.2026_d4e5f6'];
const keyed: SecurityEnv = { API_KEY: ` ${KEYS[0]} , ${KEYS[1]} ` }; // spaces as people type them

let hostile = 0;
afterAll(() => console.log(`security.test.ts: ${hostile} hostile requests refused`));

async function call(config: SecurityEnv, path: string, init: RequestInit = {}): Promise<Response> {
  return worker.fetch(new Request(`${BASE}${path}`, init), config);
}

/** A JSON POST to `path` (one real MNIST digit unless `body`), with extra headers. */
function post(
  path: string,
  config: SecurityEnv,
  headers: Record<string, string> = {},
  body?: BodyInit,
): Promise<Response> {
  return call(config, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body ?? JSON.stringify({ pixels: mnist().pixels(0) }),
  });
}

/** POST /classify of one real MNIST digit (or `body`), with extra headers. */
const classify = (config: SecurityEnv, headers: Record<string, string> = {}, body?: BodyInit) =>
  post('/classify', config, headers, body);

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  return body;
}

async function expectUnauthorized(res: Response) {
  hostile++;
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  const body = await expectError(res, 401, 'unauthorized');
  for (const key of KEYS) expect(body.error.message).not.toContain(key);
}

async function expectDigit(res: Response) {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect((JSON.parse(text) as { digit: number }).digit).toBe(mnist().labels[0]);
}

describe('no API_KEY: open, as before', () => {
  it('classifies without an Authorization header, and ignores one', async () => {
    await expectDigit(await classify({}));
    await expectDigit(await classify({}, bearer('anything')));
  });

  it('treats a blank API_KEY as unset', async () => {
    await expectDigit(await classify({ API_KEY: '  ' }));
  });
});

describe('API_KEY set', () => {
  it('accepts every key of a rotated list, the scheme in any case', async () => {
    await expectDigit(await classify(keyed, bearer(KEYS[0])));
    await expectDigit(await classify(keyed, bearer(KEYS[1])));
    await expectDigit(await classify(keyed, { authorization: `bearer ${KEYS[1]}` }));
  });

  it('keeps /healthz, /model, /openapi.json open and answers 405 before 401', async () => {
    for (const path of ['/healthz', '/model', '/openapi.json']) {
      expect((await call(keyed, path)).status, path).toBe(200);
    }
    await expectError(await call(keyed, '/classify'), 405, 'method_not_allowed');
  });
});

// Every guarded route refuses the same keys, before it reads the body (POST /read takes pictures
// only, so its JSON digit would be a 400 — never reached).
describe.each(['/classify', '/read'])('API_KEY set: POST %s', (path) => {
  it('refuses a request with no key: 401 JSON with a Bearer challenge', async () => {
    const res = await post(path, keyed);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="mnist-edge"');
    await expectUnauthorized(res);
  });

  it('refuses wrong and malformed keys with 401', async () => {
    const attempts = [
      `Bearer wrong-key`,
      `Bearer ${KEYS[0].toUpperCase()}`, // case matters
      `Bearer ${KEYS[0].slice(0, -1)}`, // a prefix of a key
      `Bearer ${KEYS[0]}x`, // a key plus more
      `Bearer ${KEYS.join(',')}`, // the whole list
      `Bearer ${KEYS[0]} ${KEYS[1]}`,
      `Bearer `,
      `Bearer`,
      KEYS[0], // no scheme
      `Basic ${btoa(`user:${KEYS[0]}`)}`,
      `Token ${KEYS[0]}`,
      `Bearer ${'A'.repeat(10_000)}`, // a huge one
    ];
    for (const authorization of attempts) await expectUnauthorized(await post(path, keyed, { authorization }));
    // The key in another header is no key.
    await expectUnauthorized(await post(path, keyed, { 'x-api-key': KEYS[0] }));
  });

  it('refuses before reading the body', async () => {
    // A body that never ends: only a guard that runs before the body limit answers at all.
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    await expectUnauthorized(await post(path, keyed, {}, body));
    expect(pulled).toBeLessThanOrEqual(2); // the stream's own read-ahead at most
  });

  it('fails closed when API_KEY holds no usable key', async () => {
    // "," is a list of no keys, "has space" is not a bearer token: neither may open the API.
    await expectUnauthorized(await post(path, { API_KEY: ',' }, bearer('x')));
    await expectUnauthorized(await post(path, { API_KEY: 'has space' }, { authorization: 'Bearer has space' }));
  });
});

describe('the page without a key (ALLOW_PAGE_WITHOUT_KEY)', () => {
  const exempt: SecurityEnv = { ...keyed, ALLOW_PAGE_WITHOUT_KEY: 'true' };

  it('lets requests from the Worker’s own origin through when enabled', async () => {
    await expectDigit(await classify(exempt, { origin: new URL(BASE).origin }));
  });

  it('still refuses other origins and no origin', async () => {
    await expectUnauthorized(await classify(exempt, { origin: 'https://evil.example' }));
    await expectUnauthorized(await classify(exempt, { origin: 'null' }));
    await expectUnauthorized(await classify(exempt));
  });

  it('is off unless set to true', async () => {
    await expectUnauthorized(await classify(keyed, { origin: new URL(BASE).origin }));
    await expectUnauthorized(
      await classify({ ...keyed, ALLOW_PAGE_WITHOUT_KEY: 'yes' }, { origin: new URL(BASE).origin }),
    );
  });
});

describe('rate limit (RATE_LIMITER binding)', () => {
  const limited = (config: SecurityEnv): SecurityEnv => ({ ...config, RATE_LIMITER: env.TEST_RATE_LIMITER });
  const cheap = '{"pixels":[]}'; // passes the guards, then a 400: the limiter counts it all the same

  /**
   * Sends until the first 429. Windows are fixed (60 s), so one boundary may fall inside the
   * loop: between LIMIT and 2 × LIMIT requests get through, never more.
   */
  async function untilLimited(send: () => Promise<Response>): Promise<{ passed: number; refused: Response }> {
    let passed = 0;
    for (let i = 0; i <= 2 * LIMIT; i++) {
      const res = await send();
      if (res.status === 429) return { passed, refused: res };
      await res.body?.cancel();
      passed++;
    }
    throw new Error(`no 429 after ${passed} requests (limit ${LIMIT})`);
  }

  it('answers 429 with Retry-After past the limit of a key; other keys keep their own budget', async () => {
    const config = limited({ API_KEY: 'limited-key-a,limited-key-b' });
    const { passed, refused } = await untilLimited(() => classify(config, bearer('limited-key-a'), cheap));
    hostile++;
    expect(passed).toBeGreaterThanOrEqual(LIMIT);
    expect(passed).toBeLessThanOrEqual(2 * LIMIT);
    expect(refused.headers.get('retry-after')).toBe('60');
    await expectError(refused, 429, 'rate_limited');
    await expectDigit(await classify(config, bearer('limited-key-b')));
  });

  it('counts per client IP when the API is open, and uses RATE_LIMIT_PERIOD for Retry-After', async () => {
    const config = limited({ RATE_LIMIT_PERIOD: '10' });
    const from = (ip: string) => ({ 'cf-connecting-ip': ip });
    const { refused } = await untilLimited(() => classify(config, from('203.0.113.7'), cheap));
    hostile++;
    expect(refused.headers.get('retry-after')).toBe('10');
    await expectError(refused, 429, 'rate_limited');
    await expectDigit(await classify(config, from('203.0.113.8')));
  });

  it('does not count requests refused for their key', async () => {
    const config = limited({ API_KEY: 'limited-key-c' });
    for (let i = 0; i <= 2 * LIMIT; i++) await expectUnauthorized(await classify(config, bearer('not-the-key'), cheap));
    await expectDigit(await classify(config, bearer('limited-key-c')));
  });
});

describe('CORS (CORS_ORIGINS)', () => {
  const preflight = (config: SecurityEnv, origin: string) =>
    call(config, '/classify', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('allows any origin while no key is set, never with credentials', async () => {
    const res = await preflight({}, 'https://any.example');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('allows no other origin once a key is set, unless listed', async () => {
    hostile++;
    expect((await preflight(keyed, 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    const listed = { ...keyed, CORS_ORIGINS: 'https://app.example, https://other.example' };
    const res = await preflight(listed, 'https://app.example');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
    hostile++;
    expect((await preflight(listed, 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    // A refusal is readable by an allowed origin (so it can show the message), with its headers exposed.
    const refused = await classify(listed, { origin: 'https://app.example' });
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(refused.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    await expectUnauthorized(refused);
  });
});

describe('security headers on Worker answers', () => {
  it('marks JSON as not to be sniffed, run or framed', async () => {
    for (const res of [await call({}, '/healthz'), await classify(keyed)]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      await res.body?.cancel();
    }
  });
});

describe('GET /openapi.json', () => {
  it('declares the bearer scheme, and 401/429 on every route that is not a plain read', async () => {
    const doc = (await (await call({}, '/openapi.json')).json()) as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<
        string,
        Record<string, { security?: unknown[]; responses: Record<string, { headers?: Record<string, unknown> }> }>
      >;
    };
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    const writes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([method]) => !['get', 'head', 'options'].includes(method))
        .map(([method, op]) => ({ route: `${method} ${path}`, op })),
    );
    expect(writes.map((w) => w.route)).toContain('post /classify');
    for (const { route, op } of writes) {
      expect(op.security, route).toEqual([{ apiKey: [] }]);
      expect(Object.keys(op.responses[401].headers ?? {}), route).toEqual(['WWW-Authenticate']);
      expect(Object.keys(op.responses[429].headers ?? {}), route).toEqual(['Retry-After']);
    }
  });
});
