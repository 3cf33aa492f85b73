// PNG → 8-bit gray, reduced to the working size while it inflates. The zlib stream is inflated by
// the runtime's native code, several times faster than a JS inflater: its own zlib in one call
// where it has one (Node; workerd with nodejs_compat) and the rows fit 16 MiB, else its
// `DecompressionStream('deflate')` (memory: two rows). Rows are consumed one scanline at a time:
// unfiltered, turned into gray (transparency composited onto a contrasting background) and summed
// into the cells of the reduced picture straight away, and the arithmetic is exactly that of
// decoding the whole picture to gray and then box-averaging it (`reduceForWork`): the answer does
// not depend on which path ran.
//
// Integrity: every chunk must lie inside the file and IEND must be reached; the CRC of every
// chunk but IDAT is checked, and IDAT's content is covered by zlib's own Adler-32 check, which
// the inflater verifies. A stream that inflates to more (a bomb) or fewer bytes than the header
// implies is refused as soon as that is known. Interlaced (Adam7) files are left to fast-png.

import { concatBytes } from '../../shared/bytes.ts';
import type { GrayImage } from '../../shared/normalize.ts';
import { roundHalfUp } from '../../shared/round.ts';
import { ApiError } from '../errors.ts';

const invalid = (message: string) => new ApiError(422, 'invalid_image', message);

export interface PngInfo {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
  /** PLTE entries as r,g,b triples. */
  palette?: Uint8Array;
  /** tRNS payload, as stored. */
  trns?: Uint8Array;
  /** IDAT payloads in order (views into the file). */
  idat: Uint8Array[];
}

const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const readU32 = (b: Uint8Array, i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/** Walks the chunk list (IHDR first, IEND reached, CRCs outside IDAT) and collects what decoding needs. */
export function parsePng(bytes: Uint8Array): PngInfo {
  let i = 8;
  let info: PngInfo | undefined;
  const idat: Uint8Array[] = [];
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  while (i + 12 <= bytes.length) {
    const length = readU32(bytes, i);
    const type = String.fromCharCode(bytes[i + 4], bytes[i + 5], bytes[i + 6], bytes[i + 7]);
    const dataStart = i + 8;
    const dataEnd = dataStart + length;
    if (length > 0x7fffffff || dataEnd + 4 > bytes.length) break;
    if (type !== 'IDAT' && crc32(bytes, i + 4, dataEnd) !== readU32(bytes, dataEnd)) {
      throw invalid(`The PNG is corrupt (CRC mismatch in its ${type} chunk).`);
    }
    const data = bytes.subarray(dataStart, dataEnd);
    if (!info) {
      if (type !== 'IHDR' || length !== 13) throw invalid('The PNG does not start with an IHDR chunk.');
      const [depth, colorType, compression, filter, interlace] = data.subarray(8, 13);
      if (!(DEPTHS[colorType] ?? []).includes(depth) || compression !== 0 || filter !== 0 || interlace > 1) {
        throw invalid(`The PNG header is invalid (bit depth ${depth}, colour type ${colorType}).`);
      }
      info = {
        width: readU32(data, 0),
        height: readU32(data, 4),
        depth,
        colorType,
        interlaced: interlace === 1,
        idat,
      };
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      if (!idat.length) throw invalid('The PNG has no image data.');
      if (info.colorType === 3 && !palette) throw invalid('The PNG has a palette colour type but no palette.');
      return { ...info, palette, trns };
    }
    i = dataEnd + 4;
  }
  throw invalid('The PNG file is truncated (its chunks end before IEND).');
}

const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/**
 * Reverses the PNG row filter of `row` in place, given the previous unfiltered row. Stores into a
 * Uint8Array wrap modulo 256 by themselves. Paeth picks its predictor without branches: on a noisy
 * scan the branches are unpredictable, and this halves its cost (the same bytes either way).
 */
function unfilter(filter: number, row: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] += row[i - bpp];
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] += prev[i];
      return;
    case 3:
      for (let i = 0; i < bpp; i++) row[i] += prev[i] >> 1;
      if (bpp === 3) averageRgb(row, prev);
      else for (let i = bpp; i < n; i++) row[i] += (row[i - bpp] + prev[i]) >> 1;
      return;
    case 4:
      for (let i = 0; i < bpp; i++) row[i] += prev[i];
      if (bpp === 3) paethRgb(row, prev);
      else for (let i = bpp; i < n; i++) row[i] += paeth(row[i - bpp], prev[i], prev[i - bpp]);
      return;
    default:
      throw invalid(`The PNG is corrupt (unknown row filter ${filter}).`);
  }
}

