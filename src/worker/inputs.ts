/**
 * Request bodies → a batch of raw digits. JSON is validated by the route's zod schema before it
 * gets here; other media types (PNG, JPEG, multipart uploads from image-input.ts) plug in as one
 * `InputParser` each, and their media types then appear in the route and its OpenAPI entry.
 */
import type { Context } from 'hono';
import { PIXEL_COUNT } from '../shared/model-spec';
import { fromImageJson, imageParsers } from './image-input';
import type { ClassifyJsonBody } from './schemas';

export interface DigitBatch {
  /** Raw 0–255 pixels of every digit, row-major, laid end to end. */
  pixels: Float32Array;
  count: number;
  /** Whether these are raw client pixels (`?normalize=true` applies) rather than a decoded, already normalised image. */
  raw?: boolean;
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

/** Non-JSON parsers, tried by media type before the JSON body. */
export const inputParsers: readonly InputParser[] = imageParsers;

export function findParser(contentType: string | undefined): InputParser | undefined {
  const essence = contentType?.split(';')[0].trim().toLowerCase();
  return inputParsers.find((parser) => parser.mediaType === essence);
}

export function fromJsonBody(body: ClassifyJsonBody): DigitBatch {
  if ('image' in body) return fromImageJson(body.image);
  const digits = 'pixels' in body ? [body.pixels] : body.images;
  const pixels = new Float32Array(digits.length * PIXEL_COUNT);
  digits.forEach((digit, i) => pixels.set(digit, i * PIXEL_COUNT));
  return { pixels, count: digits.length, single: 'pixels' in body, raw: true };
}
