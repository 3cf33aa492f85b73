// Writes docs/examples/number.png, the sample picture for POST /read: MNIST *test* digits 1, 3, 35
// and 11 ("2026") laid side by side on scanned paper (test/support/number-images.ts, seed 1).
//   npx tsx scripts/number-picture.ts [OUT.png]
import { writeFileSync } from 'node:fs';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { renderNumber } from '../test/support/number-images.ts';

const out = process.argv[2] ?? 'docs/examples/number.png';
const mnist = loadMnistTest();
const picture = renderNumber(mnist, {
  indices: [1, 3, 35, 11],
  gap: [6, 12],
  height: 48,
  jitter: 0.06,
  style: 'scan',
  seed: 1,
});
writeFileSync(out, picture.bytes);
console.log(`${out}: "${picture.label}", ${picture.width}×${picture.height}, ${picture.bytes.length} bytes`);
