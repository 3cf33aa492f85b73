// `npm run train -- --fine-tune`: the corrections split and mix, the command line, and the refusal
// to replace a model whose MNIST test accuracy fell by more than 0.2 points. (The successful path,
// from corrections collected by the Worker, is test/e2e/feedback-loop.test.ts.)
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METADATA_JSON, MODEL_DIR, MODEL_JSON, PIXEL_COUNT, WEIGHTS_FILE } from '../../src/shared/model-spec.ts';
import { FEEDBACK_JSON, feedbackIdxFiles, loadFeedbackDir } from '../../src/train/data/feedback.ts';
import { loadSplitSync } from '../../src/train/data/mnist.ts';
import { loadModelFiles, writeDirAtomically } from '../../src/train/formats/tfjs.ts';
import { epochMix, splitCorrections } from '../../src/train/run/fine-tune.ts';
import { oddSevens } from '../support/odd-sevens.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const train = (...args: string[]) =>
  promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/train/train.ts', ...args], { cwd: ROOT });
const odd = oddSevens(loadSplitSync('t10k'), 40);

/** The committed model's weights, dequantized, end to end in the order of its weights file. */
async function storedWeights(): Promise<Float32Array> {
  await tf.setBackend('cpu');
  const model = await loadModelFiles({
    modelJson: await readFile(path.join(ROOT, MODEL_DIR, MODEL_JSON), 'utf8'),
    weights: new Uint8Array(await readFile(path.join(ROOT, MODEL_DIR, WEIGHTS_FILE))),
  });
  const parts = model.getWeights().map((w) => w.dataSync() as Float32Array);
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

describe('fine-tune data', () => {
  it('holds out a seeded quarter of the corrections, disjoint from the rest', () => {
    const { train: rest, heldOut } = splitCorrections(odd, 0.25, 1);
    expect([rest.count, heldOut.count]).toEqual([30, 10]);
    expect(splitCorrections(odd, 0.25, 1).heldOut.images).toEqual(heldOut.images);
    const key = (set: typeof odd, i: number) =>
      Buffer.from(set.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT)).toString('base64');
    const held = new Set(Array.from({ length: heldOut.count }, (_, i) => key(heldOut, i)));
    for (let i = 0; i < rest.count; i++) expect(held.has(key(rest, i))).toBe(false);
  });

  it('mixes a fresh MNIST sample with the corrections repeated to their share', () => {
    const corrections = splitCorrections(odd, 0.25, 1).train;
    const mix = epochMix(10_000, corrections.count, { mnistPerEpoch: 900, share: 0.1, seed: 1 }, 0);
    expect(mix.length).toBe(900 + 3 * 30); // 30 corrections × 3 = 10% of 990
    const correctionIndices = mix.filter((i) => i >= 10_000);
    expect(correctionIndices).toHaveLength(90);
    expect(new Set(correctionIndices).size).toBe(30); // each correction three times
    expect(new Set(mix.filter((i) => i < 10_000)).size).toBe(900); // MNIST without repeats
    const next = epochMix(10_000, corrections.count, { mnistPerEpoch: 900, share: 0.1, seed: 1 }, 1);
    expect(next).not.toEqual(mix); // another sample, another order
    expect(epochMix(10_000, corrections.count, { mnistPerEpoch: 900, share: 0.1, seed: 1 }, 0)).toEqual(mix);
  });
});

describe('npm run train -- --fine-tune', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'fine-tune-'));
    const corrections = Array.from({ length: odd.count }, (_, i) => ({
      id: String(i),
      createdAt: '',
      label: 7,
      predicted: 2,
      model: null,
      source: 'pixels',
    }));
    await writeDirAtomically(path.join(work, 'feedback'), {
      ...feedbackIdxFiles(odd),
      [FEEDBACK_JSON]: JSON.stringify({ corrections }),
    });
    expect((await loadFeedbackDir(path.join(work, 'feedback'))).count).toBe(40);
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('refuses bad options with exit code 2', async () => {
    const failure = await train('--fine-tune', MODEL_DIR).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('--extra') });
    const bad = await train('--fine-tune', MODEL_DIR, '--extra', 'x', '--holdout', '1').catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--holdout must be a fraction') });
  });

  it('does not write a model that forgot MNIST (exit code 1), and says why', async () => {
    // Only corrections, at a learning rate far too high: MNIST accuracy collapses.
    const out = path.join(work, 'model');
    const args = [
      '--fine-tune',
      MODEL_DIR,
      '--extra',
      path.join(work, 'feedback'),
      '--out',
      out,
      '--mnist',
      '0',
      '--share',
      '1',
      '--learning-rate',
      '0.01',
    ];
    const failure = await train(...args).catch((e: { code: number; stdout: string }) => e);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stdout: string }).stdout).toMatch(
      /Refused: MNIST test accuracy dropped by \d+(\.\d+)? points \(limit 0\.2\); .* is unchanged/,
    );
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
  it("gives the same model on 1 and 2 threads, with the source recipe's augmentation and seeded dropout", async () => {
    const run = async (workers: number) => {
      const out = path.join(work, `model-${workers}`);
      await train(
        '--fine-tune',
        MODEL_DIR,
        '--extra',
        path.join(work, 'feedback'),
        '--out',
        out,
        '--mnist',
        '300',
        '--epochs',
        '1',
        '--quantize',
        'none',
        '--force',
        '--workers',
        String(workers),
      );
      const weights = new Float32Array(new Uint8Array(await readFile(path.join(out, WEIGHTS_FILE))).buffer);
      const metadata = JSON.parse(await readFile(path.join(out, METADATA_JSON), 'utf8'));
      return { weights, metadata };
    };
    const [one, two] = [await run(1), await run(2)];
    const source = JSON.parse(await readFile(path.join(ROOT, MODEL_DIR, METADATA_JSON), 'utf8'));
    const { followedBy: _, ...augmentation } = source.recipe.augmentation ?? { followedBy: null };
    expect(one.metadata.fineTune.recipe).toMatchObject({
      dropout: 'seeded',
      augmentation: source.recipe.augmentation ? augmentation : null,
    });
    expect(one.weights.length).toBe(two.weights.length);
    let largest = 0;
    let moved = 0;
    const original = await storedWeights();
    for (let i = 0; i < one.weights.length; i++) {
      largest = Math.max(largest, Math.abs(one.weights[i] - two.weights[i]));
      if (Math.abs(one.weights[i] - original[i]) > 1e-6) moved++;
    }
    expect(moved).toBeGreaterThan(1000); // it did train
    expect(largest).toBeLessThan(1e-5);
  });
});
