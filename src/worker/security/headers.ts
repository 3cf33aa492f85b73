// Response headers on everything the Worker answers (the page's static files get theirs from
// public/_headers): CORS from the CORS_ORIGINS var, and Hono's secure headers.
import type { MiddlewareHandler } from 'hono';
import { cors as honoCors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import { type SecuritySettings, securitySettings } from './config';

const corsFor = new WeakMap<SecuritySettings, MiddlewareHandler>();

/**
 * Hono's cors with the configured origins. Never `Access-Control-Allow-Credentials`: the API uses
 * no cookies, and an API key travels in the Authorization header, which CORS lets through with
 * any allowed origin (the preflight echoes the requested headers).
 */
export const cors: MiddlewareHandler = (c, next) => {
  const settings = securitySettings(c.env);
  let middleware = corsFor.get(settings);
  if (!middleware) {
    const { corsOrigins } = settings;
    middleware = honoCors({
      // Same-origin only (no list): no Access-Control-Allow-Origin for anyone.
      origin: corsOrigins === '*' ? '*' : (origin) => (corsOrigins.includes(origin) ? origin : null),
      credentials: false,
      allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
      exposeHeaders: ['Retry-After', 'WWW-Authenticate'],
      maxAge: 600,
    });
    corsFor.set(settings, middleware);
  }
  return middleware(c, next);
};

/** JSON answers: nothing in them may run or be framed. */
export const apiSecureHeaders = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
});
