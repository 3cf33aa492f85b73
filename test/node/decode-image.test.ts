import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { normalizePixels, reduceForWork } from '../../src/shared/normalize.ts';
import { seededRandom } from '../../src/shared/random.ts';
import { ApiError } from '../../src/worker/errors.ts';
import { decodeToGray, imageToDigit, orient, parseDataUrl } from '../../src/worker/input/decode-image.ts';
import { decodeJpegLuma } from '../../src/worker/input/jpeg.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

const mnist = loadMnistTest();
/** MNIST test digit k as white ink on black, 28×28. */
const digit = (k: number) => mnist.images.subarray(k * PIXEL_COUNT, (k + 1) * PIXEL_COUNT);
/** The same digit as dark ink on white paper. */
const onPaper = (k: number) => digit(k).map((v) => 255 - v);

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / a.length;
}

/** Expects `fn` to throw an ApiError with this status and code. */
async function expectApiError(fn: () => unknown, status: number, code: string) {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ApiError ${status} ${code}`).toBeInstanceOf(ApiError);
  expect({ status: (caught as ApiError).status, code: (caught as ApiError).code }).toEqual({ status, code });
}

/** A JPEG made by libjpeg-turbo, from test/fixtures/jpeg. */
const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/jpeg/${name}.jpg`, import.meta.url)));

/** Our luma-only decode at 1/1–1/8 scale matches jpeg-js's whole decode, converted to gray and box-averaged. */
function expectLumaAsJpegJs(bytes: Uint8Array) {
  const reference = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  const { width: w, height: h } = reference;
  const gray = Uint8Array.from({ length: w * h }, (_, i) =>
    Math.round(0.299 * reference.data[3 * i] + 0.587 * reference.data[3 * i + 1] + 0.114 * reference.data[3 * i + 2]),
  );
  for (const d of [1, 2, 4, 8] as const) {
    const ours = decodeJpegLuma(bytes, d)!;
    expect(ours.image).toMatchObject({ width: Math.ceil(w / d), height: Math.ceil(h / d) });
    // Compare whole cells only (edge cells of the reference average fewer pixels).
    const expected = reduceForWork({ width: w, height: h, data: gray }, Math.ceil(Math.max(w, h) / d));
    let total = 0;
    let cells = 0;
    for (let y = 0; y < Math.floor(h / d); y++) {
      for (let x = 0; x < Math.floor(w / d); x++) {
        total += Math.abs(ours.image.data[y * ours.image.width + x] - expected.data[y * expected.width + x]);
        cells++;
      }
    }
    expect(total / cells, `1/${d}`).toBeLessThan(1.5);
  }
}

