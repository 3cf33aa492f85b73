// The training step's dropout masks: the stream of src/shared/random.ts, seeded per example.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/shared/random.ts';
import { type DropoutDraw, dropoutMask, exampleSeed } from '../../src/train/network.ts';

describe('dropoutMask', () => {
  it('keeps a unit when seededRandom() ≥ rate, scaled by 1/(1 − rate), one stream per example', async () => {
    await tf.setBackend('cpu');
    const shape = [5, 12, 12, 7];
    const perExample = 12 * 12 * 7;
    for (const rate of [0.25, 0.5]) {
      const draw: DropoutDraw = { seed: 9, step: 4, firstPosition: 2 };
      const mask = dropoutMask(shape, rate, draw, 1);
      const expected = new Float32Array(shape[0] * perExample);
      for (let e = 0; e < shape[0]; e++) {
        const random = seededRandom(exampleSeed(draw, e, 1));
        for (let i = 0; i < perExample; i++) expected[e * perExample + i] = random() >= rate ? 1 / (1 - rate) : 0;
      }
      expect(Array.from(mask.dataSync())).toEqual(Array.from(expected));
      // The shard that starts one example later draws that example's units identically.
      const later = dropoutMask([1, 12, 12, 7], rate, { ...draw, firstPosition: 3 }, 1);
      expect(Array.from(later.dataSync())).toEqual(Array.from(expected.subarray(perExample, 2 * perExample)));
      tf.dispose([mask, later]);
    }
  });
});
