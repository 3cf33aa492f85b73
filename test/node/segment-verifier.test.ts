// The segment verifier POST /read's segmentation asks (src/shared/segment-verifier.ts): its
// training data from MNIST *training* digits (src/train/data/segment-pieces.ts), its training run
// on a small sample of real digits (it must learn, not merely run), and the committed verifier on
// the Worker's forward pass (src/worker/inference/verifier.ts) agreeing with what it was trained as.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/shared/random.ts';
import { candidatePieces } from '../../src/shared/segment.ts';
import { FRAGMENT, MERGED, VERIFIER_CLASSES, VERIFIER_INPUTS, WHOLE } from '../../src/shared/segment-verifier.ts';
import { loadSplit } from '../../src/train/data/mnist.ts';
import { drawNumber, inkTotals, labelCandidate, pieceSet } from '../../src/train/data/segment-pieces.ts';
import { trainVerifier } from '../../src/train/run/segment-verifier.ts';
import { SegmentVerifier } from '../../src/worker/inference/verifier.ts';
import { loadServedVerifier } from '../support/classifier.ts';

const mnist = await loadSplit('train', undefined, 3000);

describe('segment verifier data', () => {
  it('labels the pieces of digits standing apart whole, and a pair pressed together merged', () => {
    const apart = drawNumber(mnist, [0, 1, 2], { height: 40, gap: [8, 8], jitter: 0, broken: 0 }, seededRandom(1));
    const pieces = candidatePieces(apart.ink, { depth: 0 });
    expect(pieces).toHaveLength(3);
    for (const p of pieces) expect(labelCandidate(apart, p.segment.box, p.ink, inkTotals(apart))).toBe(WHOLE);
    // Both digits' ink in one candidate (however the strokes touch) is more than one digit.
    const pressed = drawNumber(mnist, [0, 1], { height: 40, gap: [-4, -4], jitter: 0, broken: 0 }, seededRandom(1));
    const { box, width } = { box: pressed.ink.box, width: pressed.ink.width };
    const w = box.x1 - box.x0 + 1;
    const both = new Float32Array(w * (box.y1 - box.y0 + 1));
    for (let y = box.y0; y <= box.y1; y++)
      for (let x = box.x0; x <= box.x1; x++) both[(y - box.y0) * w + x - box.x0] = pressed.ink.data[y * width + x];
    expect(labelCandidate(pressed, box, both, inkTotals(pressed))).toBe(MERGED);
  });

  it('is seeded: the same pieces for the same seed', () => {
    const a = pieceSet(mnist, { pictures: 12, seed: 9 });
    const b = pieceSet(mnist, { pictures: 12, seed: 9 });
    expect(a.count).toBeGreaterThan(8);
    expect(b.labels).toEqual(a.labels);
    expect(b.inputs).toEqual(a.inputs);
    expect(new Set(a.labels)).toEqual(new Set([WHOLE, FRAGMENT, MERGED]));
  });
});

describe('training the segment verifier', () => {
  it('learns from a small sample of real MNIST training digits', async () => {
    const result = await trainVerifier(mnist, { seed: 2, trainPictures: 160, validationPictures: 40, epochs: 8 });
    const { confusion } = result;
    const total = confusion.flat().reduce((a, b) => a + b, 0);
    // Better than always answering the commonest class, by a margin.
    const commonest = Math.max(...confusion.map((row) => row.reduce((a, b) => a + b, 0))) / total;
    console.log(
      `  ${result.trainPieces} pieces: ${(result.accuracy * 100).toFixed(1)}% held out (commonest class ${(100 * commonest).toFixed(1)}%)`,
    );
    expect(result.accuracy).toBeGreaterThan(commonest + 0.15);
    expect(result.losses.at(-1)).toBeLessThan(0.7 * result.losses[0]);
    // Its files load in the Worker's forward pass, which answers probabilities per class.
    const verifier = SegmentVerifier.load({
      modelJson: JSON.parse(String(result.files['model.json'])),
      metadata: { version: result.version },
      weights: (result.files['weights.bin'] as Uint8Array).slice().buffer,
    });
    const out = await verifier.verify(new Float32Array(2 * VERIFIER_INPUTS), 2);
    expect(out).toHaveLength(2 * VERIFIER_CLASSES.length);
    expect(out[0] + out[1] + out[2]).toBeCloseTo(1, 5);
  });
});

describe('the committed segment verifier', () => {
  it('tells whole digits from merged pairs on numbers it was not trained on', async () => {
    const verifier = await loadServedVerifier();
    // Training digits it learned from (the first 5/6 of the 60,000), in arrangements it never saw.
    const set = pieceSet(mnist, { pictures: 60, seed: 4242 });
    const out = await verifier.verify(set.inputs, set.count);
    let right = 0;
    for (let i = 0; i < set.count; i++) {
      const p = out.subarray(3 * i, 3 * i + 3);
      if (p.indexOf(Math.max(...p)) === set.labels[i]) right++;
    }
    expect(right / set.count).toBeGreaterThan(0.85);
  });
});
