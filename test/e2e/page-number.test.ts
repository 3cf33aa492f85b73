/// <reference lib="dom" />
// The page's "A number" mode in headless Chromium: a number written with the mouse on the wide
// canvas, one digit per slot, goes to POST /read; the page shows the number and one box per digit
// over the canvas, left to right.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { haveChromium, launchChromium } from '../support/chromium.ts';
import { DIGITS, draw } from '../support/page-strokes.ts';

/** UPDATE_SCREENSHOTS=1 writes docs/page-number.png; otherwise it goes to a temp dir. */
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS ? 'docs' : join(tmpdir(), 'mnist-edge-screenshots');

describe.skipIf(!haveChromium)('the page in "A number" mode', () => {
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    await page.goto(inject('workerUrls').default);
    await page.getByTestId('mode-number').click();
  });

  afterAll(async () => {
    await browser?.close();
    expect(pageErrors).toEqual([]);
  });

  it('switches to a wide canvas and back', async () => {
    expect(await page.getByTestId('canvas').isVisible()).toBe(false);
    const box = await page.getByTestId('number-canvas').boundingBox();
    expect(box!.width / box!.height).toBeCloseTo(3, 1);
    expect(await page.getByTestId('number').textContent()).toBe('?');
    await page.getByTestId('mode-digit').click();
    expect(await page.getByTestId('canvas').isVisible()).toBe(true);
    expect(await page.getByTestId('number-canvas').isVisible()).toBe(false);
    await page.getByTestId('mode-number').click();
  });

  it('reads "1074" written digit by digit, with a box around each digit', async () => {
    const digits = [1, 0, 7, 4];
    const slots = digits.map((_, k) => [k / digits.length, (k + 1) / digits.length] as [number, number]);
    for (const [k, digit] of digits.entries()) await draw(page, DIGITS[digit], 'number-canvas', slots[k]);
    await page.locator('body[data-state="idle"]').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('number').textContent()).toBe('1074');
    const boxes = page.getByTestId('digit-box');
    expect(await boxes.count()).toBe(4);
    const canvas = (await page.getByTestId('number-canvas').boundingBox())!;
    for (const [k, digit] of digits.entries()) {
      const box = boxes.nth(k);
      expect(await box.getAttribute('data-digit')).toBe(String(digit));
      expect(await box.textContent()).toBe(String(digit));
      // Each box sits over its digit's slot.
      const b = (await box.boundingBox())!;
      const centre = (b.x + b.width / 2 - canvas.x) / canvas.width;
      expect(centre).toBeGreaterThan(slots[k][0]);
      expect(centre).toBeLessThan(slots[k][1]);
      expect(b.height).toBeGreaterThan(canvas.height / 2);
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'page-number.png') });
    await page.getByTestId('number-clear').click();
    expect(await page.getByTestId('number').textContent()).toBe('?');
    expect(await page.getByTestId('digit-box').count()).toBe(0);
  });
});
