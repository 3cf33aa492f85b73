/// <reference lib="dom" />
// Strokes for the page tests in Chromium (test/e2e/page*.test.ts): the ten digits drawn the way a
// person would, in unit coordinates of the canvas (or of one digit's slot on a wide canvas), with
// the mouse or with a finger (touch events, as a phone's screen sends them).
import type { Page } from 'playwright-core';

/** Strokes in unit coordinates (0–1 of the canvas), one polyline per stroke. */
export type Stroke = Array<[number, number]>;
export const DIGITS: Record<number, Stroke[]> = {
  1: [
    [
      [0.52, 0.15],
      [0.5, 0.5],
      [0.49, 0.85],
    ],
  ],
  0: [
    [
      [0.5, 0.14],
      [0.33, 0.22],
      [0.27, 0.5],
      [0.33, 0.78],
      [0.5, 0.86],
      [0.67, 0.78],
      [0.73, 0.5],
      [0.67, 0.22],
      [0.5, 0.14],
    ],
  ],
  7: [
    [
      [0.27, 0.18],
      [0.73, 0.18],
      [0.55, 0.5],
      [0.43, 0.85],
    ],
  ],
  4: [
    [
      [0.55, 0.15],
      [0.27, 0.6],
      [0.75, 0.6],
    ],
    [
      [0.6, 0.35],
      [0.6, 0.87],
    ],
  ],
  2: [
    [
      [0.3, 0.3],
      [0.38, 0.18],
      [0.5, 0.14],
      [0.62, 0.18],
      [0.68, 0.3],
      [0.64, 0.45],
      [0.5, 0.6],
      [0.3, 0.85],
      [0.72, 0.85],
    ],
  ],
  3: [
    [
      [0.3, 0.2],
      [0.45, 0.14],
      [0.62, 0.18],
      [0.68, 0.3],
      [0.6, 0.44],
      [0.46, 0.5],
      [0.6, 0.55],
      [0.7, 0.68],
      [0.64, 0.82],
      [0.48, 0.87],
      [0.3, 0.8],
    ],
  ],
  5: [
    [
      [0.68, 0.15],
      [0.36, 0.15],
      [0.33, 0.47],
      [0.5, 0.42],
      [0.66, 0.5],
      [0.7, 0.66],
      [0.62, 0.82],
      [0.46, 0.87],
      [0.3, 0.8],
    ],
  ],
  6: [
    [
      [0.62, 0.14],
      [0.45, 0.3],
      [0.34, 0.5],
      [0.32, 0.68],
      [0.4, 0.83],
      [0.52, 0.87],
      [0.64, 0.8],
      [0.68, 0.66],
      [0.6, 0.54],
      [0.48, 0.52],
      [0.36, 0.6],
    ],
  ],
  8: [
    [
      [0.62, 0.2],
      [0.5, 0.14],
      [0.37, 0.2],
      [0.37, 0.33],
      [0.5, 0.45],
      [0.65, 0.58],
      [0.67, 0.75],
      [0.53, 0.86],
      [0.38, 0.8],
      [0.34, 0.66],
      [0.47, 0.5],
      [0.6, 0.38],
      [0.63, 0.25],
      [0.55, 0.15],
    ],
  ],
  9: [
    [
      [0.64, 0.3],
      [0.56, 0.16],
      [0.44, 0.15],
      [0.34, 0.24],
      [0.34, 0.38],
      [0.44, 0.46],
      [0.58, 0.42],
      [0.64, 0.3],
      [0.63, 0.55],
      [0.6, 0.86],
    ],
  ],
};

/**
 * Pointer moves per segment of a stroke: each is a round trip to the browser, and the pen joins
 * successive points with straight lines, so more moves draw the same digit, only slower.
 */
const MOVE_STEPS = 2;

/**
 * Draws `strokes` with the mouse on the canvas `testId`, in its columns `slot` (fractions of its
 * width: a number's digits each get their own slot on the wide canvas).
 */
export async function draw(page: Page, strokes: Stroke[], testId = 'canvas', slot: [number, number] = [0, 1]) {
  const box = await page.getByTestId(testId).boundingBox();
  if (!box) throw new Error(`${testId} not visible`);
  const left = box.x + slot[0] * box.width;
  const width = (slot[1] - slot[0]) * box.width;
  for (const stroke of strokes) {
    const at = ([x, y]: [number, number]) => [left + x * width, box.y + y * box.height] as const;
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (let i = 1; i < stroke.length; i++) await page.mouse.move(...at(stroke[i]), { steps: MOVE_STEPS });
    await page.mouse.up();
  }
}

/**
 * Draws `strokes` with a finger on the canvas `testId` of a page opened with `hasTouch`: touch
 * events through Chromium's DevTools protocol, which the page receives as pointer events of type
 * "touch", as from a phone's screen.
 */
export async function drawByTouch(page: Page, strokes: Stroke[], testId = 'canvas') {
  const box = await page.getByTestId(testId).boundingBox();
  if (!box) throw new Error(`${testId} not visible`);
  const cdp = await page.context().newCDPSession(page);
  const touch = (type: 'touchStart' | 'touchMove' | 'touchEnd', [x, y]: [number, number] = [0, 0]) =>
    cdp.send('Input.dispatchTouchEvent', {
      type,
      touchPoints: type === 'touchEnd' ? [] : [{ x: box.x + x * box.width, y: box.y + y * box.height }],
    });
  for (const stroke of strokes) {
    await touch('touchStart', stroke[0]);
    for (let i = 1; i < stroke.length; i++) {
      const [[x0, y0], [x1, y1]] = [stroke[i - 1], stroke[i]];
      for (let k = 1; k <= MOVE_STEPS; k++) {
        await touch('touchMove', [x0 + ((x1 - x0) * k) / MOVE_STEPS, y0 + ((y1 - y0) * k) / MOVE_STEPS]);
      }
    }
    await touch('touchEnd');
  }
  await cdp.detach();
}
