// The evaluation pictures: the confusion matrix with its counts, and a grid of misclassified digits.
import { type DigitSet, IMAGE_SIZE, NUM_CLASSES, PIXEL_COUNT } from '../../shared/model-spec.ts';
import type { Metrics } from './metrics.ts';
import { escapeXml, renderPng } from './pictures.ts';

const svg = (width: number, height: number, body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans">` +
  `<rect width="100%" height="100%" fill="white"/>${body}</svg>`;

const percent = (v: number, digits = 1) => `${(v * 100).toFixed(digits)}%`;

/** Rows are the true digit, columns the prediction; recall on the right, precision below. */
export function confusionPng(metrics: Metrics, title: string): Uint8Array {
  const cell = 52;
  const [left, top] = [92, 92];
  const grid = cell * NUM_CLASSES;
  const parts: string[] = [
    `<text x="${left + grid / 2 + 40}" y="26" text-anchor="middle" font-size="17">${escapeXml(title)}</text>`,
    `<text x="${left + grid / 2}" y="${top - 34}" text-anchor="middle" font-size="14">predicted digit</text>`,
    `<text transform="translate(${left - 58},${top + grid / 2}) rotate(-90)" text-anchor="middle" font-size="14">true digit</text>`,
    `<text x="${left + grid + 38}" y="${top - 12}" text-anchor="middle" font-size="12">recall</text>`,
    `<text x="${left - 32}" y="${top + grid + 22}" text-anchor="middle" font-size="12">precision</text>`,
  ];
  const maxOff = Math.max(1, ...metrics.confusion.flatMap((row, t) => row.filter((_, p) => p !== t)));
  for (let d = 0; d < NUM_CLASSES; d++) {
    parts.push(
      `<text x="${left + d * cell + cell / 2}" y="${top - 10}" text-anchor="middle" font-size="15" font-weight="bold">${d}</text>`,
    );
    parts.push(
      `<text x="${left - 12}" y="${top + d * cell + cell / 2 + 5}" text-anchor="end" font-size="15" font-weight="bold">${d}</text>`,
    );
  }
  metrics.confusion.forEach((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    row.forEach((n, p) => {
      const [x, y] = [left + p * cell, top + t * cell];
      let fill = '#ffffff';
      let ink = '#999999';
      if (t === p) {
        // Correct predictions: green, darker with the share of the row.
        const share = support ? n / support : 0;
        fill = `hsl(140, 45%, ${Math.round(88 - share * 50)}%)`;
        ink = '#ffffff';
      } else if (n > 0) {
        // Errors: red, on a log scale so single mistakes still show.
        const strength = Math.log1p(n) / Math.log1p(maxOff);
        fill = `hsl(5, 75%, ${Math.round(92 - strength * 40)}%)`;
        ink = '#000000';
      }
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#bbbbbb"/>`);
      const size = n >= 1000 ? 13 : 15;
      parts.push(
        `<text x="${x + cell / 2}" y="${y + cell / 2 + 5}" text-anchor="middle" font-size="${size}" fill="${ink}">${n}</text>`,
      );
    });
    parts.push(
      `<text x="${left + grid + 38}" y="${top + t * cell + cell / 2 + 5}" text-anchor="middle" font-size="12">${percent(metrics.perClass[t].recall)}</text>`,
    );
  });
  metrics.perClass.forEach((c, p) => {
    parts.push(
      `<text x="${left + p * cell + cell / 2}" y="${top + grid + 22}" text-anchor="middle" font-size="12">${percent(c.precision)}</text>`,
    );
  });
  parts.push(`<rect x="${left}" y="${top}" width="${grid}" height="${grid}" fill="none" stroke="#444444"/>`);
  return renderPng(svg(left + grid + 84, top + grid + 42, parts.join('')));
}

/** Misclassified test digits, most confident first, each captioned "true → predicted (confidence)". */
export function mistakesPng(metrics: Metrics, set: DigitSet, title: string, limit = 60): Uint8Array {
  const shown = metrics.mistakes.slice(0, limit);
  const columns = 10;
  const scale = 3;
  const digit = IMAGE_SIZE * scale;
  const [cellW, cellH] = [digit + 24, digit + 44];
  const top = 46;
  const rows = Math.max(1, Math.ceil(shown.length / columns));
  const width = columns * cellW + 16;
  const parts: string[] = [
    `<text x="${width / 2}" y="28" text-anchor="middle" font-size="17">${escapeXml(title)}</text>`,
  ];
  if (shown.length === 0)
    parts.push(`<text x="${width / 2}" y="${top + 40}" text-anchor="middle" font-size="15">no mistakes</text>`);
  shown.forEach((m, k) => {
    const x0 = 8 + (k % columns) * cellW + 12;
    const y0 = top + Math.floor(k / columns) * cellH;
    const pixels = set.images.subarray(m.index * PIXEL_COUNT, (m.index + 1) * PIXEL_COUNT);
    parts.push(`<rect x="${x0}" y="${y0}" width="${digit}" height="${digit}" fill="white" stroke="#888888"/>`);
    for (let i = 0; i < PIXEL_COUNT; i++) {
      const v = 255 - pixels[i]; // dark ink on white, as the other pictures
      if (v === 255) continue;
      const x = x0 + (i % IMAGE_SIZE) * scale;
      const y = y0 + Math.floor(i / IMAGE_SIZE) * scale;
      parts.push(
        `<rect x="${x}" y="${y}" width="${scale + 0.05}" height="${scale + 0.05}" fill="rgb(${v},${v},${v})"/>`,
      );
    }
    parts.push(
      `<text x="${x0 + digit / 2}" y="${y0 + digit + 17}" text-anchor="middle" font-size="14">` +
        `${m.label} → <tspan fill="#c0392b" font-weight="bold">${m.predicted}</tspan></text>`,
      `<text x="${x0 + digit / 2}" y="${y0 + digit + 33}" text-anchor="middle" font-size="11" fill="#555555">${percent(m.confidence)} · #${m.index}</text>`,
    );
  });
  return renderPng(svg(width, top + rows * cellH + 8, parts.join('')));
}
