/**
 * Turns a failed body validation into one client error with a stable code. The body is a union,
 * whose raw errors mix every branch; the branch is chosen from the key the client sent.
 */
import type { z } from '@hono/zod-openapi';
import { PIXEL_COUNT } from '../../shared/model-spec';
import { ApiError } from '../errors';
import { BatchBody, ImageBody, MAX_BATCH, SingleBody } from '../schemas';

const SHAPE_HINT = `send {"pixels": [${PIXEL_COUNT} numbers]}, {"images": [[${PIXEL_COUNT} numbers], …]} or {"image": "data:image/png;base64,…"}`;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const lengthOf = (value: unknown) => (Array.isArray(value) ? value.length : undefined);

function at(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, key) => (isRecord(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[key] : undefined),
    value,
  );
}

const label = (path: readonly PropertyKey[]) =>
  path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join('');

export function bodyError(body: unknown, maxBatch = MAX_BATCH): ApiError {
  if (!isRecord(body)) return new ApiError(400, 'invalid_body', `Body must be a JSON object: ${SHAPE_HINT}.`);
  const keys = ['pixels', 'images', 'image'].filter((key) => key in body);
  if (keys.length === 0)
    return new ApiError(400, 'invalid_body', `Missing "pixels", "images" or "image": ${SHAPE_HINT}.`);
  if (keys.length > 1)
    return new ApiError(400, 'invalid_body', `Send one of ${keys.map((k) => `"${k}"`).join(', ')}, not several.`);
  const batch = keys[0] === 'images';
  const result = (batch ? BatchBody : keys[0] === 'image' ? ImageBody : SingleBody).safeParse(body);
  if (result.success) return new ApiError(400, 'invalid_body', SHAPE_HINT); // unreachable: the union accepted a branch
  // Report the outermost problem first: a wrong length before the elements of that array.
  const [issue] = [...result.error.issues].sort((a, b) => a.path.length - b.path.length);
  return issueError(body, issue, batch, maxBatch);
}

function issueError(body: unknown, issue: z.core.$ZodIssue, batch: boolean, maxBatch: number): ApiError {
  const { path } = issue;
  const where = label(path);
  const value = at(body, path);
  // Depth of a pixel array and of a pixel within the body: pixels / pixels[i], images[i] / images[i][j].
  const arrayDepth = batch ? 2 : 1;
  const sizeIssue = issue.code === 'too_small' || issue.code === 'too_big';

  if (issue.code === 'unrecognized_keys') {
    return new ApiError(400, 'invalid_body', `Unknown field(s) ${issue.keys.join(', ')}: ${SHAPE_HINT}.`);
  }
  if (path[0] === 'image')
    return new ApiError(400, 'invalid_body', `"image" must be a non-empty data URL or base64 string.`);
  if (batch && path.length === 1) {
    if (sizeIssue) {
      const n = lengthOf(value) ?? 0;
      return n === 0
        ? new ApiError(400, 'empty_batch', `"images" is empty: send 1 to ${maxBatch} digits.`)
        : batchTooLarge(n, maxBatch);
    }
    return new ApiError(400, 'invalid_body', `"images" must be an array of digits: ${SHAPE_HINT}.`);
  }
  if (path.length === arrayDepth) {
    if (sizeIssue) {
      return new ApiError(
        400,
        'wrong_pixel_count',
        `${where} has ${lengthOf(value)} values; a digit is ${PIXEL_COUNT} (28×28, row-major, flattened).`,
      );
    }
    return new ApiError(400, 'invalid_body', `${where} must be an array of ${PIXEL_COUNT} numbers.`);
  }
  if (path.length === arrayDepth + 1) {
    if (sizeIssue) return new ApiError(400, 'pixel_out_of_range', `${where} is ${String(value)}; pixels are 0–255.`);
    return new ApiError(
      400,
      'invalid_pixel_value',
      `${where} is ${JSON.stringify(value) ?? 'missing'}; pixels are numbers 0–255.`,
    );
  }
  return new ApiError(400, 'invalid_body', `${issue.message}: ${SHAPE_HINT}.`);
}

/** 400 for a batch over the configured limit (MAX_BATCH in wrangler.toml [vars]). */
export function batchTooLarge(n: number, maxBatch: number): ApiError {
  return new ApiError(
    400,
    'batch_too_large',
    `"images" has ${n} digits; the limit is ${maxBatch} per request (MAX_BATCH).`,
  );
}
