/**
 * A rejected POST /feedback body → one client error. The label and the other correction fields are
 * checked here; the digit itself (`pixels` or `image`) by /classify's own validation, so both
 * routes answer a bad digit with the same code and message.
 */
import { ApiError } from '../errors';
import { bodyError } from '../input/validation';
import { Digit, MAX_MODEL_LENGTH, ModelVersion } from './schemas';

const SHAPE_HINT =
  'send {"pixels": [784 numbers] | "image": "data:image/png;base64,…", "label": 0–9, "predicted"?: 0–9, "model"?: "<version>"}';
const DIGIT_KEYS = ['pixels', 'image'] as const;
const FIELD_KEYS = ['label', 'predicted', 'model'] as const;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const shown = (value: unknown) => JSON.stringify(value) ?? 'missing';

export function feedbackBodyError(body: unknown): ApiError {
  if (!isRecord(body)) return new ApiError(400, 'invalid_body', `Body must be a JSON object: ${SHAPE_HINT}.`);
  if ('images' in body)
    return new ApiError(400, 'invalid_body', `One correction per request: send "pixels" or "image", not "images".`);
  const unknown = Object.keys(body).filter(
    (key) => !(DIGIT_KEYS as readonly string[]).includes(key) && !(FIELD_KEYS as readonly string[]).includes(key),
  );
  if (unknown.length)
    return new ApiError(400, 'invalid_body', `Unknown field(s) ${unknown.join(', ')}: ${SHAPE_HINT}.`);
  const digitKeys = DIGIT_KEYS.filter((key) => key in body);
  if (digitKeys.length !== 1) {
    return new ApiError(
      400,
      'invalid_body',
      digitKeys.length ? `Send "pixels" or "image", not both.` : `Missing the digit: ${SHAPE_HINT}.`,
    );
  }
  if (!('label' in body))
    return new ApiError(400, 'invalid_label', `Missing "label", the right digit: an integer 0–9.`);
  if (!Digit.safeParse(body.label).success) {
    return new ApiError(400, 'invalid_label', `"label" is ${shown(body.label)}; it must be an integer 0–9.`);
  }
  if ('predicted' in body && !Digit.safeParse(body.predicted).success) {
    return new ApiError(
      400,
      'invalid_label',
      `"predicted" is ${shown(body.predicted)}; it must be an integer 0–9 (or left out).`,
    );
  }
  if ('model' in body && !ModelVersion.safeParse(body.model).success) {
    return new ApiError(
      400,
      'invalid_body',
      `"model" must be a model version (1–${MAX_MODEL_LENGTH} letters, digits, . _ : + -), as /classify returns it.`,
    );
  }
  const digitKey = digitKeys[0];
  return bodyError({ [digitKey]: body[digitKey] });
}
