// The one error shape every 4xx/5xx uses: {"error": {"code", "message"}}.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const ERROR_CODES = [
  'invalid_json',
  'invalid_body',
  'invalid_query',
  'wrong_pixel_count',
  'invalid_pixel_value',
  'pixel_out_of_range',
  'empty_batch',
  'batch_too_large',
  'invalid_label',
  'feedback_disabled',
  'feedback_unavailable',
  'unsupported_media_type',
  'invalid_image',
  'image_too_large',
  'no_ink',
  'too_many_digits',
  'payload_too_large',
  'not_found',
  'method_not_allowed',
  'unauthorized',
  'rate_limited',
  'model_unavailable',
  'internal_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A failure whose code and message are safe to show the client. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function errorResponse(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string) {
  return c.json({ error: { code, message } }, status);
}
