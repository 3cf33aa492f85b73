// The robustness report's pictures: real MNIST test digits, distorted one kind at a time, encoded
// as clients send them and read back by the Worker's own decoding and normalisation.
import { describe, expect, it } from 'vitest';
import { MODEL_DIR, PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { seededRandom } from '../../src/shared/random.ts';
import { take } from '../../src/train/data/mnist.ts';
import { loadStoredModel, readModelDir } from '../../src/train/formats/model-dir.ts';
import { ensureWasmBackend } from '../../src/train/kernels/wasm-backend.ts';
import { predictProbabilities } from '../../src/train/report/evaluation.ts';
import { distortedSet, ROBUSTNESS_KINDS, robustnessRows } from '../../src/train/report/robustness.ts';
import { imageToDigit } from '../../src/worker/input/decode-image.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

const test = take(loadMnistTest(), 60);
const first = test.images.subarray(0, PIXEL_COUNT);

describe('robustness report', () => {
  it('sends every kind as a real PNG or JPEG that the Worker decodes', async () => {
    for (const kind of ROBUSTNESS_KINDS) {
      const { bytes, mediaType } = kind.picture(first, seededRandom(1));
      const magic = mediaType === 'image/png' ? [0x89, 0x50, 0x4e, 0x47] : [0xff, 0xd8, 0xff];
      expect([...bytes.subarray(0, magic.length)], kind.name).toEqual(magic);
      expect((await imageToDigit(bytes, mediaType)).length).toBe(PIXEL_COUNT);
    }
  });

  it('is deterministic: the same digits every time, different from the undistorted ones', async () => {
    const rotated = ROBUSTNESS_KINDS.find((k) => k.name === 'rotated')!;
    const small = take(test, 10);
    const [a, b] = [await distortedSet(small, rotated), await distortedSet(small, rotated)];
    expect(a.images).toEqual(b.images);
    expect(a.images).not.toEqual(small.images);
  });

  it('measures the committed model on each kind: every row named, distortions harder than clean pictures', async () => {
    await ensureWasmBackend();
    const model = await loadStoredModel(await readModelDir(MODEL_DIR));
    try {
      const rows = await robustnessRows(test, (set) => predictProbabilities(model, set));
      expect(rows.map((r) => r.kind)).toEqual(ROBUSTNESS_KINDS.map((k) => k.name));
      const by = Object.fromEntries(rows.map((r) => [r.kind, r.accuracy]));
      for (const row of rows) expect(row.accuracy, row.kind).toBeGreaterThan(0.8);
      // An undistorted digit off-centre on a page reads like MNIST itself; a 20° rotation does not always.
      expect(by['off-centre']).toBeGreaterThan(0.97);
      expect(Math.min(by.rotated, by['nist-8x8'], by.elastic)).toBeLessThan(by['off-centre']);
    } finally {
      model.dispose();
    }
  });
});
