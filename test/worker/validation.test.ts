// Unit tests for request validation: the zod body schema, the error mapping and the JSON → batch step.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/worker/errors';
import { fromJsonBody } from '../../src/worker/input/parsers';
import { bodyError } from '../../src/worker/input/validation';
import { ClassifyJsonBody, MAX_BATCH } from '../../src/worker/schemas';

const digit = (value = 0) => Array.from({ length: 784 }, () => value);

function rejected(body: unknown): ApiError {
  expect(ClassifyJsonBody.safeParse(body).success).toBe(false);
  return bodyError(body);
}

describe('ClassifyJsonBody', () => {
  it('accepts one digit or a batch of 1..MAX_BATCH', () => {
    expect(ClassifyJsonBody.safeParse({ pixels: digit(255) }).success).toBe(true);
    expect(ClassifyJsonBody.safeParse({ images: [digit(0.5)] }).success).toBe(true);
    expect(ClassifyJsonBody.safeParse({ images: Array.from({ length: MAX_BATCH }, () => digit()) }).success).toBe(true);
    expect(ClassifyJsonBody.safeParse({ image: 'data:image/png;base64,iVBORw0KGgo=' }).success).toBe(true);
  });

  it('rejects two forms at once', () => {
    const error = rejected({ pixels: digit(), images: [digit()] });
    expect(error.code).toBe('invalid_body');
    expect(error.message).toContain('not several');
  });
});

describe('bodyError', () => {
  it.each([
    [{ pixels: digit().slice(1) }, 400, 'wrong_pixel_count', 'pixels has 783 values'],
    [{ pixels: [...digit().slice(1), -0.5] }, 400, 'pixel_out_of_range', 'pixels[783]'],
    [{ pixels: [...digit().slice(1), '7'] }, 400, 'invalid_pixel_value', 'pixels[783] is "7"'],
    [{ images: [] }, 400, 'empty_batch', '1 to 256'],
    [{ images: Array.from({ length: MAX_BATCH + 1 }, () => digit()) }, 400, 'batch_too_large', '257 digits'],
    [{ images: [digit(), digit().slice(2)] }, 400, 'wrong_pixel_count', 'images[1] has 782 values'],
    [{ images: [digit(), digit(), [...digit().slice(1), 1000]] }, 400, 'pixel_out_of_range', 'images[2][783] is 1000'],
    [{ picture: 'data:…' }, 400, 'invalid_body', 'Missing "pixels", "images" or "image"'],
    [{ image: '' }, 400, 'invalid_body', '"image" must be'],
    [{ image: 'data:…', pixels: digit() }, 400, 'invalid_body', 'not several'],
    [[], 400, 'invalid_body', 'JSON object'],
  ])('%# maps to %i %s', (body, status, code, message) => {
    const error = rejected(body);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
  });
});

describe('fromJsonBody', () => {
  it('lays digits end to end and remembers whether one was sent alone', async () => {
    const single = await fromJsonBody({ pixels: digit(3) });
    expect(single).toMatchObject({ count: 1, single: true });
    expect(single.pixels).toHaveLength(784);
    const batch = await fromJsonBody({ images: [digit(1), digit(2)] });
    expect(batch).toMatchObject({ count: 2, single: false });
    expect([batch.pixels[0], batch.pixels[783], batch.pixels[784], batch.pixels[1567]]).toEqual([1, 1, 2, 2]);
  });
});