/** Paeth's predictor of a byte from its left (a), upper (b) and upper-left (c) neighbours. */
function paeth(a: number, b: number, c: number): number {
  // p = a + b - c; pa = |p - a| = |b - c|, pb = |p - b| = |a - c|, pc = |p - c| = |a + b - 2c|
  let pa = b - c;
  let pb = a - c;
  let pc = pa + pb;
  pa = (pa ^ (pa >> 31)) - (pa >> 31);
  pb = (pb ^ (pb >> 31)) - (pb >> 31);
  pc = (pc ^ (pc >> 31)) - (pc >> 31);
  // All ones where the predictor is a (pa <= pb and pa <= pc), else b where pb <= pc, else c.
  const useA = -(+(pa <= pb) & +(pa <= pc));
  const useB = ~useA & -(pb <= pc);
  return c ^ ((a ^ c) & useA) ^ ((b ^ c) & useB);
}

/*
 * The Average and Paeth filters of 8-bit RGB rows (libpng's adaptive filtering picks them for most
 * rows of a scan), first pixel done: each channel's left neighbour is carried in a variable rather
 * than read back from the byte just stored, which breaks the store-to-load chain. Decoding a
 * 0.3 MP scan's rows, old and new interleaved: libpng-filtered (mostly Average) 4.16 → 3.72 ms,
 * all Paeth 6.5 → 6.3 ms. The same bytes as the generic loops.
 */
function averageRgb(row: Uint8Array, prev: Uint8Array): void {
  let [r, g, b] = [row[0], row[1], row[2]];
  for (let i = 3; i + 2 < row.length; i += 3) {
    r = (row[i] + ((r + prev[i]) >> 1)) & 0xff;
    g = (row[i + 1] + ((g + prev[i + 1]) >> 1)) & 0xff;
    b = (row[i + 2] + ((b + prev[i + 2]) >> 1)) & 0xff;
    row[i] = r;
    row[i + 1] = g;
    row[i + 2] = b;
  }
}

function paethRgb(row: Uint8Array, prev: Uint8Array): void {
  let [r, g, b] = [row[0], row[1], row[2]];
  for (let i = 3; i + 2 < row.length; i += 3) {
    r = (row[i] + paeth(r, prev[i], prev[i - 3])) & 0xff;
    g = (row[i + 1] + paeth(g, prev[i + 1], prev[i - 2])) & 0xff;
    b = (row[i + 2] + paeth(b, prev[i + 2], prev[i - 1])) & 0xff;
    row[i] = r;
    row[i + 1] = g;
    row[i + 2] = b;
  }
}

/**
 * Sums gray values into the cells of the reduced picture, row by row, exactly as decoding to gray
 * (`Math.round` per pixel, transparency composited) and then box-averaging would.
 */
