// Warm-up at global scope: the code on a request's path (Hono's routing and middleware, JSON
// parsing and zod validation, the PNG and JPEG decoders, normalisation, the forward pass, the
// answer's JSON) runs a few times while the Worker starts, so it is compiled and its caches filled
// before the first real request arrives: V8 compiles functions lazily on their first call, and
// without this the first request pays for it.
//
// workerd refuses, at global scope, any Request or Response with a body (and DecompressionStream):
// `app.fetch()` of even GET /healthz fails there, as its answer has a body. So the requests below
// go through the Worker's own fetch handler as `WarmUpRequest`s, real Requests without a body that
// hand out their bytes from `text()`/`arrayBuffer()`, and for that call only the global `Response`
// is a subclass that keeps no body (Hono builds its answers with `new Response(body, init)`). The
// global is restored before the Worker serves anything, so no real request sees either class.
// Without nodejs_compat the PNG inflater is a stream, so it is warmed on already inflated rows. A
// failure is only logged.

import { normalizeDigit } from '../shared/normalize';
import { reduceFactor } from './input/decode-image';
import { decodePngReduced, parsePng } from './input/png';

/** MNIST test digit 0 (a 7) drawn 2× on white paper, 56×56: as an 8-bit gray PNG and a JPEG. */
const SEVEN_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAADgAAAA4CAAAAACN7WTCAAABQ0lEQVR4Xu3Vv6tBYRzH8fOVHxOSMkhEZ5ZkubuUP8CgDEa7zaAsJmf0VziTlOUYcFiMBonBSiiLQXJvzz1XnufbTdL3Ucp7UZ/nednOOcr3k33gnT7wTu8KW61MplgslYbDxYLf/4sGRqPwl8fzhcrlJhP+Lg00DE3rdjWtUAiFAMJh608cjmCQ/ZbL/F0aeGu/7/UOB+M309xs/H6AZpO/QQ3FdN1mi8d3O36TCdfrQEBRdF1cZcJqFcDnm07FVR40TacToN/HuzxYqQCk06cT3mXB4zGZdLlGI7zLg7UaQDaLV5Yc2OnY7V7veIx3lgy43cZiAPk83q3o4fmcSgGo6nKJT6zo4XzOXontNt6vUcPVKhIBaDQuF3xyjRqyhwlA/MyI0cLBwO1+LazXGVPV2Qyf3KKHiYT4kcHRwkd6Gv4AeRwUDlxLnPkAAAAASUVORK5CYII=';
const SEVEN_JPEG =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSgBBwcHCggKEwoKEygaFhooKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKP/AABEIADgAOAMBEQACEQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEAAhEDEQA/APqmgAoAKACgAoAKACgAoAyfEfiLSvDdmLrWrr7NAf4vLd+4HRQT1YfnQBU0XxpoGtNIumX/AJ5TG79zIuM5x95R6GgDoaACgAoAKACgDifid8ONI+IVtZxawObTf5TZfjeUJ4Vl/uDrQB5hrv7MPh+5Rjo97/Z8nY+VJLjp/el+v50Ac9N+zhr4toDH4ozMd3mD+z4+OeP+WvpQByvxF+Eup+BfB19rOo+JvMmi2eVB9gUeZmRUb5g7YwHB5FAHtn7Lg1d/h7Fc6w+5Js+TwgxiWUN938OtAHslABQAUAFABQB8e/E25vPjL8YLTwvZN9n0+037JsB8b7dJD8p2HrER1/8ArgH1xpdkmnWEVrEcpHnB+pJ/rQBaoAKACgAoA8w+PPxJj+H3hkPB82qXX/HsnTO149/JVl+6/f8ACgDmf2WPBcmj+Gptf1H5r7U9voNvlPMnZiDkEdh+NAHutABQAUAFAFLWtTt9H0ya+vG2wRbdxwT1YAdAT1IoA+QPBGnL8dPi/qWuaiv2fTYfL8y1zv627IPnBQ/eiB6e31APsmGNIYwkYwo6DNAD6ACgAoAKAPKP2jPDHiLxZ4LOm+F7T7XM/wDrI/NjjziSJhy5HZW79qAMr9nL4UX3gCwub3WJdmo323zbXap8rYZQPnV2DZDg8Yx0oA9soAKACgD/AP/Z';

const WARM_UP_ROUNDS = 3;

const bytes = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

type FetchHandler = (request: Request, env: object) => Promise<Response>;

/** A real Request (headers, URL, method) whose body is served from memory: workerd allows no body at global scope. */
class WarmUpRequest extends Request {
  readonly #bytes: Uint8Array | undefined;

