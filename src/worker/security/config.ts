// The owner's security settings, read from the Worker's environment on each request (secrets and
// `[vars]` can change between deployments without a code change). Everything is optional: with
// nothing set the API is open, CORS `*`, no rate limit, as before keys existed.

/** The bindings and vars this module reads. Everything else in `env` is ignored. */
export interface SecurityEnv {
  /** Secret: one API key or several, comma-separated (rotation: add the new key, deploy clients, drop the old). */
  API_KEY?: string;
  /** Var: `*` or comma-separated origins allowed to call the API from a browser. */
  CORS_ORIGINS?: string;
  /** Var: `"true"` lets the Worker's own page call guarded routes without a key (see README). */
  ALLOW_PAGE_WITHOUT_KEY?: string;
  /** Var: the rate limiter's `simple.period` in seconds, sent as Retry-After (default 60). */
  RATE_LIMIT_PERIOD?: string;
  /** Workers rate-limiting binding (`[[ratelimits]]` in wrangler.toml). */
  RATE_LIMITER?: RateLimit;
}

/** What a bearer token may look like (RFC 6750 `b64token`, as Hono's bearerAuth checks it). */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

export interface SecuritySettings {
  /** null: no key configured, guarded routes are open. An empty array: keys configured but none usable (everything refused). */
  keys: readonly string[] | null;
  /** `*`, or the exact origins allowed; an empty list means same-origin only. */
  corsOrigins: '*' | readonly string[];
  pageWithoutKey: boolean;
  rateLimiter: RateLimit | null;
  /** Seconds sent in Retry-After with a 429. */
  retryAfter: number;
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

function parseKeys(value: string | undefined): readonly string[] | null {
  if (value === undefined || value.trim() === '') return null;
  const keys = list(value);
  const usable = keys.filter((key) => TOKEN.test(key));
  if (usable.length !== keys.length) {
    // Never log the keys themselves.
    console.error(
      `API_KEY: ${keys.length - usable.length} of ${keys.length} keys are not valid bearer tokens ([A-Za-z0-9._~+/-]+=*) and are ignored.`,
    );
  }
  // A key list with nothing usable in it fails closed: [] refuses every request.
  return usable;
}

function parseOrigins(value: string | undefined, keyed: boolean): SecuritySettings['corsOrigins'] {
  // Default: anyone may call an open API from a browser; a keyed one only from its own page.
  if (value === undefined || value.trim() === '') return keyed ? [] : '*';
  const origins = list(value);
  if (origins.includes('*')) return '*';
  const valid = origins.filter((origin) => {
    try {
      return new URL(origin).origin === origin;
    } catch {
      return false;
    }
  });
  if (valid.length !== origins.length) {
    console.error(
      `CORS_ORIGINS: ignored ${origins.length - valid.length} entries that are not origins like https://example.com (no path, no trailing slash).`,
    );
  }
  return valid;
}

function parseFlag(name: string, value: string | undefined): boolean {
  const flag = (value ?? '').trim().toLowerCase();
  if (flag === 'true') return true;
  if (flag !== '' && flag !== 'false')
    console.error(`${name}: expected "true" or "false", got ${JSON.stringify(value)}; treated as false.`);
  return false;
}

function parsePeriod(value: string | undefined): number {
  const seconds = Number(value ?? 60);
  return Number.isInteger(seconds) && seconds > 0 ? seconds : 60;
}

const cache = new WeakMap<object, SecuritySettings>();

/** The settings for this request's environment (parsed once per environment object). */
export function securitySettings(env: unknown): SecuritySettings {
  const source = (typeof env === 'object' && env !== null ? env : {}) as SecurityEnv;
  const cached = cache.get(source);
  if (cached) return cached;
  const keys = parseKeys(source.API_KEY);
  const settings: SecuritySettings = {
    keys,
    corsOrigins: parseOrigins(source.CORS_ORIGINS, keys !== null),
    pageWithoutKey: parseFlag('ALLOW_PAGE_WITHOUT_KEY', source.ALLOW_PAGE_WITHOUT_KEY),
    rateLimiter: source.RATE_LIMITER ?? null,
    retryAfter: parsePeriod(source.RATE_LIMIT_PERIOD),
  };
  cache.set(source, settings);
  return settings;
}