export class GrayReducer {
  readonly outWidth: number;
  readonly outHeight: number;
  private readonly cellOfX: Int32Array;
  /** Sums with the background white (or the only sums, when nothing is transparent). */
  private readonly sumsWhite: Float64Array;
  /** Sums with the background black (transparent pictures only). */
  private readonly sumsBlack: Float64Array | undefined;
  private mass = 0;
  private weighted = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly factor: number,
    readonly transparent: boolean,
  ) {
    this.outWidth = Math.ceil(width / factor);
    this.outHeight = Math.ceil(height / factor);
    this.cellOfX = new Int32Array(width);
    for (let x = 0; x < width; x++) this.cellOfX[x] = Math.floor(x / factor);
    this.sumsWhite = new Float64Array(this.outWidth * this.outHeight);
    this.sumsBlack = transparent ? new Float64Array(this.outWidth * this.outHeight) : undefined;
  }

  /** Adds row `y`: `gray` (0–255, unrounded) and, for transparent pictures, `alpha` (0–1) per pixel. */
  addRow(y: number, gray: Float64Array, alpha: Float64Array | undefined): void {
    const base = Math.floor(y / this.factor) * this.outWidth;
    const cells = this.cellOfX;
    const white = this.sumsWhite;
    const black = this.sumsBlack;
    if (!black || !alpha) {
      for (let x = 0; x < this.width; x++) white[base + cells[x]] += Math.round(gray[x]);
      return;
    }
    let mass = this.mass;
    let weighted = this.weighted;
    for (let x = 0; x < this.width; x++) {
      const a = alpha[x];
      const g = gray[x];
      mass += a;
      weighted += a * g;
      const o = base + cells[x];
      white[o] += Math.round(a * g + (1 - a) * 255);
      black[o] += Math.round(a * g + (1 - a) * 0);
    }
    this.mass = mass;
    this.weighted = weighted;
  }

  /** `addRow` fused with the gray conversion for opaque 8-bit gray rows: the same sums, no intermediate arrays. */
  addGrayRow8(y: number, row: Uint8Array): void {
    const base = Math.floor(y / this.factor) * this.outWidth;
    const white = this.sumsWhite;
    const { width, factor, outWidth } = this;
    // Cell by cell: a run of `factor` pixels sums into one local, written once.
    for (let cx = 0, x = 0; cx < outWidth; cx++) {
      const end = Math.min(width, x + factor);
      let sum = 0;
      for (; x < end; x++) sum += row[x];
      white[base + cx] += sum;
    }
  }

  /**
   * The same for opaque 8-bit RGB rows. Each pixel's gray is Math.round(luma), as the
   * whole-picture path computes it in floating point, here from integers: round(s / 1000) for
   * s = 299 r + 587 g + 114 b, exact except where s / 1000 ends in exactly .5, where the floating
   * point sum may fall on either side; those pixels take the floating-point formula itself (checked
   * for all 2^24 colours: identical).
   */
  addRgbRow8(y: number, row: Uint8Array): void {
    const base = Math.floor(y / this.factor) * this.outWidth;
    const white = this.sumsWhite;
    const { width, factor, outWidth } = this;
    for (let cx = 0, o = 0; cx < outWidth; cx++) {
      const end = 3 * Math.min(width, (cx + 1) * factor);
      let sum = 0;
      for (; o < end; o += 3) {
        const r = row[o];
        const g = row[o + 1];
        const b = row[o + 2];
        const s = 299 * r + 587 * g + 114 * b + 500;
        const q = (s / 1000) | 0;
        sum += s === q * 1000 ? Math.floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5) : q;
      }
      white[base + cx] += sum;
    }
  }

  result(): GrayImage {
    // Dark strokes on transparency go onto white paper, light strokes onto black.
    const background = this.mass === 0 || this.weighted / this.mass < 128 ? 255 : 0;
    const sums = background === 255 || !this.sumsBlack ? this.sumsWhite : this.sumsBlack;
    const { outWidth, outHeight, factor, width, height } = this;
    const data = new Uint8Array(outWidth * outHeight);
    // Every cell holds factor × factor pixels but those of the last column and row.
    const lastColumn = width - (outWidth - 1) * factor;
    for (let cy = 0, o = 0; cy < outHeight; cy++) {
      const rows = Math.min(factor, height - cy * factor);
      const count = rows * factor;
      for (const end = o + outWidth - 1; o < end; o++) data[o] = roundHalfUp(sums[o] / count);
      data[o] = roundHalfUp(sums[o] / (rows * lastColumn));
      o++;
    }
    return { width: outWidth, height: outHeight, data };
  }
}

