// Every request and response shape, in zod: the validators and GET /openapi.json both come from here.
import { z } from '@hono/zod-openapi';
import { IMAGE_SIZE, MAX_PIXEL_VALUE, NUM_CLASSES, PIXEL_COUNT } from '../shared/model-spec';
import { ERROR_CODES } from './errors';

export const MAX_BATCH = 256;
/** Fits 256 digits of 784 pixels even written as floats with a few decimals. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export const Pixel = z.number().min(0).max(MAX_PIXEL_VALUE);

export const Pixels = z
  .array(Pixel)
  .length(PIXEL_COUNT)
  .openapi('Pixels', {
    // zod-to-openapi drops `.length()`; state it for generated clients.
    minItems: PIXEL_COUNT,
    maxItems: PIXEL_COUNT,
    description: `One ${IMAGE_SIZE}×${IMAGE_SIZE} digit, row-major, grayscale 0–${MAX_PIXEL_VALUE}, white ink on black as in MNIST.`,
  });

export const SingleBody = z.strictObject({ pixels: Pixels }).openapi('SingleDigitRequest');
export const BatchBody = z
  .strictObject({ images: z.array(Pixels).min(1).max(MAX_BATCH) })
  .openapi('BatchRequest', { description: `1 to ${MAX_BATCH} digits, answered in order.` });
export const ImageBody = z
  .strictObject({
    image: z
      .string()
      .min(1)
      .openapi({ description: 'A PNG or JPEG of one digit as a data URL (data:image/png;base64,…) or bare base64.' }),
  })
  .openapi('ImageRequest', { description: 'A picture of one digit, e.g. canvas.toDataURL(); normalised like MNIST.' });
export const ClassifyJsonBody = z.union([SingleBody, BatchBody, ImageBody]).openapi('ClassifyRequest');
export type ClassifyJsonBody = z.infer<typeof ClassifyJsonBody>;

const Probabilities = z.array(z.number().min(0).max(1)).length(NUM_CLASSES).openapi({
  description: 'Softmax output, one probability per digit 0–9; sums to 1.',
});

export const Prediction = z
  .object({
    digit: z
      .number()
      .int()
      .min(0)
      .max(NUM_CLASSES - 1),
    confidence: z.number().min(0).max(1).openapi({ description: 'Probability of the predicted digit.' }),
    probabilities: Probabilities,
  })
  .openapi('Prediction');

const ModelVersion = z.string().openapi({ description: 'Content hash of the model that answered.' });

export const SingleResponse = Prediction.extend({ model: ModelVersion }).openapi('SingleDigitResponse');
export const BatchResponse = z
  .object({ predictions: z.array(Prediction), model: ModelVersion })
  .openapi('BatchResponse');

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).openapi({ description: 'Stable, machine-readable.' }),
      message: z.string().openapi({ description: 'What went wrong and how to fix it.' }),
    }),
  })
  .openapi('Error');

export const ClassifyQuery = z.object({
  normalize: z.enum(['true', 'false']).optional().openapi({
    description:
      'Centre and scale raw `pixels`/`images` like MNIST (for free-hand drawings); pictures are always normalised.',
  }),
});

export const HealthResponse = z.object({ status: z.literal('ok') }).openapi('Health');

export const ModelInfo = z
  .object({
    version: z.string(),
    trainedAt: z.string(),
    testAccuracy: z.number(),
    parameters: z.number().int(),
    quantization: z
      .object({
        dtype: z.string().openapi({ description: 'How weights.bin stores the weights: uint8, float16 or none.' }),
        accuracyChangePoints: z
          .number()
          .optional()
          .openapi({ description: 'Test accuracy change from quantizing, in percentage points.' }),
      })
      .optional(),
    input: z.object({
      shape: z.tuple([z.number(), z.number(), z.number()]),
      pixels: z.number().int(),
      range: z.tuple([z.number(), z.number()]),
      layout: z.string(),
    }),
    backend: z.object({ name: z.string(), simd: z.boolean(), threads: z.number().int() }),
    source: z
      .object({
        kind: z.enum(['trained', 'keras', 'fine-tuned']).openapi({
          description:
            'trained here with the Keras recipe (npm run train), imported from Keras (npm run import), or fine-tuned on corrections',
        }),
        format: z.string().optional().openapi({ description: 'For an import: the Keras file format it came from.' }),
        kerasVersion: z.string().nullable().optional(),
      })
      .openapi({ description: 'Where the model came from.' }),
    fineTunedFrom: z
      .object({
        version: z.string().openapi({ description: 'The model this one was fine-tuned from.' }),
        at: z.string(),
        corrections: z.number().int().openapi({ description: 'Corrections pulled from /feedback for the fine-tune.' }),
        heldOut: z.number().int().openapi({ description: 'Of those, held out for evaluation.' }),
      })
      .optional()
      .openapi({ description: 'Present when the model is a fine-tune (npm run train -- --fine-tune).' }),
    feedback: z
      .boolean()
      .openapi({ description: 'Whether POST /feedback stores corrections here (the `feedback` environment).' }),
    limits: z
      .object({
        maxBatch: z.number().int().openapi({ description: 'Digits per request (MAX_BATCH in wrangler.toml).' }),
        maxPictureMegapixels: z
          .number()
          .openapi({ description: 'Largest picture accepted, in megapixels (MAX_PICTURE_MEGAPIXELS).' }),
        maxDigits: z.number().int().openapi({ description: 'Digits per picture for POST /read (MAX_DIGITS).' }),
        maxPictureSide: z.number().int().openapi({ description: 'Largest picture side, in pixels.' }),
        maxJsonBytes: z.number().int(),
        maxPictureBytes: z.number().int(),
      })
      .openapi({ description: 'The limits in force on this deployment.' }),
  })
  .openapi('ModelInfo');

export const ReadJsonBody = z
  .strictObject({
    image: z.string().min(1).openapi({
      description: 'A PNG or JPEG of a handwritten number as a data URL (data:image/png;base64,…) or bare base64.',
    }),
  })
  .openapi('ReadRequest');
export type ReadJsonBody = z.infer<typeof ReadJsonBody>;

export const DigitBox = z
  .object({ x: z.number().int(), y: z.number().int(), width: z.number().int(), height: z.number().int() })
  .openapi({ description: "The digit's ink, in pixels of the picture as sent (after EXIF orientation)." });

export const ReadResponse = z
  .object({
    number: z.string().openapi({ description: 'The digits read, left to right, joined.', example: '2026' }),
    digits: z.array(Prediction.extend({ box: DigitBox })).openapi({ description: 'Each digit, left to right.' }),
    model: ModelVersion,
  })
  .openapi('ReadResponse');

/** `content` entry for an error response in the OpenAPI document. */
export const errorContent = (description: string) => ({
  content: { 'application/json': { schema: ErrorResponse } },
  description,
});
