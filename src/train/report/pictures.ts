// The Keras recipe's two figures, as PNG: a 3×3 grid of sample digits and the learning curves.
import { Resvg } from '@resvg/resvg-js';
import { IMAGE_SIZE, PIXEL_COUNT } from '../../shared/model-spec.ts';
import type { DigitSet } from '../data/mnist.ts';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
}

/** SVG → PNG with the system fonts (DejaVu Sans); shared by every picture the tools write. */
export function renderPng(svg: string): Uint8Array {
  const resvg = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return resvg.render().asPng();
}

export const escapeXml = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

/** The first nine training digits in a 3×3 grid, each titled with its label. */
export function sampleGridPng(set: DigitSet, count = 9): Uint8Array {
  return digitGridPng(set, { count, columns: 3, cell: 112, title: (k) => `Class ${set.labels[k]}` });
}

export interface GridOptions {
  /** Digits to draw, from the first (default: all). */
  count?: number;
  columns: number;
  /** Side of one digit in pixels. */
  cell: number;
  title: (index: number) => string;
}

/** Digits dark on white in a grid, each under its title (the Keras recipe's gray_r figures). */
export function digitGridPng(set: DigitSet, options: GridOptions): Uint8Array {
  const { columns, cell } = options;
  const count = Math.min(options.count ?? set.count, set.count);
  const scale = cell / IMAGE_SIZE;
  const fontSize = Math.max(9, Math.min(15, Math.round(cell / 7)));
  const title = fontSize + 7;
  const gap = Math.max(6, Math.round(cell / 7));
  const rows = Math.max(1, Math.ceil(count / columns));
  const parts: string[] = [];
  for (let k = 0; k < count; k++) {
    const x0 = (k % columns) * (cell + gap) + gap / 2;
    const y0 = Math.floor(k / columns) * (cell + title + gap) + 8;
    parts.push(
      `<text x="${x0 + cell / 2}" y="${y0 + fontSize + 1}" text-anchor="middle" font-size="${fontSize}">${escapeXml(options.title(k))}</text>`,
    );
    const pixels = set.images.subarray(k * PIXEL_COUNT, (k + 1) * PIXEL_COUNT);
    for (let i = 0; i < PIXEL_COUNT; i++) {
      const v = 255 - pixels[i]; // the Keras recipe shows digits dark on white (gray_r)
      if (v === 255) continue;
      const x = x0 + (i % IMAGE_SIZE) * scale;
      const y = y0 + title + Math.floor(i / IMAGE_SIZE) * scale;
      parts.push(
        `<rect x="${x}" y="${y}" width="${scale + 0.05}" height="${scale + 0.05}" fill="rgb(${v},${v},${v})"/>`,
      );
    }
    parts.push(`<rect x="${x0}" y="${y0 + title}" width="${cell}" height="${cell}" fill="none" stroke="#888"/>`);
  }
  const width = columns * (cell + gap);
  const height = rows * (cell + title + gap) + 8;
  return renderPng(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans">` +
      `<rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`,
  );
}

interface Series {
  label: string;
  color: string;
  values: number[];
}

function chart(x0: number, title: string, yLabel: string, series: Series[], epochs: number): string {
  const [w, h, left, top] = [380, 260, 56, 52];
  const all = series.flatMap((s) => s.values);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.08;
  [lo, hi] = [lo - pad, hi + pad];
  const px = (e: number) => x0 + left + (epochs <= 1 ? w / 2 : ((e - 1) / (epochs - 1)) * w);
  const py = (v: number) => top + h - ((v - lo) / (hi - lo)) * h;
  const out: string[] = [
    `<text x="${x0 + left + w / 2}" y="20" text-anchor="middle" font-size="16">${escapeXml(title)}</text>`,
    `<rect x="${x0 + left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#444"/>`,
    `<text x="${x0 + left + w / 2}" y="${top + h + 40}" text-anchor="middle" font-size="13">epoch</text>`,
    `<text transform="translate(${x0 + 14},${top + h / 2}) rotate(-90)" text-anchor="middle" font-size="13">${yLabel}</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    out.push(`<line x1="${x0 + left}" x2="${x0 + left + w}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + left - 4}" y="${py(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(3)}</text>`);
  }
  for (let e = 1; e <= epochs; e++) {
    out.push(`<text x="${px(e)}" y="${top + h + 16}" text-anchor="middle" font-size="10">${e}</text>`);
  }
  series.forEach((s, k) => {
    const points = s.values.map((v, i) => `${px(i + 1)},${py(v)}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [i, v] of s.values.entries())
      out.push(`<circle cx="${px(i + 1)}" cy="${py(v)}" r="3" fill="${s.color}"/>`);
    // The legend sits above the plot, where no curve can hide it.
    const lx = x0 + left + w / 2 - 70 + k * 80;
    out.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="${top - 12}" y2="${top - 12}" stroke="${s.color}" stroke-width="2"/>`,
    );
    out.push(`<text x="${lx + 26}" y="${top - 8}" font-size="12">${s.label}</text>`);
  });
  return out.join('');
}

/** Accuracy and loss per epoch, train vs test, side by side like the Keras recipe's two plots. */
export function learningCurvesPng(history: EpochRecord[]): Uint8Array {
  const epochs = history.length;
  const accuracy = chart(
    0,
    'Model accuracy',
    'accuracy',
    [
      { label: 'train', color: '#1f77b4', values: history.map((h) => h.accuracy) },
      { label: 'test', color: '#ff7f0e', values: history.map((h) => h.testAccuracy) },
    ],
    epochs,
  );
  const loss = chart(
    460,
    'Model loss',
    'loss',
    [
      { label: 'train', color: '#1f77b4', values: history.map((h) => h.loss) },
      { label: 'test', color: '#ff7f0e', values: history.map((h) => h.testLoss) },
    ],
    epochs,
  );
  return renderPng(
    `<svg xmlns="http://www.w3.org/2000/svg" width="920" height="366" font-family="DejaVu Sans">` +
      `<rect width="100%" height="100%" fill="white"/>${accuracy}${loss}</svg>`,
  );
}
