// Limits an owner sets in wrangler.toml `[vars]` (see README, "What fits the free plan"):
//   MAX_BATCH               digits per request, 1–256 (the schema's ceiling)
//   MAX_PICTURE_MEGAPIXELS  the picture budget: pictures whose header says more are refused (413)
//   MAX_DIGITS              digits per picture for POST /read, 1–256
// Missing or invalid values fall back to the defaults below, with a warning in the logs.
import { MAX_IMAGE_PIXELS } from './input/image-limits';
import { MAX_BATCH } from './schemas';

export interface Limits {
  /** Digits per request. */
  maxBatch: number;
  /** Pixels per picture (from MAX_PICTURE_MEGAPIXELS). */
  maxPicturePixels: number;
  maxPictureMegapixels: number;
  /** Digits per picture read by POST /read. */
  maxDigits: number;
}

/** POST /read's default: a long number, an amount or a form field; a page of digits is more. */
export const DEFAULT_MAX_DIGITS = 32;

export const DEFAULT_LIMITS: Limits = {
  maxBatch: MAX_BATCH,
  maxPicturePixels: MAX_IMAGE_PIXELS,
  maxPictureMegapixels: Math.round(MAX_IMAGE_PIXELS / 1e5) / 10,
  maxDigits: DEFAULT_MAX_DIGITS,
};

const warned = new Set<string>();
function setting(env: Record<string, unknown>, name: string, valid: (n: number) => boolean, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (Number.isFinite(value) && valid(value)) return value;
  if (!warned.has(name)) {
    warned.add(name);
    console.warn(`${name}=${JSON.stringify(raw)} in wrangler.toml [vars] is not valid; using ${fallback}.`);
  }
  return fallback;
}

let cached: { env: unknown; limits: Limits } | undefined;

/** The limits in force for this Worker's `env` (Hono's `c.env`; undefined outside workerd uses the defaults). */
export function limitsOf(env: unknown): Limits {
  if (cached && cached.env === env) return cached.limits;
  const vars = (env && typeof env === 'object' ? env : {}) as Record<string, unknown>;
  const maxBatch = setting(
    vars,
    'MAX_BATCH',
    (n) => Number.isInteger(n) && n >= 1 && n <= MAX_BATCH,
    DEFAULT_LIMITS.maxBatch,
  );
  const maxPictureMegapixels = setting(
    vars,
    'MAX_PICTURE_MEGAPIXELS',
    (n) => n > 0 && n <= DEFAULT_LIMITS.maxPictureMegapixels,
    DEFAULT_LIMITS.maxPictureMegapixels,
  );
  const maxPicturePixels = Math.min(MAX_IMAGE_PIXELS, Math.round(maxPictureMegapixels * 1e6));
  const maxDigits = setting(
    vars,
    'MAX_DIGITS',
    (n) => Number.isInteger(n) && n >= 1 && n <= MAX_BATCH,
    DEFAULT_LIMITS.maxDigits,
  );
  const limits = { maxBatch, maxPicturePixels, maxPictureMegapixels, maxDigits };
  cached = { env, limits };
  return limits;
}