  constructor(path: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}) {
    const { body, ...rest } = init;
    const headers = body ? { ...rest.headers, 'content-length': String(body.length) } : rest.headers;
    super(`http://warm-up.invalid${path}`, { ...rest, headers });
    this.#bytes = body;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return this.#bytes ? new ReadableStream() : null;
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    return (this.#bytes ?? new Uint8Array()).slice().buffer as ArrayBuffer;
  }

  override async text(): Promise<string> {
    return new TextDecoder().decode(this.#bytes);
  }

  override async json<T>(): Promise<T> {
    return JSON.parse(await this.text());
  }
}

/** Runs `fetch` with a global `Response` that drops bodies (allowed at global scope), then restores it. */
async function withBodilessResponses<T>(run: () => Promise<T>): Promise<T> {
  const RealResponse = globalThis.Response;
  class BodilessResponse extends RealResponse {
    constructor(_body?: BodyInit | null, init?: ResponseInit) {
      super(null, init);
    }
  }
  globalThis.Response = BodilessResponse;
  try {
    return await run();
  } finally {
    globalThis.Response = RealResponse;
  }
}

export async function warmUp(
  app: { router: { match(method: string, path: string): unknown } },
  fetch: FetchHandler,
): Promise<void> {
  const pixels = Array.from({ length: 784 }, (_, i) => (i % 28 > 12 && i % 28 < 16 && i > 112 && i < 672 ? 255 : 0));
  const json = new TextEncoder().encode(JSON.stringify({ pixels }));
  const post = (body: Uint8Array, type: string, headers: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { 'content-type': type, ...headers },
    body,
  });
  // Each request with the env it is sent with: no vars (the defaults), or an API key.
  const keyed = { API_KEY: 'warm-up-key' };
  // [what, request, env, the statuses it may answer]
  const requests: Array<[string, () => WarmUpRequest, object, number[]]> = [
    ['POST /classify JSON', () => new WarmUpRequest('/classify', post(json, 'application/json')), {}, [200]],
    // The whole path with nodejs_compat (the runtime's zlib inflates here too: 200, as in Node);
    // without it, up to the inflater, a stream that workerd refuses here (422): rows warmed below.
    ['POST /classify PNG', () => new WarmUpRequest('/classify', post(bytes(SEVEN_PNG), 'image/png')), {}, [200, 422]],
    ['POST /classify JPEG', () => new WarmUpRequest('/classify', post(bytes(SEVEN_JPEG), 'image/jpeg')), {}, [200]],
    [
      'POST /classify with an API key',
      () =>
        new WarmUpRequest('/classify', post(json, 'application/json', { authorization: `Bearer ${keyed.API_KEY}` })),
      keyed,
      [200],
    ],
    ['GET /healthz', () => new WarmUpRequest('/healthz'), {}, [200]],
    ['GET /model', () => new WarmUpRequest('/model'), {}, [200]],
    [
      'CORS preflight',
      () =>
        new WarmUpRequest('/classify', {
          method: 'OPTIONS',
          headers: {
            origin: 'https://warm-up.invalid',
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type',
          },
        }),
      {},
      [204],
    ],
    ['not found', () => new WarmUpRequest('/nowhere'), {}, [404]],
  ];
  const steps: Array<[string, () => unknown]> = [
    [
      'router',
      () => {
        for (const path of ['/classify', '/healthz', '/model', '/openapi.json', '/nowhere']) {
          for (const method of ['GET', 'POST']) app.router.match(method, path);
        }
      },
    ],
    ...requests.map(([what, request, env, statuses]): [string, () => unknown] => [
      what,
      async () => {
        const { status } = await withBodilessResponses(() => fetch(request(), env));
        if (!statuses.includes(status)) throw new Error(`answered ${status}`);
      },
    ]),
    // PNG without its inflater (no streams at global scope): the chunk walk on a real file, then
    // the page's own form, a 140×140 opaque RGBA canvas export, as already inflated rows (every
    // row filter), reduced and normalised.
    [
      'PNG',
      async () => {
        parsePng(bytes(SEVEN_PNG));
        const side = 140;
        const rows = new Uint8Array(side * (1 + side * 4));
        for (let y = 0; y < side; y++) {
          const row = y * (1 + side * 4);
          rows[row] = y < 5 ? y : 0; // filters 0–4 (on a white-paper picture from row 5 on)
          for (let x = 0; x < side; x++) {
            const ink = y > 20 && y < 120 && x > 60 && x < 80;
            rows.fill(ink ? 0 : 255, row + 1 + 4 * x, row + 4 + 4 * x);
            rows[row + 4 + 4 * x] = 255;
          }
        }
        const info = { width: side, height: side, depth: 8, colorType: 6, interlaced: false, idat: [] };
        normalizeDigit(await decodePngReduced(info, reduceFactor(side, side), [rows]));
      },
    ],
  ];
  // A few rounds: code run once is still interpreted; by the third, V8 has compiled what is hot.
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        if (round === 0) console.warn(`warm-up ${what} failed (the Worker still serves)`, error);
      }
    }
  }
}