/** Turns one unfiltered scanline into gray and alpha per pixel, for every colour type and depth. */
function rowConverter(info: PngInfo): {
  transparent: boolean;
  convert(row: Uint8Array, gray: Float64Array, alpha: Float64Array): void;
} {
  const { width, depth, colorType, palette, trns } = info;
  const c = CHANNELS[colorType];
  const max = (1 << depth) - 1;
  const samples = depth === 16 ? new Uint16Array(width * c) : depth < 8 ? new Uint8Array(width) : undefined;
  const sampleRow = (row: Uint8Array): Uint8Array | Uint16Array => {
    if (depth === 8) return row;
    if (depth === 16) {
      const s = samples as Uint16Array;
      for (let i = 0; i < s.length; i++) s[i] = (row[2 * i] << 8) | row[2 * i + 1];
      return s;
    }
    const s = samples as Uint8Array;
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      s[x] = (row[bit >> 3] >> (8 - depth - (bit & 7))) & max;
    }
    return s;
  };

  if (colorType === 3) {
    const entries = palette!.length / 3;
    const grays = new Float64Array(entries);
    const alphas = new Float64Array(entries);
    for (let i = 0; i < entries; i++) {
      grays[i] = luma(palette![3 * i], palette![3 * i + 1], palette![3 * i + 2]);
      alphas[i] = (trns && i < trns.length ? trns[i] : 255) / 255;
    }
    return {
      transparent: Boolean(trns),
      convert(row, gray, alpha) {
        const s = sampleRow(row);
        for (let x = 0; x < width; x++) {
          const index = s[x];
          if (index >= entries) throw invalid('The PNG refers to a palette entry it does not define.');
          gray[x] = grays[index];
          alpha[x] = alphas[index];
        }
      },
    };
  }

  const scale = 255 / max;
  const hasAlpha = c === 2 || c === 4;
  // tRNS on gray/RGB images names one colour (in sample units) that is fully transparent.
  const key =
    !hasAlpha && trns
      ? Array.from({ length: trns.length >> 1 }, (_, i) => (trns[2 * i] << 8) | trns[2 * i + 1])
      : undefined;
  return {
    transparent: hasAlpha || key !== undefined,
    convert(row, gray, alpha) {
      const s = sampleRow(row);
      switch (c) {
        case 1:
          for (let x = 0; x < width; x++) gray[x] = s[x] * scale;
          if (key) for (let x = 0; x < width; x++) alpha[x] = s[x] === key[0] ? 0 : 1;
          return;
        case 2:
          for (let x = 0, o = 0; x < width; x++, o += 2) {
            gray[x] = s[o] * scale;
            alpha[x] = s[o + 1] / max;
          }
          return;
        case 3:
          for (let x = 0, o = 0; x < width; x++, o += 3) gray[x] = luma(s[o], s[o + 1], s[o + 2]) * scale;
          if (key)
            for (let x = 0, o = 0; x < width; x++, o += 3)
              alpha[x] = s[o] === key[0] && s[o + 1] === key[1] && s[o + 2] === key[2] ? 0 : 1;
          return;
        default:
          for (let x = 0, o = 0; x < width; x++, o += 4) {
            gray[x] = luma(s[o], s[o + 1], s[o + 2]) * scale;
            alpha[x] = s[o + 3] / max;
          }
      }
    },
  };
}

/** Inflated bytes are read in pieces of up to this size where the runtime allows it (a BYOB reader). */
const INFLATE_READ_BYTES = 256 * 1024;

/** Pictures whose rows inflate to at most this many bytes may be inflated in one piece (~5 MP RGB, 16 MP gray). */
const ONE_PIECE_MAX_BYTES = 16 * 1024 * 1024;

/** Room over the expected size that one-piece inflation may use before it stops (see inflate). */
const ONE_PIECE_SLACK_BYTES = 64 * 1024;

