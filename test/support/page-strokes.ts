/// <reference lib="dom" />
// Mouse strokes for the page tests in Chromium (test/e2e/page*.test.ts): digits drawn the way a
// person would, in unit coordinates of the canvas (or of one digit's slot on a wide canvas).
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
};

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
    for (let i = 1; i < stroke.length; i++) await page.mouse.move(...at(stroke[i]), { steps: 8 });
    await page.mouse.up();
  }
}
