// Client images (PNG, JPEG, data URLs) to MNIST-style 28×28 digits. Pictures are reduced to the
// working size (MAX_WORK_SIDE) while they decode, so normalising costs the same for any size.
// PNG inflates through the runtime's DecompressionStream (png.ts); interlaced PNGs go through
// fast-png. Runs unchanged in workerd and in Node.

import { type DecodedPng, decode as decodePng } from 'fast-png';
import { imageSize } from 'image-size';
import jpeg from 'jpeg-js';
import { type GrayImage, MAX_WORK_SIDE, NoInkError, normalizeDigit, reduceForWork } from '../../shared/normalize.ts';
import { ApiError } from '../errors.ts';
import {
  DECODE_MEMORY_BUDGET,
  MAX_IMAGE_BYTES,
  MAX_IMAGE_PIXELS,
  MAX_IMAGE_SIDE,
  pngDecodeBytes,
} from './image-limits.ts';
import { decodeJpegLuma } from './jpeg.ts';
import { mediaTypeOf, PICTURE_MEDIA_TYPES, type PictureFormat, pictureFormat } from './media-types.ts';
import { decodePngReduced, parsePng } from './png.ts';

const invalid = (message: string) => new ApiError(422, 'invalid_image', message);

/** The format from the file's magic bytes, whatever the client claimed. */
export function sniffFormat(bytes: Uint8Array): PictureFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return 'png';
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

const _readU32 = (b: Uint8Array, i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const readU16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];

/**
 * Walks the JPEG segments to the first scan, then requires an end-of-image marker after it.
 * (Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so FFD9 after
 * the scan is the real end; an EXIF thumbnail's own FFD9 sits in a skipped APP1 segment.)
 */
function assertJpegComplete(bytes: Uint8Array): void {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) throw invalid('The JPEG file is corrupt (bad segment marker).');
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xda) {
      for (let j = bytes.length - 2; j > i; j--) {
        if (bytes[j] === 0xff && bytes[j + 1] === 0xd9) return;
      }
      break;
    }
    i += 2 + (marker >= 0xd0 && marker <= 0xd7 ? 0 : readU16(bytes, i + 2));
  }
  throw invalid('The JPEG file is truncated (no complete scan and end-of-image marker).');
}

/** Header dimensions (and JPEG EXIF orientation), checked against the limits before decoding. */
function checkHeader(bytes: Uint8Array, maxPixels: number): { width: number; height: number; orientation: number } {
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(bytes);
  } catch {
    throw invalid('The image header is unreadable.');
  }
  const { width, height } = size;
  if (!width || !height) throw invalid('The image header has no dimensions.');
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > maxPixels) {
    const mp = (n: number) => `${Math.round(n / 1e4) / 100} MP`;
    throw new ApiError(
      413,
      'image_too_large',
      `The image is ${width}×${height} (${mp(width * height)}); the limit is ${MAX_IMAGE_SIDE} px a side and ${mp(maxPixels)} (MAX_PICTURE_MEGAPIXELS).`,
    );
  }
  return { width, height, orientation: size.orientation ?? 1 };
}

