import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../errors';
import { findParser, fromJsonBody, inputParsers } from '../inputs';
import { getRuntime } from '../runtime';
import {
  BatchResponse,
  ClassifyJsonBody,
  errorContent,
  MAX_BATCH,
  MAX_BODY_BYTES,
  SingleResponse,
} from '../schemas';

const limitTo = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `Body is over ${maxSize} bytes; send at most ${MAX_BATCH} digits per request.`);
    },
  });
const jsonLimit = limitTo(MAX_BODY_BYTES);
const parserLimits = new Map(inputParsers.map((parser) => [parser, limitTo(parser.maxBytes)]));

/** Counts bytes as they stream in, so a huge or chunked body is cut off without buffering it. */
const limitBody: MiddlewareHandler = (c, next) => {
  const parser = findParser(c.req.header('content-type'));
  return ((parser && parserLimits.get(parser)) ?? jsonLimit)(c, next);
};

/** zod-openapi's media-type gate lets a body without Content-Type through when it is empty. */
const requireContentType: MiddlewareHandler = async (c, next) => {
  if (!c.req.header('content-type')) {
    throw new ApiError(415, 'unsupported_media_type', 'Set Content-Type: application/json.');
  }
  await next();
};

const route = createRoute({
  method: 'post',
  path: '/classify',
  summary: 'Classify handwritten digits',
  description: `One digit as {"pixels": [...]}, or 1–${MAX_BATCH} digits as {"images": [[...], …]} classified as one batch.`,
  middleware: [limitBody, requireContentType] as const,
  request: {
    body: {
      content: {
        'application/json': { schema: ClassifyJsonBody },
        ...Object.fromEntries(inputParsers.map((parser) => [parser.mediaType, parser.content])),
      },
    },
  },
  responses: {
    200: {
      content: { 'application/json': { schema: z.union([SingleResponse, BatchResponse]) } },
      description: 'A prediction for a single digit, or `predictions` in request order for a batch.',
    },
    400: errorContent('Malformed JSON, wrong shape or length, a pixel that is not a number in 0–255, an empty batch or one over the limit.'),
    413: errorContent(`Body over ${MAX_BODY_BYTES} bytes.`),
    415: errorContent('Content-Type other than application/json (or a registered image type).'),
    500: errorContent('The model could not be loaded.'),
  },
});

export const classify = new OpenAPIHono().openapi(route, async (c) => {
  const parser = findParser(c.req.header('content-type'));
  const batch = parser ? await parser.parse(c) : fromJsonBody(c.req.valid('json'));
  // Seam: `?normalize=true` (centre and scale a free-hand drawing like MNIST) runs here, on
  // `batch.pixels`, once src/shared/normalize.ts lands.
  const { classifier, metadata } = await getRuntime();
  const predictions = await classifier.classify(batch.pixels, batch.count);
  if (batch.single) return c.json({ ...predictions[0], model: metadata.version }, 200);
  return c.json({ predictions, model: metadata.version }, 200);
});
