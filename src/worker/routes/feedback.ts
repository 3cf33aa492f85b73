/**
 * POST /feedback: a correction ("the right answer was 7") stored in D1 with the 28×28 digit exactly
 * as /classify's model saw it, decoded and normalised by the same input code. GET /feedback/stats:
 * what has been collected. Both answer 404 `feedback_disabled` without a FEEDBACK_DB binding (the
 * default environment); `wrangler dev|deploy --env feedback` has one.
 *
 * Access control: both routes are `guarded` like /classify (API key when one is set, rate limit when
 * a limiter is bound), before anything else runs.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors';
import { FeedbackBody, FeedbackCreated, FeedbackStats } from '../feedback/schemas';
import { type CorrectionSource, FeedbackStore, toBytes } from '../feedback/store';
import { feedbackBodyError } from '../feedback/validation';
import { isJson, JSON_MEDIA_TYPE, mediaTypeOf } from '../input/media-types';
import { fromJsonBody } from '../input/parsers';
import { limitsOf } from '../limits';
import { ClassifyQuery, errorContent, MAX_BODY_BYTES } from '../schemas';
import { guarded } from '../security/guards';
import { asModelInput, limitTo } from './request';

export interface FeedbackBindings {
  /** Present only in the `feedback` environment (wrangler.toml). */
  FEEDBACK_DB?: D1Database;
}
type FeedbackEnv = { Bindings: FeedbackBindings; Variables: { feedbackStore: FeedbackStore } };

/** 404 `feedback_disabled` unless the Worker has the FEEDBACK_DB binding; checked before the body is read. */
const requireFeedbackDb: MiddlewareHandler<FeedbackEnv> = async (c, next) => {
  const db = c.env?.FEEDBACK_DB;
  if (!db) {
    throw new ApiError(
      404,
      'feedback_disabled',
      'Feedback is not enabled on this Worker (no FEEDBACK_DB binding; run it with --env feedback).',
    );
  }
  c.set('feedbackStore', new FeedbackStore(db));
  await next();
};

/** JSON only: a correction carries its label next to the digit. */
const acceptJson: MiddlewareHandler = async (c, next) => {
  if (!isJson(mediaTypeOf(c.req.header('content-type')))) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `Send Content-Type: ${JSON_MEDIA_TYPE} with the digit as "pixels" or "image" (a data URL) and its "label".`,
    );
  }
  await next();
};

/** A D1 failure is ours, not the client's: logged, answered 503 without details. */
async function withStore<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    console.error('feedback store failed', error);
    throw new ApiError(503, 'feedback_unavailable', 'The feedback store is unavailable; try again later.');
  }
}

const post = createRoute({
  method: 'post',
  path: '/feedback',
  summary: 'Store a correction',
  description:
    'The digit that was classified, as /classify received it ({"pixels"} with the same `?normalize`, or {"image"} data URL), ' +
    'and the right `label`. The 28×28 digit the model saw is stored (not the original picture) with the label, the optional ' +
    '`predicted` digit and `model` version, and the time; no IP address or other personal data. ' +
    'Same validation, limits and error shape as /classify. 404 `feedback_disabled` where feedback is not enabled.',
  middleware: [...guarded.middleware, requireFeedbackDb, limitTo(MAX_BODY_BYTES), acceptJson] as const,
  security: guarded.security,
  request: {
    query: ClassifyQuery,
    body: { content: { 'application/json': { schema: FeedbackBody } }, required: true },
  },
  responses: {
    201: { content: { 'application/json': { schema: FeedbackCreated } }, description: 'Stored.' },
    400: errorContent(
      'Malformed JSON, a label or predicted digit outside 0–9, no digit or two, a bad digit (as /classify), a bad query.',
    ),
    404: errorContent('`feedback_disabled`: this Worker has no feedback store.'),
    413: errorContent(`Body over ${MAX_BODY_BYTES} bytes.`),
    415: errorContent('A Content-Type other than JSON.'),
    422: errorContent('A picture that cannot be decoded, or a digit with no ink to normalise.'),
    503: errorContent('`feedback_unavailable`: the store failed.'),
    ...guarded.responses,
  },
});

const stats = createRoute({
  method: 'get',
  path: '/feedback/stats',
  summary: 'What corrections have been collected',
  description: 'Counts per label and per model version, and how often the model had answered wrongly.',
  middleware: [...guarded.middleware, requireFeedbackDb] as const,
  security: guarded.security,
  responses: {
    200: { content: { 'application/json': { schema: FeedbackStats } }, description: 'Counts.' },
    404: errorContent('`feedback_disabled`: this Worker has no feedback store.'),
    503: errorContent('`feedback_unavailable`: the store failed.'),
    ...guarded.responses,
  },
});

/** A rejected query or body → our error shape, with the label checked before the digit. */
async function rejectBody(result: { target: string }, c: Context): Promise<never> {
  if (result.target === 'query') throw new ApiError(400, 'invalid_query', 'normalize must be "true" or "false".');
  // The hook is not handed the rejected value; Hono caches the parsed body, so read it again.
  throw feedbackBodyError(await c.req.json());
}

export const feedback = new OpenAPIHono<FeedbackEnv>()
  .openapi(
    post,
    async (c) => {
      const { label, predicted, model, ...digit } = c.req.valid('json');
      const normalize = c.req.valid('query').normalize;
      // The same JSON → digit → model-input path as /classify: what is stored is what the model saw.
      const batch = asModelInput(await fromJsonBody(digit, limitsOf(c.env).maxPicturePixels), normalize);
      const source: CorrectionSource =
        'image' in digit ? 'image' : normalize === 'true' ? 'pixels-normalized' : 'pixels';
      const id = await withStore(() =>
        c.var.feedbackStore.add({ pixels: toBytes(batch.pixels), label, predicted, model, source }),
      );
      return c.json({ id }, 201);
    },
    (result, c) => (result.success ? undefined : rejectBody(result, c)),
  )
  .openapi(stats, async (c) => c.json(await withStore(() => c.var.feedbackStore.stats()), 200));