const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/** Unpacks 1/2/4-bit samples of one channel per pixel (gray or palette index), row by row. */
function unpackSamples(png: DecodedPng): Uint16Array | Uint8Array {
  if (png.depth >= 8) return png.data as Uint8Array | Uint16Array;
  const { width, height, depth } = png;
  const stride = Math.ceil((width * depth) / 8);
  const out = new Uint8Array(width * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = png.data[y * stride + (bit >> 3)];
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * A decoded PNG's pixels as 8-bit gray, with transparency composited away. Reads the decoded
 * samples directly (no float copies): a 16 M-pixel picture needs little beyond the decoder's own
 * buffers.
 */
function pngToGray(png: DecodedPng): Uint8Array {
  const n = png.width * png.height;
  const samples = unpackSamples(png);
  const expected = n * (png.palette ? 1 : png.channels);
  if (samples.length < expected) throw invalid('The PNG image data is shorter than its header says.');
  return composite(n, png.palette ? paletteReader(png, samples) : sampleReader(png, samples));
}

/** Pixel i's gray (0–255) and alpha (0–1), left in `px` by `read(i)`. */
interface PixelReader {
  px: { gray: number; alpha: number };
  read: (i: number) => void;
  transparent: boolean;
}

function paletteReader(png: DecodedPng, samples: ArrayLike<number>): PixelReader {
  const palette = png.palette ?? [];
  const trns = png.transparency;
  const px = { gray: 0, alpha: 1 };
  return {
    px,
    transparent: Boolean(trns) || palette.some((entry) => entry.length > 3),
    read: (i) => {
      const index = samples[i];
      const entry = palette[index];
      if (!entry) throw invalid('The PNG refers to a palette entry it does not define.');
      px.gray = luma(entry[0], entry[1], entry[2]);
      px.alpha = (entry.length > 3 ? entry[3] : trns && index < trns.length ? trns[index] : 255) / 255;
    },
  };
}

function sampleReader(png: DecodedPng, samples: ArrayLike<number>): PixelReader {
  const max = (1 << png.depth) - 1;
  const scale = 255 / max;
  const c = png.channels;
  const hasAlpha = c === 2 || c === 4;
  // tRNS on gray/RGB images names one colour (in sample units) that is fully transparent.
  const key = !hasAlpha && png.transparency ? png.transparency : undefined;
  const px = { gray: 0, alpha: 1 };
  return {
    px,
    transparent: hasAlpha || key !== undefined,
    read: (i) => {
      const o = i * c;
      px.gray = (c <= 2 ? samples[o] : luma(samples[o], samples[o + 1], samples[o + 2])) * scale;
      if (hasAlpha) px.alpha = samples[o + c - 1] / max;
      else if (key) {
        const keyed =
          c === 1
            ? samples[o] === key[0]
            : samples[o] === key[0] && samples[o + 1] === key[1] && samples[o + 2] === key[2];
        px.alpha = keyed ? 0 : 1;
      }
    },
  };
}

/**
 * Gray with transparency composited away, over a background chosen to contrast with the drawing: a
 * canvas export of dark strokes on transparent pixels goes onto white paper, light strokes on
 * transparency onto black.
 */
function composite(n: number, { px, read, transparent }: PixelReader): Uint8Array {
  const out = new Uint8Array(n);
  if (!transparent) {
    for (let i = 0; i < n; i++) {
      read(i);
      out[i] = Math.round(px.gray);
    }
    return out;
  }
  let mass = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    read(i);
    mass += px.alpha;
    weighted += px.alpha * px.gray;
  }
  const background = mass === 0 || weighted / mass < 128 ? 255 : 0;
  for (let i = 0; i < n; i++) {
    read(i);
    out[i] = Math.round(px.alpha * px.gray + (1 - px.alpha) * background);
  }
  return out;
}

/** Applies an EXIF orientation (2–8) so that phone photos come out upright. */
export function orient(image: GrayImage, orientation: number): GrayImage {
  if (orientation < 2 || orientation > 8) return image;
  const { width: w, height: h, data } = image;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // Source pixel (sx, sy) that lands at (x, y) for each EXIF orientation.
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2:
          [sx, sy] = [w - 1 - x, y];
          break;
        case 3:
          [sx, sy] = [w - 1 - x, h - 1 - y];
          break;
        case 4:
          [sx, sy] = [x, h - 1 - y];
          break;
        case 5:
          [sx, sy] = [y, x];
          break;
        case 6:
          [sx, sy] = [y, h - 1 - x];
          break;
        case 7:
          [sx, sy] = [w - 1 - y, h - 1 - x];
          break;
        default:
          [sx, sy] = [w - 1 - y, x];
          break;
      }
      out[y * ow + x] = data[sy * w + sx];
    }
  }
  return { width: ow, height: oh, data: out };
}

