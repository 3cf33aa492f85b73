// Guards for routes that do work or take data (POST /classify, and any later write route): an API
// key when one is configured, then a rate limit when a limiter is bound. A route opts in with
// `guarded` (see the README's "Security and limits"); read-only routes stay open.
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { timingSafeEqual } from 'hono/utils/buffer';
import { errorResponse } from '../errors';
import { errorContent } from '../schemas';
import { securitySettings } from './config';

declare module 'hono' {
  interface ContextVariableMap {
    /** Who a rate limit counts against: `key:<hash>` for an API key, `ip:<address>` otherwise. */
    client: string;
  }
}

/** Name of the bearer scheme in the OpenAPI document's `components.securitySchemes`. */
export const API_KEY_SCHEME = 'apiKey';

const REALM = 'mnist-edge';

const refuse = (message: string) => (c: Context) => errorResponse(c, 401, 'unauthorized', message);

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

const clientIp = (c: Context) => `ip:${c.req.header('cf-connecting-ip') ?? 'unknown'}`;

/** A request from the Worker's own page: its Origin is this Worker's origin. Browsers set Origin; other clients can forge it. */
const fromOwnPage = (c: Context) => c.req.header('origin') === new URL(c.req.url).origin;

/**
 * Hono's bearerAuth with our error shape. A key list is compared in full on every request: each
 * comparison is constant-time (Hono hashes both sides with SHA-256, then compares every character),
 * and the loop does not stop at the first match, so timing says nothing about which key matched.
 */
const checkBearer = bearerAuth({
  realm: REALM,
  verifyToken: async (token, c) => {
    const keys = securitySettings(c.env).keys ?? [];
    let matched = false;
    for (const key of keys) {
      if (await timingSafeEqual(key, token)) matched = true;
    }
    // Rate limits count per key, under a hash so the key itself goes nowhere else.
    if (matched) c.set('client', `key:${(await sha256Hex(token)).slice(0, 32)}`);
    return matched;
  },
  noAuthenticationHeader: { message: refuse('This route needs an API key: send "Authorization: Bearer <key>".') },
  // Hono answers a malformed header with 400; an owner asked for 401 whenever the key is missing or wrong.
  invalidAuthenticationHeader: {
    message: refuse('The Authorization header must be "Bearer <key>" (letters, digits and -._~+/ then optional =).'),
  },
  invalidToken: { message: refuse('The API key is not valid.') },
});

/** 401 unless the request carries a configured key (or keys are not configured, or the page exemption applies). */
export const requireApiKey: MiddlewareHandler = async (c, next) => {
  const { keys, pageWithoutKey } = securitySettings(c.env);
  if (keys === null || (pageWithoutKey && fromOwnPage(c))) {
    c.set('client', clientIp(c));
    return next();
  }
  return checkBearer(c, next);
};

/** 429 with Retry-After once the client is past the bound limiter's budget; no binding, no limit. */
export const rateLimit: MiddlewareHandler = async (c, next) => {
  const { rateLimiter, retryAfter } = securitySettings(c.env);
  if (!rateLimiter) return next();
  let allowed: boolean;
  try {
    allowed = (await rateLimiter.limit({ key: c.get('client') ?? clientIp(c) })).success;
  } catch (err) {
    // The limiter failing is our fault, not the client's: serve, and say so in the logs.
    console.error('rate limiter failed; request let through', err);
    allowed = true;
  }
  if (allowed) return next();
  c.header('Retry-After', String(retryAfter));
  return errorResponse(c, 429, 'rate_limited', `Too many requests; retry after ${retryAfter} s.`);
};

/**
 * What a guarded route adds to its `createRoute` config:
 *
 *   middleware: [...guarded.middleware, ...its own] as const,
 *   security: guarded.security,
 *   responses: { ...its own, ...guarded.responses },
 *
 * The guards run first, before the body is read.
 */
export const guarded = {
  middleware: [requireApiKey, rateLimit] as const,
  security: [{ [API_KEY_SCHEME]: [] }],
  responses: {
    401: {
      ...errorContent(
        'An API key is configured and the request has none, a malformed one or a wrong one (code `unauthorized`).',
      ),
      headers: { 'WWW-Authenticate': { schema: { type: 'string' as const }, description: 'A Bearer challenge.' } },
    },
    429: {
      ...errorContent('Past the rate limit for this key (or client IP when no key is needed) (code `rate_limited`).'),
      headers: {
        'Retry-After': { schema: { type: 'integer' as const }, description: 'Seconds to wait before retrying.' },
      },
    },
  },
};
