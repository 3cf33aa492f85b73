import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { haveChromium, launchChromium } from '../support/chromium.ts';
import { KEYED } from './global-setup.ts';

describe.skipIf(!haveChromium)('draw-a-digit page with an API key', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    page.on('pageerror', (error) => problems.push(error.message));
    // CSP violations are reported on the console.
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
    });
    await page.goto(inject('keyedUrl'));
  });

  afterAll(async () => {
    await browser?.close();
    expect(problems).toEqual([]);
  });

  it('asks for a key after a 401, then reads the drawing with it', async () => {
    expect(await page.getByTestId('key-form').isHidden()).toBe(true);
    const box = (await page.getByTestId('canvas').boundingBox())!;
    const refused = page.waitForResponse((r) => r.url().endsWith('/classify'));
    await page.mouse.move(box.x + 0.52 * box.width, box.y + 0.15 * box.height);
    await page.mouse.down();
    await page.mouse.move(box.x + 0.5 * box.width, box.y + 0.5 * box.height, { steps: 8 });
    await page.mouse.move(box.x + 0.49 * box.width, box.y + 0.85 * box.height, { steps: 8 });
    await page.mouse.up();
    expect((await refused).status()).toBe(401);
    await page.getByTestId('key-form').waitFor({ state: 'visible' });
    expect(await page.getByTestId('prediction').textContent()).toBe('?');

    const answered = page.waitForResponse((r) => r.url().endsWith('/classify'));
    await page.getByTestId('api-key').fill(KEYED.keys[0]);
    await page.getByTestId('use-key').click();
    const response = await answered;
    expect(response.request().headers().authorization).toBe(`Bearer ${KEYED.keys[0]}`);
    expect(response.status()).toBe(200);
    await page.locator('body[data-state="idle"]').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('prediction').textContent()).toBe('1');
    expect(await page.getByTestId('key-form').isHidden()).toBe(true);
  });
});