/** The integer box factor that brings the longer side to at most `maxSide` (as `reduceForWork`). */
export function reduceFactor(width: number, height: number, maxSide = MAX_WORK_SIDE): number {
  return Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
}

/**
 * The JPEG DCT scale (1/1 … 1/8) to decode at: the smallest that keeps the long side at least 3/4
 * of `maxSide`. Scaling in the DCT is nearly free, an 8×8 inverse transform is not, so a JPEG's
 * working picture may keep up to 5/4 of `maxSide` (JPEG_WORK_SLACK) rather than be decoded larger
 * and box-averaged: a 0.3 MP photo decodes at 1/2 to 316 px, a 1 MP one at 1/4 to 289 px.
 */
export function jpegDenominator(longSide: number, maxSide = MAX_WORK_SIDE): 1 | 2 | 4 | 8 {
  for (const d of [8, 4, 2] as const) if (Math.ceil(longSide / d) >= 0.75 * maxSide) return d;
  return 1;
}
const JPEG_WORK_SLACK = 1.25;

/**
 * Decodes PNG or JPEG bytes to 8-bit grayscale with transparency composited away, box-averaged
 * down to at most `maxSide` px a side (exactly as `reduceForWork` on the full picture would).
 * Throws ApiError 413 `image_too_large`, 415 `unsupported_media_type` or 422 `invalid_image`.
 */
export async function decodeToGray(
  bytes: Uint8Array,
  mediaType?: string,
  maxSide = MAX_WORK_SIDE,
  maxPixels = MAX_IMAGE_PIXELS,
): Promise<GrayImage> {
  if (bytes.length > MAX_IMAGE_BYTES) {
    throw new ApiError(
      413,
      'payload_too_large',
      `The image is ${bytes.length} bytes; the limit is ${MAX_IMAGE_BYTES}.`,
    );
  }
  const format = sniffFormat(bytes);
  if (!format) {
    const declared = mediaTypeOf(mediaType);
    if (declared && !pictureFormat(declared) && declared !== 'application/octet-stream') {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `${declared} is not supported; send ${Object.keys(PICTURE_MEDIA_TYPES).join(', ')}.`,
      );
    }
    throw invalid('The body is not a PNG or JPEG image.');
  }
  const { width, height, orientation } = checkHeader(bytes, maxPixels);
  try {
    return await decodeFormat(bytes, format, width, height, orientation, maxSide);
  } catch (error) {
    // A hostile file must never become a 500: whatever a decoder throws is the picture's fault.
    if (error instanceof ApiError) throw error;
    throw invalid(`The ${format.toUpperCase()} could not be decoded: ${(error as Error)?.message ?? String(error)}`);
  }
}

