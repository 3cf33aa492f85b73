import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { getRuntime } from '../inference/runtime';
import { MAX_IMAGE_BYTES } from '../input/image-limits';
import { UNSUPPORTED_MEDIA_TYPE } from '../input/media-types';
import { findParser, fromJsonBody, inputParsers } from '../input/parsers';
import { batchTooLarge } from '../input/validation';
import { limitsOf } from '../limits';
import {
  BatchResponse,
  ClassifyJsonBody,
  ClassifyQuery,
  errorContent,
  MAX_BATCH,
  MAX_BODY_BYTES,
  SingleResponse,
} from '../schemas';
import { guarded } from '../security/guards';
import { acceptContentType, asModelInput, limitBody } from './request';

const route = createRoute({
  method: 'post',
  path: '/classify',
  summary: 'Classify handwritten digits',
  description:
    `One digit as {"pixels": [...]}, 1–${MAX_BATCH} digits as {"images": [[...], …]} classified as one batch ` +
    '(the Worker may set a lower limit, MAX_BATCH: see GET /model), ' +
    'or one picture (PNG/JPEG body, multipart field "image", or JSON {"image": dataURL}).',
  // API key and rate limit first (when configured), before any of the body is read.
  middleware: [...guarded.middleware, limitBody, acceptContentType] as const,
  security: guarded.security,
  request: {
    query: ClassifyQuery,
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
    400: errorContent(
      'Malformed JSON, wrong shape or length, a pixel that is not a number in 0–255, an empty batch or one over the limit, a bad query.',
    ),
    413: errorContent(`Body over ${MAX_BODY_BYTES} bytes (JSON) or ${MAX_IMAGE_BYTES} bytes (pictures).`),
    415: errorContent(`A Content-Type this route does not read. ${UNSUPPORTED_MEDIA_TYPE}`),
    422: errorContent('A picture that cannot be decoded, or a digit with no ink to normalise.'),
    ...guarded.responses,
    500: errorContent('The model could not be loaded.'),
  },
});

export const classify = new OpenAPIHono().openapi(route, async (c) => {
  const parser = findParser(c.req.header('content-type'));
  const limits = limitsOf(c.env);
  const parsed = parser ? await parser.parse(c) : await fromJsonBody(c.req.valid('json'), limits.maxPicturePixels);
  if (parsed.count > limits.maxBatch) throw batchTooLarge(parsed.count, limits.maxBatch);
  const batch = asModelInput(parsed, c.req.valid('query').normalize);
  const { classifier, metadata } = await getRuntime();
  const predictions = await classifier.classify(batch.pixels, batch.count);
  if (batch.single) return c.json({ ...predictions[0], model: metadata.version }, 200);
  return c.json({ predictions, model: metadata.version }, 200);
});