/** zlib's smallest allowed `chunkSize`. */
const MIN_ZLIB_CHUNK_BYTES = 64;

type InflateSync = (data: Uint8Array, options: { maxOutputLength: number; chunkSize: number }) => Uint8Array;

/**
 * The runtime's own synchronous zlib, where it has one: Node, and workerd with `nodejs_compat`
 * (the default for compatibility dates from 2026-08-04). Found through `process.getBuiltinModule`,
 * never imported: a Worker without nodejs_compat cannot resolve `node:zlib`.
 */
const zlibInflateSync: InflateSync | undefined = (() => {
  try {
    const runtime = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
    return (runtime?.getBuiltinModule?.('node:zlib') as { inflateSync?: InflateSync } | undefined)?.inflateSync;
  } catch {
    return undefined;
  }
})();

/**
 * The IDAT stream inflated, chunk by chunk. Each chunk is valid until the next one is asked for
 * (its buffer may be reused): a consumer copies what it keeps.
 *
 * Where the runtime has a synchronous zlib and the rows fit ONE_PIECE_MAX_BYTES, they are inflated
 * in one call: a stream's round trips cost more than the inflation itself (Node's
 * DecompressionStream hands out 16 KiB per trip to its zlib thread: a noisy 0.3 MP RGB scan took
 * 13 ms of CPU that way against 3 ms in one call into one buffer). Inflation stops a little past
 * what the header implies, so a bomb is not inflated whole; more rows than the header's are
 * refused as they come.
 *
 * Otherwise, `DecompressionStream`. workerd's is a byte stream: a BYOB reader fills up to 256 KiB
 * per read, where the default reader hands out 4 KiB chunks, each a round trip between JS and the
 * runtime (the same scan: 220 reads, 7.9 ms of CPU, vs 4 reads, 4.7 ms). But workerd's first BYOB
 * reader in an isolate costs ~10 ms more than its first default reader, and the warm-up cannot take
 * it on (no streams at global scope): small pictures (the page's, 78 KB of rows) keep the default
 * reader, so an isolate's first request is not the one to pay for it.
 */
async function* inflate(idat: Uint8Array[], expectedBytes: number): AsyncGenerator<Uint8Array> {
  if (zlibInflateSync && expectedBytes <= ONE_PIECE_MAX_BYTES) {
    let rows: Uint8Array | undefined;
    try {
      rows = zlibInflateSync(idat.length === 1 ? idat[0] : concatBytes(idat), {
        maxOutputLength: expectedBytes + ONE_PIECE_SLACK_BYTES,
        // One output buffer of the expected size (one byte more, so the stream's end fits in it): zlib
        // then inflates in a single native call. Node's default, 16 KiB pieces joined at the end,
        // cost a noisy 0.3 MP scan 4.8 ms of CPU against 3.1.
        chunkSize: Math.max(MIN_ZLIB_CHUNK_BYTES, expectedBytes + 1),
      });
    } catch (error) {
      // A RangeError is output past the limit: a bomb, or workerd's zlib growing its buffer past
      // the limit for a picture that fits (it does, by up to 32 KiB). The stream below decides, row by row.
      if (!(error instanceof RangeError)) throw invalid(`The PNG image data is corrupt (${(error as Error).message}).`);
    }
    if (rows) {
      yield rows;
      return;
    }
  }
  let stream: ReadableStream<Uint8Array>;
  let byob: ReadableStreamBYOBReader | undefined;
  if (expectedBytes > INFLATE_READ_BYTES) {
    // The compressed data is all in memory: written in at once; a write fails only when the
    // stream does, which the reader reports.
    const inflater = new DecompressionStream('deflate');
    const writer = inflater.writable.getWriter();
    for (const data of idat) writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
    writer.close().catch(() => {});
    stream = inflater.readable;
    try {
      byob = stream.getReader({ mode: 'byob' });
    } catch {
      // Not a byte stream (Node): the default reader.
    }
  } else {
    stream = new Blob(idat as unknown as ConstructorParameters<typeof Blob>[0])
      .stream()
      .pipeThrough(new DecompressionStream('deflate'));
  }
  const reader = byob ?? stream.getReader();
  let buffer = new Uint8Array(byob ? INFLATE_READ_BYTES : 0);
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await (byob ? byob.read(buffer) : (reader as ReadableStreamDefaultReader<Uint8Array>).read());
      } catch (error) {
        throw invalid(`The PNG image data is corrupt (${(error as Error).message}).`);
      }
      if (chunk.done) return;
      yield chunk.value;
      // The BYOB read handed the buffer back (transferred): fill it again.
      if (byob) buffer = new Uint8Array(chunk.value.buffer as ArrayBuffer);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Decodes a non-interlaced PNG to gray reduced by `factor` (1 = full size), inflating natively
 * and walking the scanlines. Throws 422 `invalid_image` for corrupt or inconsistent data.
 *
 * `inflated` defaults to the file's IDAT data through `inflate`; the Worker's warm-up at global
 * scope also hands in already inflated rows (workerd allows no streams there). Rows are
 * unfiltered in place, in the inflated chunks themselves (only a row split between two chunks is
 * copied), and the previous row is read where it lies; it is copied aside only when its chunk ends.
 */
