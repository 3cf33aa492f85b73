// Image inputs for POST /classify: raw PNG/JPEG bodies, multipart uploads (field `image`), JSON
// data URLs, and `?normalize=true` for raw pixels. Each image becomes one MNIST-style digit.

import type { Context } from 'hono';
import { PIXEL_COUNT } from '../../shared/model-spec.ts';
import { normalizePixels } from '../../shared/normalize.ts';
import { ApiError } from '../errors.ts';
import { limitsOf } from '../limits.ts';
import type { DigitBatch, InputParser } from './batch.ts';
import { imageToDigit, parseDataUrl, refuseNoInk } from './decode-image.ts';
import { MAX_IMAGE_BYTES } from './image-limits.ts';
import { MULTIPART_FIELD, MULTIPART_MEDIA_TYPE, PICTURE_MEDIA_TYPES } from './media-types.ts';

/** Room for multipart boundaries and part headers around the file. */
const MULTIPART_OVERHEAD = 64 * 1024;

function single(digit: Uint8Array): DigitBatch {
  return { pixels: Float32Array.from(digit), count: 1, single: true };
}

function rawImageParser(mediaType: string): InputParser {
  return {
    mediaType,
    content: {
      schema: { type: 'string', format: 'binary' },
      description: `A picture of one digit, any size up to 4096×4096, either polarity; it is normalised like MNIST.`,
    },
    maxBytes: MAX_IMAGE_BYTES,
    async parse(c: Context) {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      return single(await imageToDigit(bytes, mediaType, limitsOf(c.env).maxPicturePixels));
    },
  };
}

const multipartParser: InputParser = {
  mediaType: MULTIPART_MEDIA_TYPE,
  content: {
    schema: {
      type: 'object',
      properties: {
        [MULTIPART_FIELD]: { type: 'string', format: 'binary', description: 'PNG or JPEG file of one digit.' },
      },
      required: [MULTIPART_FIELD],
    },
    description: 'An HTML form upload, e.g. `curl -F image=@digit.png`.',
  },
  maxBytes: MAX_IMAGE_BYTES + MULTIPART_OVERHEAD,
  async parse(c: Context) {
    const { bytes, mediaType } = await multipartPicture(c);
    return single(await imageToDigit(bytes, mediaType, limitsOf(c.env).maxPicturePixels));
  },
};

/** A picture's bytes and the media type it was sent as (undefined: sniff it). */
export interface PictureBytes {
  bytes: Uint8Array;
  mediaType?: string;
}

/**
 * The picture in a multipart form's `image` field: a file, or a text field holding a data URL
 * (as some clients send canvas.toDataURL()). POST /read takes its pictures the same way.
 */
export async function multipartPicture(c: Context): Promise<PictureBytes> {
  let form: FormData;
  try {
    form = await c.req.formData();
  } catch {
    throw new ApiError(400, 'invalid_body', 'The multipart body could not be read.');
  }
  const part = form.get(MULTIPART_FIELD);
  if (part === null)
    throw new ApiError(400, 'invalid_body', `Send the picture in a form field named "${MULTIPART_FIELD}".`);
  if (typeof part === 'string') return parseDataUrl(part);
  return { bytes: new Uint8Array(await part.arrayBuffer()), mediaType: part.type };
}

/** Plugs into parsers.ts: tried by media type before the JSON body. */
export const pictureParsers: readonly InputParser[] = [
  ...Object.keys(PICTURE_MEDIA_TYPES).map(rawImageParser),
  multipartParser,
];

/** JSON `{"image": "data:image/png;base64,…"}` (or bare base64) → one digit. */
export async function fromImageJson(image: string, maxPixels?: number): Promise<DigitBatch> {
  const { bytes, mediaType } = parseDataUrl(image);
  return single(await imageToDigit(bytes, mediaType, maxPixels));
}

/**
 * `?normalize=true` on raw pixels: each digit is recentred and rescaled like MNIST (e.g. a
 * free-hand drawing sent as 784 numbers). A digit with no ink is a 422, not a guess.
 */
export function normalizeBatch(batch: DigitBatch): DigitBatch {
  const pixels = new Float32Array(batch.pixels.length);
  for (let i = 0; i < batch.count; i++) {
    const digit = batch.pixels.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT);
    pixels.set(
      refuseNoInk(() => normalizePixels(digit), batch.single ? 'The digit' : `Digit ${i}`),
      i * PIXEL_COUNT,
    );
  }
  return { ...batch, pixels };
}
