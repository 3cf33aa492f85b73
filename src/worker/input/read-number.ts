// POST /read's work: a picture of a handwritten number → its digits, left to right. The picture is
// decoded as for /classify (at a larger working size, since a number is wider than a digit), its
// ink found by the same extractInk, cut into digits (shared/segment.ts) and every digit normalised
// by the same code as /classify's, then all digits classified as one batch.

import { imageSize } from 'image-size';
import { extractInk } from '../../shared/ink.ts';
import { PIXEL_COUNT } from '../../shared/model-spec.ts';
import { reduceForWork } from '../../shared/normalize.ts';
import { type Box, segmentDigits, TooManyDigitsError, type Verify } from '../../shared/segment.ts';
import { ApiError } from '../errors.ts';
import type { Prediction } from '../inference/classifier.ts';
import { decodeToGray, refuseNoInk } from './decode-image.ts';

/**
 * Numbers are decoded to at most this many pixels a side (a digit alone to MAX_WORK_SIDE, 256),
 * since a number is wider than a digit: a 4-digit 0.3 MP scan (858×374) is read at 286×125, its
 * digits ~57 px tall (a JPEG, decoded at 1/2 DCT scale, at 215×94). 512 read the test sets no
 * better and cost a 0.3 MP PNG scan ~2.5 ms more (the ink map has twice the pixels); 280 read
 * touching digits 3.5 points worse (seed 11, bench/read-accuracy.ts).
 */
export const READ_WORK_SIDE = 384;

const NO_DIGITS = 'The picture has no ink to read: only specks stand out from the background.';

/** What a digit picture is classified with (DigitClassifier.classify). */
export type Classify = (pixels: Float32Array, count: number) => Promise<Prediction[]>;

export interface ReadDigit extends Prediction {
  /** Where the digit is, in pixels of the picture as sent (after EXIF orientation). */
  box: { x: number; y: number; width: number; height: number };
}

export interface ReadResult {
  number: string;
  digits: ReadDigit[];
}

/** The picture's size as sent, turned upright as decodeToGray turns it. */
function uprightSize(bytes: Uint8Array): { width: number; height: number } {
  const { width = 0, height = 0, orientation = 1 } = imageSize(bytes);
  return orientation >= 5 && orientation <= 8 ? { width: height, height: width } : { width, height };
}

/** A box of the working picture in pixels of the picture as sent. */
function scaleBox(box: Box, sx: number, sy: number, width: number, height: number): ReadDigit['box'] {
  const x = Math.max(0, Math.floor(box.x0 * sx));
  const y = Math.max(0, Math.floor(box.y0 * sy));
  return {
    x,
    y,
    width: Math.min(width, Math.ceil((box.x1 + 1) * sx)) - x,
    height: Math.min(height, Math.ceil((box.y1 + 1) * sy)) - y,
  };
}

/**
 * Reads the number in a PNG or JPEG. Throws ApiError as /classify does for bad pictures, 422
 * `no_ink` when nothing is written, 422 `too_many_digits` past `maxDigits`. `verify`, the segment
 * verifier, helps choose where touching digits part (without it, the rules alone).
 */
export async function readNumber(
  bytes: Uint8Array,
  mediaType: string | undefined,
  limits: { maxPicturePixels: number; maxDigits: number },
  classify: Classify,
  verify?: Verify,
): Promise<ReadResult> {
  // A JPEG may come back up to 5/4 of the working side (its DCT scale is nearly free, see
  // jpegDenominator); a number's ink map and segmentation cost by the pixel, so it is held to the
  // working side like a PNG: the 0.3 MP photo is read at 215×94 instead of 429×187 (~3 ms less).
  const gray = reduceForWork(
    await decodeToGray(bytes, mediaType, READ_WORK_SIDE, limits.maxPicturePixels),
    READ_WORK_SIDE,
  );
  const ink = refuseNoInk(() => extractInk(gray), 'The picture');
  // Digits the segmentation classified while choosing where to cut keep that answer: the same
  // network on the same 784 pixels.
  const known = new WeakMap<Uint8Array, Prediction>();
  const recognize = async (digits: readonly Uint8Array[]) => {
    const pixels = new Float32Array(digits.length * PIXEL_COUNT);
    digits.forEach((digit, i) => {
      pixels.set(digit, i * PIXEL_COUNT);
    });
    const predictions = await classify(pixels, digits.length);
    digits.forEach((digit, i) => {
      known.set(digit, predictions[i]);
    });
    return predictions;
  };
  let segments: Awaited<ReturnType<typeof segmentDigits>>;
  try {
    segments = await segmentDigits(ink, { maxDigits: limits.maxDigits, recognize, verify });
  } catch (error) {
    if (error instanceof TooManyDigitsError) {
      throw new ApiError(
        422,
        'too_many_digits',
        `${error.message} Send at most ${error.limit} digits per picture (MAX_DIGITS).`,
      );
    }
    throw error;
  }
  // Every mark was a speck: as blank as a picture with nothing on it.
  if (segments.length === 0) throw new ApiError(422, 'no_ink', NO_DIGITS);
  // The rest, all in one batch.
  const unread = segments.filter((segment) => !known.has(segment.pixels)).map((segment) => segment.pixels);
  if (unread.length) await recognize(unread);
  const size = uprightSize(bytes);
  const sx = size.width / gray.width;
  const sy = size.height / gray.height;
  const digits = segments.map((segment) => ({
    ...(known.get(segment.pixels) as Prediction),
    box: scaleBox(segment.box, sx, sy, size.width, size.height),
  }));
  return { number: digits.map((d) => d.digit).join(''), digits };
}
