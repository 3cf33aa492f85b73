// Request handling shared by the routes that take digits (POST /classify, POST /feedback).
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../errors';
import type { DigitBatch } from '../input/batch';
import { normalizeBatch } from '../input/pictures';

/** Counts body bytes as they stream in: a huge or chunked body is cut off without being buffered. */
export const limitTo = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(
        413,
        'payload_too_large',
        `Body is over ${maxSize} bytes for its content type; split batches, send big pictures as image/png or image/jpeg.`,
      );
    },
  });

/**
 * The digits exactly as the model sees them. Pictures were normalised while decoding; raw pixels
 * only when asked (`?normalize=true`), since MNIST digits already are.
 */
export function asModelInput(parsed: DigitBatch, normalize: 'true' | 'false' | undefined): DigitBatch {
  return parsed.raw && normalize === 'true' ? normalizeBatch(parsed) : parsed;
}