export async function decodePngReduced(
  info: PngInfo,
  factor: number,
  inflated?: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<GrayImage> {
  const { width, height, depth, colorType } = info;
  const bitsPerPixel = CHANNELS[colorType] * depth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  inflated ??= inflate(info.idat, height * (stride + 1));
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const converter = rowConverter(info);
  const reducer = new GrayReducer(width, height, factor, converter.transparent);
  // The common scans and photos (opaque 8-bit gray or RGB) take a fused path.
  const opaque8 = depth === 8 && !converter.transparent ? colorType : -1;
  const gray = new Float64Array(width);
  const alpha = new Float64Array(width).fill(1);

  const rowBytes = stride + 1; // filter byte + the row
  const line = new Uint8Array(rowBytes); // a row split between two chunks, put together
  const kept = new Uint8Array(stride); // the previous row, once its chunk is gone
  let prev: Uint8Array = kept; // all zeros before the first row, as PNG defines
  let filled = 0;
  let y = 0;
  const addRow = (filter: number, row: Uint8Array) => {
    unfilter(filter, row, prev, bpp);
    if (opaque8 === 0) reducer.addGrayRow8(y, row);
    else if (opaque8 === 2) reducer.addRgbRow8(y, row);
    else {
      converter.convert(row, gray, alpha);
      reducer.addRow(y, gray, converter.transparent ? alpha : undefined);
    }
    prev = row;
    y++;
  };
  const tooLong = () => invalid('The PNG holds more image data than its header says.');
  for await (const bytes of inflated) {
    let offset = 0;
    if (filled > 0) {
      // Finish the row the last chunk began.
      const take = Math.min(rowBytes - filled, bytes.length);
      line.set(bytes.subarray(0, take), filled);
      filled += take;
      offset = take;
      if (filled === rowBytes) {
        if (y === height) throw tooLong();
        addRow(line[0], line.subarray(1));
        filled = 0;
      }
    }
    // Whole rows inside this chunk: unfiltered where they are.
    for (; offset + rowBytes <= bytes.length; offset += rowBytes) {
      if (y === height) throw tooLong();
      addRow(bytes[offset], bytes.subarray(offset + 1, offset + rowBytes));
    }
    // This chunk's buffer is about to be reused, and `line` may hold the previous row: keep it.
    if (prev !== kept) {
      kept.set(prev);
      prev = kept;
    }
    if (offset < bytes.length) {
      if (y === height) throw tooLong();
      line.set(bytes.subarray(offset), 0);
      filled = bytes.length - offset;
    }
  }
  if (y < height || filled > 0) {
    throw invalid(
      y < height
        ? 'The PNG image data is shorter than its header says.'
        : 'The PNG holds more image data than its header says.',
    );
  }
  return reducer.result();
}
