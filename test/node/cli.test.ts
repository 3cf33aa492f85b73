// The trainer's command line, run as a user runs it.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parameterCount } from '../../src/shared/model-spec.ts';
import { loadModelFiles } from '../../src/train/formats/tfjs.ts';
import { runTrainer, SMOKE_RUN } from '../support/trainer.ts';

const train = (...args: string[]) => runTrainer(args);

/** A model directory's weights, dequantized, in the model's order, each with its uint8 step. */
async function flatWeights(dir: string): Promise<{ values: Float32Array; step: number }[]> {
  const model = await loadModelFiles({
    modelJson: await readFile(path.join(dir, 'model.json'), 'utf8'),
    weights: new Uint8Array(await readFile(path.join(dir, 'weights.bin'))),
  });
  return model.getWeights().map((w) => {
    const values = w.dataSync() as Float32Array;
    const [min, max] = values.reduce(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);
    return { values, step: (max - min) / 255 };
  });
}

function flatAt(weights: { values: Float32Array }[], index: number): number {
  for (const { values } of weights) {
    if (index < values.length) return values[index];
    index -= values.length;
  }
  throw new RangeError(`no weight ${index}`);
}

describe('npm run train', () => {
  it('documents every flag in --help', async () => {
    const { code, stdout } = await train('--help');
    expect(code).toBe(0);
    for (const flag of [
      '--epochs',
      '--batch-size',
      '--train-limit',
      '--test-limit',
      '--out',
      '--seed',
      '--quantize',
      '--resume',
      '--workers',
      '--data',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it('refuses a bad flag value with a usage message and exit code 2', async () => {
    const failure = await train('--epochs', 'many');
    expect(failure.code).toBe(2);
    expect(failure.stderr).toMatch(/--epochs must be a positive integer/);
  });

  it('trains a smoke model and writes a loadable model directory with metadata and pictures', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'train-')), 'model');
    const { code, stdout } = await train('--epochs', '1', '--average-epochs', '2', ...SMOKE_RUN, '--out', out);
    expect(code).toBe(0);
    expect(stdout).toMatch(/on the wasm backend \(SIMD on/);
    expect(stdout).toMatch(/epoch 1\/1: train loss [\d.]+ acc [\d.]+% \| test loss [\d.]+ acc [\d.]+%/);
    expect((await readdir(out)).sort()).toEqual([
      'confusion.png',
      'curves.png',
      'evaluation.json',
      'metadata.json',
      'mistakes.png',
      'model.json',
      'model_digit.h5',
      'model_digit.json',
      'samples.png',
      'weights.bin',
    ]);
    // The evaluation report is the quantization check: one pass over the test digits, the same figures.
    const evaluation = JSON.parse(await readFile(path.join(out, 'evaluation.json'), 'utf8'));
    const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8'));
    expect(metadata).toMatchObject({
      parameters: parameterCount(),
      backend: { name: 'wasm', simd: true },
      recipe: { epochs: 1, trainImages: 256 },
    });
    expect(metadata.history).toHaveLength(1);
    expect(metadata.recipe.testImages).toBe(100);
    expect(metadata.timing).toMatchObject({ workers: expect.any(Number) });
    for (const key of ['wallSeconds', 'processSeconds', 'imagesPerSecond', 'peakRssMB'])
      expect(metadata.timing[key]).toBeGreaterThan(0);
    expect(metadata.version).toMatch(/^[0-9a-f]{16}$/);
    expect(evaluation).toMatchObject({ model: { version: metadata.version }, accuracy: metadata.testAccuracy });
    // Computed by the replicas (the trainer's forward pass), and said so; `npm run evaluate` is the stock check.
    expect(evaluation.engine).toMatch(/^the trainer's forward pass .* on \d+ replica threads?, .*weights as stored/);
    const png = await readFile(path.join(out, 'curves.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const model = await loadModelFiles({
      modelJson: await readFile(path.join(out, 'model.json'), 'utf8'),
      weights: new Uint8Array(await readFile(path.join(out, 'weights.bin'))),
    });
    expect(model.countParams()).toBe(parameterCount());

    expect(metadata.recipe).toMatchObject({ name: 'augmented', cleanEpochs: 0 });
    expect(metadata.timing.augmentationMsPerStep).toBeGreaterThan(0);

    // The checkpoint written after epoch 1 carries the run on to epoch 2 with its recipe; that
    // epoch is a clean finish (--clean-epochs 1): no digit of it is augmented.
    const resumed = await train(
      '--resume',
      '--epochs',
      '2',
      '--clean-epochs',
      '1',
      '--test-limit',
      '100',
      '--out',
      out,
    );
    expect(resumed.stdout).toMatch(/Resuming from .*model\.checkpoint after epoch 1/);
    expect(resumed.stdout).toMatch(/epoch 2\/2: train loss/);
    const after = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8'));
    expect(after.history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2]);
    expect(after.history[0]).toEqual(metadata.history[0]);
    expect(after.recipe).toMatchObject({ epochs: 2, trainImages: 256, batchSize: 64, cleanEpochs: 1 });
    expect(after.timing.augmentationMsPerStep).toBe(0);
    expect(after.version).not.toBe(metadata.version);

    // --average-epochs 2 (given to the first run, kept by its checkpoint's recipe): the first
    // epoch's weights from the checkpoint, the second's from this run. The model holds their mean
    // (to uint8's step); the checkpoint, epoch 2's own weights.
    expect(metadata.recipe.weightAveraging).toBeNull();
    expect(after.recipe.weightAveraging).toMatchObject({ epochs: 2 });
    const checkpoint = `${out}.checkpoint`;
    const state = JSON.parse(await readFile(path.join(checkpoint, 'state.json'), 'utf8'));
    expect(state.average).toEqual({ from: 0, epochs: 2 });
    const sum = new Float64Array(new Uint8Array(await readFile(path.join(checkpoint, 'average.bin'))).buffer);
    const [stored, lastEpoch] = await Promise.all([out, checkpoint].map(flatWeights));
    let offset = 0;
    let movedByAveraging = 0;
    for (const { values, step } of stored) {
      for (let i = 0; i < values.length; i++) {
        const mean = sum[offset + i] / 2;
        expect(Math.abs(values[i] - mean)).toBeLessThanOrEqual(step / 2 + 1e-6);
        // Weights the average moved further than uint8 can blur: the test fails if nothing was averaged.
        if (Math.abs(mean - flatAt(lastEpoch, offset + i)) > step) movedByAveraging++;
      }
      offset += values.length;
    }
    expect(movedByAveraging).toBeGreaterThan(1000);

    const done = await train('--resume', '--epochs', '2', '--out', out);
    expect(done.code).toBe(2);
    expect(done.stderr).toMatch(/already holds 2 epochs/);
  });

  it('says what to do when there is no checkpoint to resume from', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'train-')), 'none');
    const failure = await train('--resume', '--out', out);
    expect(failure).toMatchObject({ code: 2, signal: null });
    expect(failure.stderr).toMatch(/no checkpoint in .*none\.checkpoint/);
  });
});
