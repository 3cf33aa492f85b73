import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { INPUT_SHAPE, MAX_PIXEL_VALUE, PIXEL_COUNT } from '../../shared/model-spec';
import { getRuntime } from '../inference/runtime';
import { MAX_IMAGE_BYTES, MAX_IMAGE_SIDE } from '../input/image-limits';
import { limitsOf } from '../limits';
import { errorContent, HealthResponse, MAX_BODY_BYTES, ModelInfo } from '../schemas';
import type { FeedbackBindings } from './feedback';

const input: z.infer<typeof ModelInfo>['input'] = {
  shape: [...INPUT_SHAPE],
  pixels: PIXEL_COUNT,
  range: [0, MAX_PIXEL_VALUE],
  layout: 'row-major grayscale, white ink on black (MNIST)',
};

/** What a fine-tuned model's metadata.json says about its origin (src/train/run/fine-tune.ts). */
const FineTuneOrigin = z.looseObject({
  from: z.string(),
  at: z.string(),
  corrections: z.looseObject({ total: z.number().int(), heldOut: z.number().int() }),
});

export function fineTunedFrom(metadata: Record<string, unknown>): z.infer<typeof ModelInfo>['fineTunedFrom'] {
  const origin = FineTuneOrigin.safeParse(metadata.fineTune);
  if (!origin.success) return undefined;
  const { from, at, corrections } = origin.data;
  return { version: from, at, corrections: corrections.total, heldOut: corrections.heldOut };
}

const KerasOrigin = z.looseObject({ kind: z.literal('keras'), format: z.string(), kerasVersion: z.string().nullish() });

/** Where the served model came from: trained here with the Keras recipe, imported from Keras, or fine-tuned. */
export function sourceOf(metadata: Record<string, unknown>): z.infer<typeof ModelInfo>['source'] {
  const keras = KerasOrigin.safeParse(metadata.source);
  if (keras.success) return { kind: 'keras', format: keras.data.format, kerasVersion: keras.data.kerasVersion ?? null };
  if (metadata.fineTune) return { kind: 'fine-tuned' };
  return { kind: 'trained' };
}

const health = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness',
  responses: { 200: { content: { 'application/json': { schema: HealthResponse } }, description: 'The Worker is up.' } },
});

const model = createRoute({
  method: 'get',
  path: '/model',
  summary: 'The model being served and the backend running it',
  responses: {
    200: { content: { 'application/json': { schema: ModelInfo } }, description: 'Model metadata and backend.' },
    500: errorContent('The model could not be loaded.'),
  },
});

export const info = new OpenAPIHono<{ Bindings: FeedbackBindings }>()
  .openapi(health, (c) => c.json({ status: 'ok' as const }, 200))
  .openapi(model, async (c) => {
    // Loading here too means /model reports the backend actually in use, not a configured name.
    const { metadata, backend } = await getRuntime();
    const limits = limitsOf(c.env);
    const quantization = metadata.quantization && {
      dtype: metadata.quantization.dtype,
      accuracyChangePoints: metadata.quantization.accuracyChangePoints,
    };
    return c.json(
      {
        version: metadata.version,
        trainedAt: metadata.trainedAt,
        testAccuracy: metadata.testAccuracy,
        parameters: metadata.parameters,
        quantization,
        input,
        backend,
        source: sourceOf(metadata),
        fineTunedFrom: fineTunedFrom(metadata),
        feedback: Boolean(c.env?.FEEDBACK_DB),
        limits: {
          maxBatch: limits.maxBatch,
          maxPictureMegapixels: limits.maxPictureMegapixels,
          maxDigits: limits.maxDigits,
          maxPictureSide: MAX_IMAGE_SIDE,
          maxJsonBytes: MAX_BODY_BYTES,
          maxPictureBytes: MAX_IMAGE_BYTES,
        },
      },
      200,
    );
  });