async function decodeFormat(
  bytes: Uint8Array,
  format: PictureFormat,
  width: number,
  height: number,
  orientation: number,
  maxSide: number,
): Promise<GrayImage> {
  if (format === 'png') {
    const info = parsePng(bytes);
    if (info.width !== width || info.height !== height) throw invalid('The PNG header is inconsistent.');
    // Streamed: two rows and the reduced picture in memory, whatever the size.
    if (!info.interlaced) return await decodePngReduced(info, reduceFactor(width, height, maxSide));
    // Adam7 needs the whole picture: fast-png, within the memory budget.
    const needed = pngDecodeBytes(width, height, info.depth, info.colorType);
    if (needed > DECODE_MEMORY_BUDGET) {
      throw new ApiError(
        413,
        'image_too_large',
        `The interlaced PNG is ${width}×${height} and would need ${Math.ceil(needed / 2 ** 20)} MB to decode (limit ${DECODE_MEMORY_BUDGET / 2 ** 20} MB); send it scaled down or not interlaced.`,
      );
    }
    let png: DecodedPng;
    try {
      png = decodePng(bytes, { checkCrc: true });
    } catch (error) {
      throw invalid(`The PNG could not be decoded: ${(error as Error).message}`);
    }
    if (png.width !== width || png.height !== height) throw invalid('The PNG header is inconsistent.');
    return reduceForWork({ width, height, data: pngToGray(png) }, maxSide);
  }

  assertJpegComplete(bytes);
  // Baseline JPEGs: the luma plane only, at the DCT scale that still leaves about the working size.
  const plane = decodeJpegLuma(bytes, jpegDenominator(Math.max(width, height), maxSide));
  if (plane) {
    if (plane.width !== width || plane.height !== height) throw invalid('The JPEG header is inconsistent.');
    return orient(reduceForWork(plane.image, Math.round(maxSide * JPEG_WORK_SLACK)), orientation);
  }
  // Progressive, CMYK, 12-bit…: jpeg-js decodes the whole picture, within the memory budget.
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      // jpeg-js counts its own allocations and stops before going over (→ 413 below).
      maxMemoryUsageInMB: DECODE_MEMORY_BUDGET / 2 ** 20,
    });
  } catch (error) {
    const message = (error as Error).message;
    if (/maxMemoryUsageInMB|maxResolutionInMP|allocate enough memory/.test(message)) {
      throw new ApiError(
        413,
        'image_too_large',
        `The JPEG is ${width}×${height} and would need more than ${DECODE_MEMORY_BUDGET / 2 ** 20} MB to decode; send it scaled down (about 2000×2000 or less).`,
      );
    }
    throw invalid(`The JPEG could not be decoded: ${message}`);
  }
  const n = decoded.width * decoded.height;
  if (!n || decoded.data.length < n * 3) throw invalid('The JPEG image data is incomplete.');
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    data[i] = Math.round(luma(decoded.data[3 * i], decoded.data[3 * i + 1], decoded.data[3 * i + 2]));
  }
  return orient(reduceForWork({ width: decoded.width, height: decoded.height, data }, maxSide), orientation);
}

/** Splits a `data:image/png;base64,…` URL (or bare base64) into bytes and its declared media type. */
export function parseDataUrl(value: string): { bytes: Uint8Array; mediaType?: string } {
  let mediaType: string | undefined;
  let payload = value.trim();
  if (payload.startsWith('data:')) {
    const comma = payload.indexOf(',');
    const header = comma < 0 ? '' : payload.slice(5, comma).toLowerCase();
    if (comma < 0 || !header.split(';').includes('base64')) {
      throw new ApiError(422, 'invalid_image', 'The data URL must be base64-encoded: data:image/png;base64,…');
    }
    mediaType = header.split(';')[0] || undefined;
    payload = payload.slice(comma + 1);
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length > Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 4) {
    throw new ApiError(413, 'payload_too_large', `The image is larger than ${MAX_IMAGE_BYTES} bytes.`);
  }
  // Accept the URL-safe alphabet too, and missing padding.
  payload = payload.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload) || payload.length % 4 === 1) {
    throw new ApiError(422, 'invalid_image', 'The image is not valid base64.');
  }
  const binary = atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, '='));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return { bytes, mediaType };
}

/**
 * The whole path for one client image: decode, composite, detect polarity, normalise MNIST-style.
 * Returns 784 pixels (0–255, white ink on black). Throws ApiError with a 4xx status on bad input,
 * including 422 `no_ink` for a picture with nothing drawn on it.
 */
export async function imageToDigit(
  bytes: Uint8Array,
  mediaType?: string,
  maxPixels = MAX_IMAGE_PIXELS,
): Promise<Uint8Array> {
  const gray = await decodeToGray(bytes, mediaType, MAX_WORK_SIDE, maxPixels);
  return refuseNoInk(() => normalizeDigit(gray), 'The picture');
}

/** Runs an MNIST-style normalisation; a digit with no ink is the client's 422, not a guess. */
export function refuseNoInk<T>(normalize: () => T, what: string): T {
  try {
    return normalize();
  } catch (error) {
    if (error instanceof NoInkError)
      throw new ApiError(422, 'no_ink', `${what} has no ink to normalise: nothing stands out from the background.`);
    throw error;
  }
}
