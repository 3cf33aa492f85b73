// The page posts its drawing reduced on the client (public/reduce.js): the server must answer it
// exactly as it answers the full 280×280 canvas PNG, and as its full-resolution normalisation did.
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { reduceCanvas } from '../../public/reduce.js';
import { PIXEL_COUNT } from '../../src/shared/model-spec';
import { normalizeDigit } from '../../src/shared/normalize';
import { decodeToGray } from '../../src/worker/input/decode-image';
import { renderCanvasRgba } from '../support/client-images';
import { mnist, postJson, request } from './helpers';

interface Answer {
  digit: number;
  probabilities: number[];
}
const postPng = async (bytes: Uint8Array) =>
  (await (
    await request('/classify', { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes })
  ).json()) as Answer;

describe("the page's request", () => {
  it('gets the answer the full canvas gets, on MNIST test digits drawn on the canvas', async () => {
    const { pixels, labels } = mnist();
    const total = 40;
    let sameAsFullResolution = 0;
    let right = 0;
    for (let i = 0; i < total; i++) {
      const rgba = renderCanvasRgba(
        Uint8Array.from(pixels(i)),
        150 + ((i * 37) % 110),
        280,
        (i * 11) % 60,
        (i * 17) % 60,
      );
      const canvasPng = encodePng({ width: 280, height: 280, data: rgba, channels: 4, depth: 8 });
      const reduced = reduceCanvas(rgba, 280, 280);
      const smallPng = encodePng({
        width: reduced.width,
        height: reduced.height,
        data: reduced.rgba,
        channels: 4,
        depth: 8,
      });
      expect(smallPng.length).toBeLessThan(canvasPng.length);
      const [big, small] = [await postPng(canvasPng), await postPng(smallPng)];
      expect(small).toEqual(big);
      // The server before pictures were reduced to the working size: normalised at 280×280.
      const fullResolution = normalizeDigit(await decodeToGray(canvasPng, 'image/png', Infinity), {
        maxWorkSide: Infinity,
      });
      expect(fullResolution).toHaveLength(PIXEL_COUNT);
      const before = (await (await postJson({ pixels: Array.from(fullResolution) })).json()) as Answer;
      if (before.digit === small.digit) sameAsFullResolution++;
      if (small.digit === labels[i]) right++;
    }
    console.log(
      `page requests: ${sameAsFullResolution}/${total} answers as at full resolution, ${right}/${total} right`,
    );
    expect(sameAsFullResolution).toBeGreaterThanOrEqual(total - 1);
    expect(right / total).toBeGreaterThanOrEqual(0.95);
  });
});
