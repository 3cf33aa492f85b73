// The real-client test set outside the test runner:
//   npx tsx scripts/client-images.ts --out DIR [--count 500] [--seed 4]   writes the pictures and labels.csv
//   npx tsx scripts/client-images.ts --url http://localhost:8787 [--count 500] [--seed 4] [--min 0.98]
// The second form POSTs every picture to /classify (raw, multipart and JSON in turn), as an
// outside client would, and prints the accuracy per kind; it exits 1 below --min.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CLIENT_KINDS, type ClientImage, generateClientImages } from '../test/support/client-images.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    url: { type: 'string' },
    count: { type: 'string', default: '500' },
    seed: { type: 'string', default: '4' },
    min: { type: 'string', default: '0.98' },
  },
});
if (!values.out && !values.url) {
  console.error('usage: client-images.ts --out DIR | --url BASE_URL [--count N] [--seed S] [--min ACCURACY]');
  process.exit(2);
}

const images = generateClientImages(loadMnistTest(), Number(values.count), Number(values.seed));
const fileName = (image: ClientImage, i: number) =>
  `${String(i).padStart(4, '0')}-${image.kind}-${image.label}.${image.mediaType === 'image/png' ? 'png' : 'jpg'}`;

if (values.out) {
  mkdirSync(values.out, { recursive: true });
  const rows = ['file,label,kind,mnist_index'];
  images.forEach((image, i) => {
    writeFileSync(path.join(values.out!, fileName(image, i)), image.bytes);
    rows.push(`${fileName(image, i)},${image.label},${image.kind},${image.index}`);
  });
  writeFileSync(path.join(values.out, 'labels.csv'), `${rows.join('\n')}\n`);
  console.log(`wrote ${images.length} pictures and labels.csv to ${values.out}`);
}

if (values.url) {
  const url = new URL('/classify', values.url);
  const forms = ['raw', 'multipart', 'json'] as const;
  const right = new Map<string, number>();
  const total = new Map<string, number>();
  const misread: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      const image = images[i];
      const form = forms[i % forms.length];
      let init: RequestInit;
      if (form === 'raw') {
        init = { method: 'POST', headers: { 'content-type': image.mediaType }, body: new Uint8Array(image.bytes) };
      } else if (form === 'multipart') {
        const body = new FormData();
        body.set('image', new Blob([new Uint8Array(image.bytes)], { type: image.mediaType }), fileName(image, i));
        init = { method: 'POST', body };
      } else {
        const dataUrl = `data:${image.mediaType};base64,${Buffer.from(image.bytes).toString('base64')}`;
        init = {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ image: dataUrl }),
        };
      }
      const response = await fetch(url, init);
      const body = (await response.json()) as { digit?: number; error?: { code: string } };
      const ok = response.status === 200 && body.digit === image.label;
      for (const key of ['all', image.kind, form]) {
        total.set(key, (total.get(key) ?? 0) + 1);
        if (ok) right.set(key, (right.get(key) ?? 0) + 1);
      }
      if (!ok)
        misread.push(
          `${fileName(image, i)}→${response.status === 200 ? body.digit : `${response.status} ${body.error?.code}`}`,
        );
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const pct = (key: string) => `${(((right.get(key) ?? 0) / (total.get(key) ?? 1)) * 100).toFixed(1)}%`;
  console.log(`${pct('all')} of ${images.length} client-style pictures right (seed ${values.seed}) at ${url}`);
  console.log([...CLIENT_KINDS, ...forms].map((key) => `${key} ${pct(key)}`).join(', '));
  if (misread.length) console.log(`misread: ${misread.join(', ')}`);
  const accuracy = (right.get('all') ?? 0) / images.length;
  if (accuracy < Number(values.min)) {
    console.error(`below the required ${(Number(values.min) * 100).toFixed(1)}%`);
    process.exitCode = 1;
  }
}
