// Accuracy on real-client pictures through the HTTP API: MNIST *test* digits re-rendered as
// scans, canvas exports, JPEGs, small off-centre digits and marker strokes, POSTed to the real
// Worker (workerd) as raw bodies, multipart uploads and JSON data URLs in turn; then the PNGs once
// more to the Worker without nodejs_compat, which inflates them through a DecompressionStream
// instead of the runtime's zlib: the same answers, to the last bit.
import { describe, expect, inject, it } from 'vitest';
import { CLIENT_KINDS, type ClientImage, generateClientImages } from '../support/client-images.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

/** 100 pictures of each kind. */
const COUNT = Number(process.env.CLIENT_IMAGES ?? 500);
const TARGET_ACCURACY = 0.98;
const FORMS = ['raw', 'multipart', 'json'] as const;
type Form = (typeof FORMS)[number];

function requestFor(image: ClientImage, form: Form): RequestInit {
  switch (form) {
    case 'raw':
      return { method: 'POST', headers: { 'content-type': image.mediaType }, body: new Uint8Array(image.bytes) };
    case 'multipart': {
      const body = new FormData();
      body.set(
        'image',
        new Blob([new Uint8Array(image.bytes)], { type: image.mediaType }),
        image.mediaType === 'image/png' ? 'digit.png' : 'digit.jpg',
      );
      return { method: 'POST', body };
    }
    case 'json':
      return {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          image: `data:${image.mediaType};base64,${Buffer.from(image.bytes).toString('base64')}`,
        }),
      };
  }
}

interface Answer {
  digit: number;
  probabilities: number[];
}

describe('real-client images through POST /classify', () => {
  const images = generateClientImages(loadMnistTest(), COUNT, 4);
  /** The default Worker's answer to each picture, by index into `images`. */
  const answers = new Map<number, Answer>();

  it(`classifies ≥ ${TARGET_ACCURACY * 100}% of ${COUNT} client-style pictures correctly`, async () => {
    const url = new URL('/classify', inject('workerUrls').default);
    const results: Array<{ image: ClientImage; form: Form; digit: number }> = [];
    let next = 0;
    // A few requests in flight keep workerd busy without swamping a 2-core machine.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < images.length) {
          const i = next++;
          const image = images[i];
          const form = FORMS[i % FORMS.length];
          const response = await fetch(url, requestFor(image, form));
          const body = (await response.json()) as Partial<Answer> & { error?: { code: string; message: string } };
          if (response.status !== 200) {
            throw new Error(`${image.kind} #${image.index} as ${form}: ${response.status} ${JSON.stringify(body)}`);
          }
          results.push({ image, form, digit: body.digit! });
          answers.set(i, { digit: body.digit!, probabilities: body.probabilities! });
        }
      }),
    );

    const accuracy = (rows: typeof results) => rows.filter((r) => r.digit === r.image.label).length / rows.length;
    const report = [
      `overall ${(accuracy(results) * 100).toFixed(1)}% of ${results.length}`,
      ...CLIENT_KINDS.map((kind) => {
        const rows = results.filter((r) => r.image.kind === kind);
        return `${kind} ${(accuracy(rows) * 100).toFixed(1)}% of ${rows.length}`;
      }),
      ...FORMS.map((form) => {
        const rows = results.filter((r) => r.form === form);
        return `${form} ${(accuracy(rows) * 100).toFixed(1)}%`;
      }),
      'misread: ' +
        results
          .filter((r) => r.digit !== r.image.label)
          .map((r) => `#${r.image.index} ${r.image.kind} ${r.image.label}→${r.digit}`)
          .join(', '),
    ];
    console.log(report.join('\n'));
    expect(accuracy(results)).toBeGreaterThanOrEqual(TARGET_ACCURACY);
  });

  it('answers the PNGs identically without nodejs_compat (inflated by a DecompressionStream)', async () => {
    const url = new URL('/classify', inject('workerUrls').no_nodejs_compat);
    const pngs = images.flatMap((image, i) => (image.mediaType === 'image/png' && answers.has(i) ? [i] : []));
    expect(pngs.length).toBeGreaterThan(COUNT / 4);
    for (const i of pngs) {
      const response = await fetch(url, requestFor(images[i], 'raw'));
      expect(response.status, `#${i}`).toBe(200);
      const { digit, probabilities } = (await response.json()) as Answer;
      expect({ digit, probabilities }, `#${i}`).toEqual(answers.get(i));
    }
  });
});
