/// <reference lib="dom" />
// "Wrong? It's a _" on the draw-a-digit page in headless Chromium: shown after a prediction where
// the Worker collects feedback (the `feedback` environment), absent where it does not; a click
// posts the drawing exactly as /classify received it, with the chosen label, and thanks the user.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { haveChromium, launchChromium } from '../support/chromium.ts';

/** UPDATE_SCREENSHOTS=1 refreshes the README's docs/page-feedback.png; otherwise it goes to a temp dir. */
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS ? 'docs' : join(tmpdir(), 'mnist-edge-screenshots');

/** A 1: one stroke, in unit coordinates of the canvas. */
const ONE: Array<[number, number]> = [
  [0.52, 0.15],
  [0.5, 0.5],
  [0.49, 0.85],
];

async function draw(page: Page, stroke: Array<[number, number]>) {
  const box = await page.getByTestId('canvas').boundingBox();
  if (!box) throw new Error('canvas not visible');
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.mouse.move(...at(stroke[0]));
  await page.mouse.down();
  for (const point of stroke.slice(1)) await page.mouse.move(...at(point), { steps: 8 });
  await page.mouse.up();
}

describe.skipIf(!haveChromium)('"Wrong? It\'s a _" on the page', () => {
  let browser: Browser;
  const pageErrors: string[] = [];

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    const origin = new URL(url).origin;
    await page.route('**/*', (route) =>
      route.request().url().startsWith(origin) || route.request().url().startsWith('data:')
        ? route.continue()
        : route.abort(),
    );
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url);
    return page;
  }

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    expect(pageErrors).toEqual([]);
  });

  it('stores a correction of the drawing the model read, and thanks the user', async () => {
    const { url } = inject('feedbackWorker');
    const page = await open(url);
    await page.locator('body[data-feedback="on"]').waitFor();
    await expect.poll(() => page.getByTestId('feedback').isVisible()).toBe(false); // nothing predicted yet

    const classified = page.waitForResponse((r) => r.url().endsWith('/classify') && r.request().method() === 'POST');
    await draw(page, ONE);
    const classifyRequest = (await classified).request();
    await page.locator('body[data-state="idle"]').waitFor();
    const predicted = Number(await page.getByTestId('prediction').textContent());
    await expect.poll(() => page.getByTestId('feedback').isVisible()).toBe(true);

    const before = (await (await fetch(new URL('/feedback/stats', url))).json()) as {
      labels: { count: number; wrong: number }[];
    };
    const label = predicted === 7 ? 4 : 7;
    const stored = page.waitForResponse((r) => r.url().endsWith('/feedback') && r.request().method() === 'POST');
    await page.getByTestId(`feedback-${label}`).click();
    const response = await stored;
    expect(response.status()).toBe(201);
    const sent = JSON.parse(response.request().postData()!) as {
      image: string;
      label: number;
      predicted: number;
      model: string;
    };
    expect(sent.label).toBe(label);
    expect(sent.predicted).toBe(predicted);
    expect(sent.model).toMatch(/^[0-9a-f]{16}$/);
    // The very picture /classify received, as a data URL.
    expect(sent.image.startsWith('data:image/png;base64,')).toBe(true);
    expect(Buffer.from(sent.image.split(',')[1], 'base64').equals(classifyRequest.postDataBuffer()!)).toBe(true);
    await expect.poll(() => page.getByTestId('feedback-status').textContent()).toBe(`Thanks! Saved as a ${label}.`);
    expect(await page.getByTestId(`feedback-${label}`).isDisabled()).toBe(true);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.waitForTimeout(300); // let the bars finish their transition
    await page.screenshot({ path: join(SCREENSHOTS, 'page-feedback.png') });

    const after = (await (await fetch(new URL('/feedback/stats', url))).json()) as typeof before;
    expect(after.labels[label].count).toBe(before.labels[label].count + 1);
    expect(after.labels[label].wrong).toBe(before.labels[label].wrong + 1);

    // Clear hides the control until the next prediction.
    await page.getByTestId('clear').click();
    expect(await page.getByTestId('feedback').isVisible()).toBe(false);
    await page.close();
  });

  it('is not offered where the Worker does not collect feedback', async () => {
    const page = await open(inject('workerUrls').default);
    await page.locator('body[data-feedback="off"]').waitFor();
    await draw(page, ONE);
    await page.locator('body[data-state="idle"]').waitFor();
    expect(await page.getByTestId('prediction').textContent()).toBe('1');
    expect(await page.getByTestId('feedback').isVisible()).toBe(false);
    await page.close();
  });
});
