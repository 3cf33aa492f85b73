// POST /feedback and GET /feedback/stats, in zod: validation and the OpenAPI document both use them.
import { z } from '@hono/zod-openapi';
import { NUM_CLASSES } from '../../shared/model-spec';
import { ImageBody, Pixels } from '../schemas';

export const Digit = z
  .number()
  .int()
  .min(0)
  .max(NUM_CLASSES - 1);
/** Model versions are 16-hex-digit content hashes; leave room for other naming schemes, not for essays. */
export const MAX_MODEL_LENGTH = 64;
export const ModelVersion = z
  .string()
  .min(1)
  .max(MAX_MODEL_LENGTH)
  .regex(/^[\w.:+-]+$/);

const fields = {
  label: Digit.openapi({ description: 'The right answer, 0–9.' }),
  predicted: Digit.optional().openapi({ description: 'What the model answered (the `digit` of /classify), 0–9.' }),
  model: ModelVersion.optional().openapi({ description: 'The `model` version /classify answered with.' }),
};

export const FeedbackPixelsBody = z.strictObject({ pixels: Pixels, ...fields }).openapi('FeedbackPixelsRequest', {
  description: 'A digit as 784 pixels (add ?normalize=true if /classify was asked to normalise it).',
});
export const FeedbackImageBody = z
  .strictObject({ image: ImageBody.shape.image, ...fields })
  .openapi('FeedbackImageRequest', {
    description: 'The picture that was sent to /classify, as a data URL or bare base64.',
  });
export const FeedbackBody = z.union([FeedbackPixelsBody, FeedbackImageBody]).openapi('FeedbackRequest');
export type FeedbackBody = z.infer<typeof FeedbackBody>;

export const FeedbackCreated = z
  .object({ id: z.string().openapi({ description: 'Random id of the stored correction.' }) })
  .openapi('FeedbackCreated');

const Counts = {
  count: z.number().int().openapi({ description: 'Corrections stored.' }),
  wrong: z.number().int().openapi({ description: 'Of those, how many had a `predicted` digit other than the label.' }),
};

export const FeedbackStats = z
  .object({
    total: z.number().int(),
    withPrediction: z.number().int().openapi({ description: 'Corrections that said what the model had answered.' }),
    wrong: z.number().int().openapi({ description: 'Corrections whose `predicted` differs from `label`.' }),
    labels: z
      .array(z.object({ label: Digit, ...Counts }))
      .length(NUM_CLASSES)
      .openapi({ description: 'Per label 0–9.' }),
    models: z
      .array(z.object({ model: z.string().nullable().openapi({ description: 'null: not given.' }), ...Counts }))
      .openapi({ description: 'Per model version, most corrections first.' }),
  })
  .openapi('FeedbackStats');
export type FeedbackStats = z.infer<typeof FeedbackStats>;
