// The fast picture paths give exactly what the whole-picture paths gave: PNG streamed through
// DecompressionStream and reduced row by row vs fast-png's whole decode + gray + reduceForWork,
// and the page's client-side reduction (public/reduce.js) vs the server reducing the canvas.
import { inflateSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { reduceCanvas, WORK_SIDE } from '../../public/reduce.js';
import { PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { MAX_WORK_SIDE, normalizeDigit, reduceForWork } from '../../src/shared/normalize.ts';
import { decodeToGray, imageToDigit, reduceFactor } from '../../src/worker/input/decode-image.ts';
import { decodePngReduced, parsePng } from '../../src/worker/input/png.ts';
import { renderCanvasRgba, renderPaperDigit } from '../support/client-images.ts';
import { filteredPng, unfilteredRgb } from '../support/filtered-png.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

const mnist = loadMnistTest();
const digit = (k: number) => mnist.images.subarray(k * PIXEL_COUNT, (k + 1) * PIXEL_COUNT);

describe('streamed PNG decoding', () => {
  it('equals the whole-picture decode (interlaced → fast-png) for every colour type, reduced or not', async () => {
    const [w, h] = [600, 300]; // reduced by 3 to 200×100
    const paper = Uint8Array.from({ length: w * h }, (_, i) => (Math.floor(i / w) * 7 + (i % w) * 3) % 256);
    const ink = Uint8Array.from({ length: w * h }, (_, i) => (i % w > 200 && i % w < 260 ? 230 : (i * 13) % 40));
    const cases = {
      gray: { data: paper, channels: 1 },
      grayAlpha: {
        data: Uint8Array.from({ length: 2 * w * h }, (_, i) => (i % 2 ? ink[i >> 1] : paper[i >> 1])),
        channels: 2,
      },
      rgb: {
        data: Uint8Array.from({ length: 3 * w * h }, (_, i) => (paper[Math.floor(i / 3)] + i) % 256),
        channels: 3,
      },
      rgba: {
        data: Uint8Array.from({ length: 4 * w * h }, (_, i) =>
          i % 4 === 3 ? ink[i >> 2] : (paper[i >> 2] * (1 + (i % 4))) % 256,
        ),
        channels: 4,
      },
      gray16: { data: Uint16Array.from(paper, (v, i) => v * 257 + (i % 200)), channels: 1, depth: 16 },
      palette: {
        data: paper.map((v) => v >> 2),
        channels: 1,
        palette: Array.from({ length: 64 }, (_, i) => [i * 4, 255 - i * 3, (i * 37) % 256, i < 8 ? i * 30 : 255]),
      },
    } as const;
    for (const [name, c] of Object.entries(cases)) {
      for (const [width, height, data] of [
        [w, h, c.data],
        [40, 30, c.data.subarray(0, 40 * 30 * (c.channels ?? 1))],
        // Reduced by 3 with a last column of 1 px and a last row of 2 px.
        [601, 299, c.data.subarray(0, 601 * 299 * (c.channels ?? 1))],
      ] as const) {
        const image = {
          width,
          height,
          data,
          channels: c.channels,
          depth: 'depth' in c ? c.depth : 8,
          ...('palette' in c ? { palette: c.palette.map((e) => [...e]) } : {}),
        };
        const streamed = await decodeToGray(encodePng(image as Parameters<typeof encodePng>[0]));
        const whole = await decodeToGray(encodePng(image as Parameters<typeof encodePng>[0], { interlace: 'Adam7' }));
        expect(streamed.width, name).toBe(Math.ceil(width / Math.ceil(Math.max(width, height) / MAX_WORK_SIDE)));
        expect({ name, ...streamed, data: Array.from(streamed.data) }).toEqual({
          name,
          ...whole,
          data: Array.from(whole.data),
        });
      }
    }
  });

  const rowFilters = (png: Uint8Array) => {
    const info = parsePng(png);
    const rows = inflateSync(Buffer.concat(info.idat));
    const rowBytes = rows.length / info.height;
    return new Set(Array.from({ length: info.height }, (_, y) => rows[y * rowBytes]));
  };

  const scanPixels = (k: number, width: number, height: number) =>
    unfilteredRgb(renderPaperDigit(digit(k), width, height, 'png')).rgb;

  it('unfilters every row filter (0–4, and adaptive as libpng writes) to the same picture', async () => {
    const [width, height] = [333, 250]; // reduced by 2
    const rgb = scanPixels(3, width, height);
    const gray = rgb.map((_, i) => rgb[i - (i % 3)]);
    for (const [colorType, pixels, channels] of [
      [2, rgb, 3],
      [0, gray, 1],
    ] as const) {
      const unfiltered = await decodeToGray(
        encodePng({ width, height, data: channels === 3 ? pixels : pixels.filter((_, i) => i % 3 === 0), channels }),
      );
      for (const filterType of [-1, 0, 1, 2, 3, 4]) {
        const png = filteredPng(pixels, width, height, { colorType, filterType });
        const filters = rowFilters(png);
        expect(filterType === -1 ? filters.size > 2 : filters.has(filterType), `filter ${filterType}`).toBe(true);
        const decoded = await decodeToGray(png);
        expect(Array.from(decoded.data), `colour type ${colorType}, filter ${filterType}`).toEqual(
          Array.from(unfiltered.data),
        );
      }
    }
  });

  it('puts rows split between inflated chunks of any size together', async () => {
    const [width, height] = [301, 227];
    const png = filteredPng(scanPixels(4, width, height), width, height);
    const info = parsePng(png);
    const rows = Uint8Array.from(inflateSync(Buffer.concat(info.idat)));
    const factor = reduceFactor(width, height, 100);
    const whole = await decodePngReduced(info, factor, [rows.slice()]);
    expect(whole).toEqual(await decodeToGray(png, 'image/png', 100));
    for (const size of [1, 7, 3 * width, 3 * width + 1, 3 * width + 2, 4096, 65536]) {
      const copy = rows.slice(); // rows are unfiltered in place
      const chunks = Array.from({ length: Math.ceil(copy.length / size) }, (_, i) =>
        copy.subarray(i * size, (i + 1) * size),
      );
      const decoded = await decodePngReduced(info, factor, chunks);
      expect(Array.from(decoded.data), `chunks of ${size}`).toEqual(Array.from(whole.data));
    }
  });

  it('reduces a big scan to the working size exactly as reduceForWork does', async () => {
    const bytes = renderPaperDigit(digit(5), 1200, 900, 'png');
    const reduced = await decodeToGray(bytes);
    expect([reduced.width, reduced.height]).toEqual([240, 180]);
    const full = await decodeToGray(bytes, 'image/png', Infinity);
    expect([full.width, full.height]).toEqual([1200, 900]);
    expect(Array.from(reduced.data)).toEqual(Array.from(reduceForWork(full).data));
  });
});

describe("the page's reduced drawing", () => {
  it('is what the server makes of the full canvas: the same gray picture and the same 784 pixels', async () => {
    expect(WORK_SIDE).toBe(MAX_WORK_SIDE);
    let total = 0;
    for (let k = 0; k < 40; k++) {
      const rgba = renderCanvasRgba(digit(k), 150 + ((k * 37) % 110), 280, (k * 11) % 60, (k * 17) % 60);
      const big = encodePng({ width: 280, height: 280, data: rgba, channels: 4, depth: 8 });
      const small = reduceCanvas(rgba, 280, 280);
      expect([small.width, small.height]).toEqual([140, 140]);
      const server = await decodeToGray(big);
      expect(Array.from(small.gray)).toEqual(Array.from(server.data));
      const posted = encodePng({ width: small.width, height: small.height, data: small.rgba, channels: 4, depth: 8 });
      const fromSmall = await imageToDigit(posted, 'image/png');
      expect(Array.from(fromSmall)).toEqual(Array.from(await imageToDigit(big, 'image/png')));
      // Against the full-resolution normalisation (the server before pictures were reduced to 256 px).
      const fullRes = normalizeDigit(await decodeToGray(big, 'image/png', Infinity), { maxWorkSide: Infinity });
      for (let i = 0; i < PIXEL_COUNT; i++) total += Math.abs(fullRes[i] - fromSmall[i]);
    }
    const meanDiff = total / (40 * PIXEL_COUNT);
    console.log(`page drawings: mean |Δ| ${meanDiff.toFixed(2)} of 255 vs the full-resolution normalisation`);
    expect(meanDiff).toBeLessThan(6);
  });
});
