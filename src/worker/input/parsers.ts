/**
 * Request bodies → a batch of raw digits. JSON is validated by the route's zod schema before it
 * gets here; other media types (PNG, JPEG, multipart uploads from pictures.ts) plug in as one
 * `InputParser` each, and their media types then appear in the route and its OpenAPI entry.
 */
import { PIXEL_COUNT } from '../../shared/model-spec';
import type { ClassifyJsonBody } from '../schemas';
import type { DigitBatch, InputParser } from './batch';
import { mediaTypeOf } from './media-types';
import { fromImageJson, pictureParsers } from './pictures';

export type { DigitBatch, InputParser } from './batch';

/** Non-JSON parsers, tried by media type before the JSON body. */
export const inputParsers: readonly InputParser[] = pictureParsers;

export function findParser(contentType: string | null | undefined): InputParser | undefined {
  const mediaType = mediaTypeOf(contentType);
  return inputParsers.find((parser) => parser.mediaType === mediaType);
}

export async function fromJsonBody(body: ClassifyJsonBody, maxPicturePixels?: number): Promise<DigitBatch> {
  if ('image' in body) return await fromImageJson(body.image, maxPicturePixels); // awaited here: a rejection is handled as it happens
  const digits = 'pixels' in body ? [body.pixels] : body.images;
  const pixels = new Float32Array(digits.length * PIXEL_COUNT);
  digits.forEach((digit, i) => {
    pixels.set(digit, i * PIXEL_COUNT);
  });
  return { pixels, count: digits.length, single: 'pixels' in body, raw: true };
}
