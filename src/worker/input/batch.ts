// What every input form becomes, and the shape of a parser for one media type.
import type { Context } from 'hono';

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
