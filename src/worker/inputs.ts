/**
 * Request bodies → a batch of raw digits. JSON is validated by the route's zod schema before it
 * gets here; other media types (the image helper's PNG, JPEG, multipart uploads) plug in as one
 * more `InputParser` each, and their media types then appear in the route and its OpenAPI entry.
 */
import type { Context } from 'hono';
import { PIXEL_COUNT } from '../shared/model-spec';
import type { ClassifyJsonBody } from './schemas';

export interface DigitBatch {
  /** Raw 0–255 pixels of every digit, row-major, laid end to end. */
  pixels: Float32Array;
  count: number;
  /** One digit sent on its own gets a single prediction back, anything else a `predictions` list. */
  single: boolean;
}

export interface InputParser {
  /** Media type as written in the OpenAPI document, e.g. `image/png`. */
  mediaType: string;
  /** OpenAPI media type object; a non-zod schema (e.g. `{type: 'string', format: 'binary'}`) skips zod-openapi's validator. */
  content: { schema: Record<string, unknown>; description?: string };
  /** Body limit for this media type, enforced while streaming (JSON uses MAX_BODY_BYTES). */
  maxBytes: number;
  /** Reads the (size-limited) body; throws `ApiError` for client mistakes. */
  parse(c: Context): Promise<DigitBatch>;
}

/** Non-JSON parsers, tried by media type before the JSON body. Empty until images land. */
export const inputParsers: readonly InputParser[] = [];

export function findParser(contentType: string | undefined): InputParser | undefined {
  const essence = contentType?.split(';')[0].trim().toLowerCase();
  return inputParsers.find((parser) => parser.mediaType === essence);
}

export function fromJsonBody(body: ClassifyJsonBody): DigitBatch {
  const digits = 'pixels' in body ? [body.pixels] : body.images;
  const pixels = new Float32Array(digits.length * PIXEL_COUNT);
  digits.forEach((digit, i) => pixels.set(digit, i * PIXEL_COUNT));
  return { pixels, count: digits.length, single: 'pixels' in body };
}
