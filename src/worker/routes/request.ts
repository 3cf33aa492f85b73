// Request handling shared by the routes that take digits (POST /classify, POST /read, POST /feedback).
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../errors';
import type { DigitBatch } from '../input/batch';
import { isJson, mediaTypeOf, UNSUPPORTED_MEDIA_TYPE } from '../input/media-types';
import { findParser, inputParsers } from '../input/parsers';
import { normalizeBatch } from '../input/pictures';
import { MAX_BODY_BYTES } from '../schemas';

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

const jsonLimit = limitTo(MAX_BODY_BYTES);
const parserLimits = new Map(inputParsers.map((parser) => [parser, limitTo(parser.maxBytes)]));

/** Counts bytes as they stream in, so a huge or chunked body is cut off without buffering it. */
export const limitBody: MiddlewareHandler = (c, next) => {
  const parser = findParser(c.req.header('content-type'));
  return ((parser && parserLimits.get(parser)) ?? jsonLimit)(c, next);
};

/**
 * Only JSON and the registered parsers' types get through. zod-openapi's own gate lets an empty
 * body without Content-Type pass, and treats urlencoded forms as multipart.
 */
export const acceptContentType: MiddlewareHandler = async (c, next) => {
  const contentType = c.req.header('content-type');
  if (!(isJson(mediaTypeOf(contentType)) || findParser(contentType))) {
    throw new ApiError(415, 'unsupported_media_type', UNSUPPORTED_MEDIA_TYPE);
  }
  await next();
};