/** Minimal PNG writer, for headers and colour types our encoders do not produce. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
function rawPng(
  width: number,
  height: number,
  depth: number,
  colorType: number,
  rows: Uint8Array[],
  extra: Uint8Array[] = [],
) {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const filtered = Buffer.concat(rows.map((row) => Buffer.concat([Buffer.of(0), row])));
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      ...extra,
      chunk('IDAT', deflateSync(filtered)),
      chunk('IEND', new Uint8Array(0)),
    ]),
  );
}

describe('decodeToGray', () => {
  const k = 7;
  const expected = normalizePixels(digit(k));

  it('decodes 8-bit gray, RGB and RGBA PNGs to the same digit', async () => {
    const paper = onPaper(k);
    const rgb = new Uint8Array(PIXEL_COUNT * 3).map((_, i) => paper[Math.floor(i / 3)]);
    const rgba = new Uint8Array(PIXEL_COUNT * 4).map((_, i) => (i % 4 === 3 ? 255 : paper[i >> 2]));
    for (const [data, channels] of [
      [paper, 1],
      [rgb, 3],
      [rgba, 4],
    ] as const) {
      const bytes = encodePng({ width: 28, height: 28, data, channels, depth: 8 });
      expect(meanAbsDiff(await imageToDigit(bytes, 'image/png'), expected)).toBeLessThan(2);
    }
  });

  it('decodes interlaced (Adam7) PNGs', async () => {
    const bytes = encodePng({ width: 28, height: 28, data: onPaper(k), channels: 1, depth: 8 }, { interlace: 'Adam7' });
    expect(bytes[28]).toBe(1); // IHDR interlace method
    expect(Array.from((await decodeToGray(bytes)).data)).toEqual(Array.from(onPaper(k)));
  });

  it('decodes 16-bit gray and gray+alpha PNGs', async () => {
    const sixteen = new PNG({
      width: 28,
      height: 28,
      bitDepth: 16,
      colorType: 0,
      inputColorType: 0,
      inputHasAlpha: false,
    });
    const data16 = new Uint16Array(PIXEL_COUNT).map((_, i) => onPaper(k)[i] * 257);
    const png16 = PNG.sync.write({ ...sixteen, data: Buffer.from(data16.buffer) } as PNG, {
      bitDepth: 16,
      colorType: 0,
      inputColorType: 0,
      inputHasAlpha: false,
    });
    const gray16 = await decodeToGray(new Uint8Array(png16));
    expect(Array.from(gray16.data)).toEqual(Array.from(onPaper(k)));

    const ga = new Uint8Array(PIXEL_COUNT * 2).map((_, i) => (i % 2 ? 255 : onPaper(k)[i >> 1]));
    const bytes = encodePng({ width: 28, height: 28, data: ga, channels: 2, depth: 8 });
    expect(meanAbsDiff(await imageToDigit(bytes, 'image/png'), expected)).toBeLessThan(2);
  });

  it('decodes palette PNGs (8-bit and packed 1-bit, odd widths) and 1-bit gray', async () => {
    // 8-bit palette: 256 gray entries.
    const palette = Array.from({ length: 256 }, (_, v) => [v, v, v]);
    const indexed = encodePng({ width: 28, height: 28, data: onPaper(k), channels: 1, depth: 8, palette });
    expect(meanAbsDiff(await imageToDigit(indexed, 'image/png'), expected)).toBeLessThan(2);

    // A 1-bit palette image 13 px wide (rows padded to whole bytes): a black bar on white.
    const width = 13;
    const rows = Array.from({ length: 10 }, (_, y) => {
      const bits = Array.from({ length: width }, (_, x) => (x >= 4 && x <= 6 && y >= 2 && y <= 8 ? 1 : 0));
      const row = new Uint8Array(2);
      bits.forEach((b, x) => {
        row[x >> 3] |= b << (7 - (x & 7));
      });
      return row;
    });
    const plte = chunk('PLTE', Uint8Array.of(255, 255, 255, 0, 0, 0));
    const gray = await decodeToGray(rawPng(width, 10, 1, 3, rows, [plte]));
    expect(gray.data[5 * width + 5]).toBe(0);
    expect(gray.data[5 * width + 3]).toBe(255);
    expect(gray.data[5 * width + 12]).toBe(255);
    // Same bits as 1-bit grayscale: 1 is white there, so the bar is white on black.
    const gray1 = await decodeToGray(rawPng(width, 10, 1, 0, rows));
    expect(gray1.data[5 * width + 5]).toBe(255);
    expect(gray1.data[5 * width + 12]).toBe(0);
  });

  it('composites a canvas export (dark strokes on transparent pixels) onto white paper', async () => {
    // Exactly what canvas.toBlob() writes: transparent black, strokes black with alpha = coverage.
    const rgba = new Uint8Array(PIXEL_COUNT * 4);
    digit(k).forEach((v, i) => {
      rgba[4 * i + 3] = v;
    });
    const bytes = encodePng({ width: 28, height: 28, data: rgba, channels: 4, depth: 8 });
    const gray = await decodeToGray(bytes, 'image/png');
    expect(gray.data[0]).toBe(255); // transparent → paper
    expect(meanAbsDiff(await imageToDigit(bytes, 'image/png'), expected)).toBeLessThan(2);
    // White strokes on transparency go onto black instead, and give the same digit.
    const white = rgba.map((v, i) => (i % 4 === 3 ? v : 255));
    expect(
      meanAbsDiff(
        await imageToDigit(encodePng({ width: 28, height: 28, data: white, channels: 4, depth: 8 })),
        expected,
      ),
    ).toBeLessThan(2);
  });

  it('honours tRNS colour keys on gray PNGs', async () => {
    // Gray 0 is declared transparent; the "ink" is drawn in gray 0 and the paper is... transparent 0 too,
    // so a keyed background must be treated as paper: draw ink as 0, background keyed 200.
    const rows = Array.from({ length: 20 }, (_, y) =>
      Uint8Array.from({ length: 20 }, (_, x) => (x >= 8 && x <= 11 && y >= 3 && y <= 16 ? 0 : 200)),
    );
    const trns = chunk('tRNS', Uint8Array.of(0, 200));
    const gray = await decodeToGray(rawPng(20, 20, 8, 0, rows, [trns]));
    expect(gray.data[0]).toBe(255); // keyed → transparent → composited onto white
    expect(gray.data[10 * 20 + 9]).toBe(0);
  });

  it('decodes JPEG (baseline, quality 80)', async () => {
    const rgba = new Uint8Array(PIXEL_COUNT * 16 * 4);
    // 4× upscale so the JPEG blocks do not swamp the digit.
    for (let y = 0; y < 112; y++) {
      for (let x = 0; x < 112; x++) {
        const v = onPaper(k)[Math.floor(y / 4) * 28 + Math.floor(x / 4)];
        rgba.set([v, v, v, 255], (y * 112 + x) * 4);
      }
    }
    const bytes = new Uint8Array(jpeg.encode({ width: 112, height: 112, data: rgba }, 80).data);
    const out = await imageToDigit(bytes, 'image/jpeg');
    expect(meanAbsDiff(out, expected)).toBeLessThan(20);
    // Mislabelled as PNG: the bytes decide.
    expect(Array.from(await imageToDigit(bytes, 'image/png'))).toEqual(Array.from(out));
  });

  it("decodes baseline JPEG luma at 1/1–1/8 scale as jpeg-js's whole decode, box-averaged, would", async () => {
    const [w, h] = [203, 157]; // not multiples of 8 or 16: edge blocks are cropped
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      const [x, y] = [i % w, Math.floor(i / w)];
      rgba.set([(x * 3 + y) % 256, (y * 2 + 40) % 256, ((x * y) >> 5) % 256, 255], 4 * i);
    }
    expectLumaAsJpegJs(new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 85).data));
  });

  // libjpeg-turbo's cjpeg (test/fixtures/jpeg/README.md): jpeg-js writes no restart markers.
  for (const name of ['restart-rows-420', 'restart-blocks-422', 'restart-blocks-444', 'restart-gray']) {
    it(`decodes JPEGs with restart markers (${name}) as jpeg-js does`, () => {
      expectLumaAsJpegJs(fixture(name));
    });
  }

  it('decodes a progressive JPEG (the jpeg-js path) to the same digit as a baseline one with restart markers', async () => {
    const progressive = await imageToDigit(fixture('digit7-progressive'), 'image/jpeg');
    const baseline = await imageToDigit(fixture('digit7-restart'), 'image/jpeg');
    expect(meanAbsDiff(progressive, expected)).toBeLessThan(2);
    expect(meanAbsDiff(baseline, expected)).toBeLessThan(2);
  });

  it('applies EXIF orientation from phone JPEGs', async () => {
    // A wide bar (60×12) in a 80×40 frame, with orientation 6 (rotate 90° clockwise to display).
    const [w, h] = [80, 40];
    const rgba = new Uint8Array(w * h * 4).fill(255);
    for (let y = 14; y < 26; y++) for (let x = 10; x < 70; x++) rgba.fill(0, (y * w + x) * 4, (y * w + x) * 4 + 3);
    const plain = new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 90).data);
    const tiff = Uint8Array.of(
      0x4d,
      0x4d,
      0,
      42,
      0,
      0,
      0,
      8,
      0,
      1,
      0x01,
      0x12,
      0,
      3,
      0,
      0,
      0,
      1,
      0,
      6,
      0,
      0,
      0,
      0,
      0,
      0,
    );
    const exif = Uint8Array.of(...Buffer.from('Exif\0\0', 'latin1'), ...tiff);
    const app1 = Uint8Array.of(0xff, 0xe1, (exif.length + 2) >> 8, (exif.length + 2) & 0xff, ...exif);
    const rotated = Uint8Array.of(...plain.subarray(0, 2), ...app1, ...plain.subarray(2));
    expect(await decodeToGray(plain)).toMatchObject({ width: 80, height: 40 });
    expect(await decodeToGray(rotated)).toMatchObject({ width: 40, height: 80 });
    // And orient() itself: orientation 6 moves the top-left pixel to the top-right.
    const o = orient({ width: 2, height: 1, data: Uint8Array.of(1, 2) }, 6);
    expect(o).toMatchObject({ width: 1, height: 2 });
    expect(Array.from(o.data)).toEqual([1, 2]);
    expect(Array.from(orient({ width: 2, height: 1, data: Uint8Array.of(1, 2) }, 8).data)).toEqual([2, 1]);
  });
});

describe('bad input', () => {
  const png = encodePng({ width: 28, height: 28, data: onPaper(3), channels: 1, depth: 8 });

  it('refuses truncated PNG and JPEG files with 422 invalid_image', async () => {
    for (const cut of [20, 40, png.length - 20, png.length - 1]) {
      await expectApiError(() => imageToDigit(png.subarray(0, cut), 'image/png'), 422, 'invalid_image');
    }
    const rgba = new Uint8Array(64 * 64 * 4).fill(200);
    const jpg = new Uint8Array(jpeg.encode({ width: 64, height: 64, data: rgba }, 80).data);
    for (const cut of [10, 200, jpg.length - 50, jpg.length - 2]) {
      await expectApiError(() => imageToDigit(jpg.subarray(0, cut), 'image/jpeg'), 422, 'invalid_image');
    }
  });

  it('refuses a JPEG whose restart marker is missing with 422 invalid_image', async () => {
    const bytes = fixture('restart-rows-420');
    const scanStart = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xda);
    const marker = bytes.findIndex((b, i) => i > scanStart && b === 0xff && bytes[i + 1] === 0xd0);
    expect(marker).toBeGreaterThan(scanStart);
    const broken = bytes.slice();
    broken.set([0, 0], marker);
    await expectApiError(() => imageToDigit(broken, 'image/jpeg'), 422, 'invalid_image');
  });

  it('refuses corrupted image data (CRC) and garbage', async () => {
    const corrupt = png.slice();
    corrupt[png.length - 20] ^= 0xff; // inside IDAT
    await expectApiError(() => imageToDigit(corrupt, 'image/png'), 422, 'invalid_image');
    await expectApiError(
      () => imageToDigit(new TextEncoder().encode('hello, world'), 'image/png'),
      422,
      'invalid_image',
    );
    await expectApiError(() => imageToDigit(new Uint8Array(0), 'image/jpeg'), 422, 'invalid_image');
    await expectApiError(
      () => imageToDigit(Uint8Array.of(0x47, 0x49, 0x46, 0x38), 'image/gif'),
      415,
      'unsupported_media_type',
    );
  });

  it('refuses over-large dimensions from the header, before decoding', async () => {
    // A 100000×100000 PNG header with almost no data: decoding would need 10 G pixels.
    const huge = rawPng(100_000, 100_000, 8, 0, []);
    const started = performance.now();
    await expectApiError(() => imageToDigit(huge, 'image/png'), 413, 'image_too_large');
    expect(performance.now() - started).toBeLessThan(50);
    await expectApiError(() => imageToDigit(rawPng(4097, 1, 8, 0, []), 'image/png'), 413, 'image_too_large');
    await expectApiError(() => imageToDigit(rawPng(5000, 4000, 8, 0, []), 'image/png'), 413, 'image_too_large');
    // A JPEG whose SOF0 claims 8000×8000.
    const jpg = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256).fill(255) }, 80).data);
    const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
    jpg.set([8000 >> 8, 8000 & 0xff, 8000 >> 8, 8000 & 0xff], sof + 5);
    await expectApiError(() => imageToDigit(jpg, 'image/jpeg'), 413, 'image_too_large');
  });

  it('refuses pictures whose decoding would not fit the isolate, and decodes a 9 MP JPEG and a 16 M-pixel gray PNG', async () => {
    // Interlaced PNGs still decode whole (fast-png): RGBA at 16 M pixels is refused from the header.
    const interlaced = rawPng(4096, 4096, 8, 6, []);
    interlaced[28] = 1; // IHDR interlace method (the CRC is rewritten below)
    new DataView(interlaced.buffer).setUint32(29, crc32(interlaced.subarray(12, 29)));
    await expectApiError(() => imageToDigit(interlaced, 'image/png'), 413, 'image_too_large');
    // Non-interlaced PNGs stream (two rows in memory): the same header is decoded, and its
    // missing data found out.
    await expectApiError(() => imageToDigit(rawPng(4096, 4096, 8, 6, []), 'image/png'), 422, 'invalid_image');
    // A 9 MP baseline JPEG (jpeg-js alone would need ~180 MB): its luma plane is decoded at 1/8
    // scale (375×375) and reduced to 188×188, so it is served.
    const side = 3000;
    const rgba = new Uint8Array(side * side * 4).fill(230);
    for (let y = 1000; y < 2000; y++)
      for (let x = 1400; x < 1600; x++) rgba.fill(20, (y * side + x) * 4, (y * side + x) * 4 + 3);
    const big = new Uint8Array(jpeg.encode({ width: side, height: side, data: rgba }, 75).data);
    expect(await decodeToGray(big)).toMatchObject({ width: 188, height: 188 });
    expect(Math.max(...(await imageToDigit(big, 'image/jpeg')))).toBe(255);
    // 8-bit gray at the full 4096×4096 fits: decoded and normalised.
    const gray = new Uint8Array(4096 * 4096).fill(240);
    for (let y = 1000; y < 3000; y++) gray.fill(10, y * 4096 + 1900, y * 4096 + 2200);
    const digit = await imageToDigit(
      encodePng({ width: 4096, height: 4096, data: gray, channels: 1, depth: 8 }),
      'image/png',
    );
    expect(Math.max(...digit)).toBe(255);
  });

  it('refuses a PNG whose data inflates to more than its header says (a bomb) without inflating it all', async () => {
    // 64×64 gray claims 4,160 bytes of rows; the stream holds 64 MB of zeros.
    const bomb = rawPng(
      64,
      64,
      8,
      0,
      Array.from({ length: 64 * 1024 }, () => new Uint8Array(1023)),
    );
    await expectApiError(() => imageToDigit(bomb, 'image/png'), 422, 'invalid_image');
  });

  it('answers random corruption of PNG and JPEG files with a 4xx ApiError, never another error', async () => {
    const sources = [
      png,
      encodePng({
        width: 40,
        height: 30,
        data: new Uint8Array(40 * 30 * 4).map((_, i) => (i * 37) % 256),
        channels: 4,
        depth: 8,
      }),
      new Uint8Array(
        jpeg.encode({ width: 48, height: 40, data: new Uint8Array(48 * 40 * 4).map((_, i) => (i * 13) % 256) }, 80)
          .data,
      ),
    ];
    const random = seededRandom(7);
    for (let trial = 0; trial < 300; trial++) {
      const bytes = sources[trial % sources.length].slice();
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--)
        bytes[8 + Math.floor(random() * (bytes.length - 8))] = Math.floor(random() * 256);
      try {
        await imageToDigit(bytes);
      } catch (error) {
        expect(error, String(error)).toBeInstanceOf(ApiError);
        expect((error as ApiError).status).toBeGreaterThanOrEqual(400);
        expect((error as ApiError).status).toBeLessThan(500);
      }
    }
  });

  it('gives 422 no_ink for a blank page', async () => {
    const blank = encodePng({ width: 100, height: 100, data: new Uint8Array(10_000).fill(250), channels: 1, depth: 8 });
    await expectApiError(() => imageToDigit(blank, 'image/png'), 422, 'no_ink');
    const transparent = encodePng({ width: 50, height: 50, data: new Uint8Array(50 * 50 * 4), channels: 4, depth: 8 });
    await expectApiError(() => imageToDigit(transparent, 'image/png'), 422, 'no_ink');
  });
});

describe('parseDataUrl', () => {
  const png = encodePng({ width: 28, height: 28, data: onPaper(1), channels: 1, depth: 8 });
  const base64 = Buffer.from(png).toString('base64');

  it('reads PNG and JPEG data URLs and bare base64', async () => {
    expect(parseDataUrl(`data:image/png;base64,${base64}`)).toEqual({ bytes: png, mediaType: 'image/png' });
    expect(parseDataUrl(`data:image/jpeg;base64,${base64}`).mediaType).toBe('image/jpeg');
    expect(parseDataUrl(base64).bytes).toEqual(png);
    // Line-wrapped base64 and the URL-safe alphabet.
    expect(parseDataUrl(`data:image/png;base64,${base64.replace(/(.{76})/g, '$1\n')}`).bytes).toEqual(png);
    expect(parseDataUrl(base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')).bytes).toEqual(png);
  });

  it('refuses what is not base64', async () => {
    await expectApiError(() => parseDataUrl('data:image/png,%89PNG'), 422, 'invalid_image');
    await expectApiError(() => parseDataUrl('data:image/png;base64,@@@@'), 422, 'invalid_image');
  });
});
