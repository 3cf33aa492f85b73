// The evaluation report: metrics from probabilities, and the files written next to a model.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { MODEL_DIR } from '../../src/shared/model-spec.ts';
import { take } from '../../src/train/data/mnist.ts';
import { evaluateModelDir } from '../../src/train/report/evaluation.ts';
import { computeMetrics } from '../../src/train/report/metrics.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

const oneHot = (digit: number, confidence: number) =>
  Array.from({ length: 10 }, (_, d) => (d === digit ? confidence : (1 - confidence) / 9));

describe('computeMetrics', () => {
  it('counts the confusion matrix, precision, recall, F1, loss and the mistakes', () => {
    // Labels 0,0,1,1 predicted 0,1,1,1: one 0 mistaken for a 1.
    const probs = Float32Array.from([...oneHot(0, 0.9), ...oneHot(1, 0.8), ...oneHot(1, 0.7), ...oneHot(1, 0.6)]);
    const m = computeMetrics(probs, [0, 0, 1, 1]);
    expect(m.accuracy).toBe(0.75);
    expect(m.confusion[0].slice(0, 2)).toEqual([1, 1]);
    expect(m.confusion[1].slice(0, 2)).toEqual([0, 2]);
    expect(m.perClass[0]).toEqual({ digit: 0, precision: 1, recall: 0.5, f1: 0.666667, support: 2 });
    expect(m.perClass[1]).toEqual({ digit: 1, precision: 0.666667, recall: 1, f1: 0.8, support: 2 });
    expect(m.perClass[5]).toEqual({ digit: 5, precision: 0, recall: 0, f1: 0, support: 0 });
    const p0 = (1 - 0.8) / 9; // what the mistaken 0 got for its true class
    expect(m.loss).toBeCloseTo(-(Math.log(0.9) + Math.log(p0) + Math.log(0.7) + Math.log(0.6)) / 4, 5);
    expect(m.mistakes).toEqual([{ index: 1, label: 0, predicted: 1, confidence: 0.8 }]);
  });
});

describe('evaluateModelDir', () => {
  it('writes evaluation.json, confusion.png and mistakes.png next to the model, as stored', async () => {
    const dir = path.join(await mkdtemp(path.join(tmpdir(), 'evaluate-')), 'model');
    await cp(MODEL_DIR, dir, { recursive: true });
    const set = take(loadMnistTest(), 1000);
    const evaluation = await evaluateModelDir(dir, { set });
    const written = JSON.parse(await readFile(path.join(dir, 'evaluation.json'), 'utf8'));
    expect(written).toMatchObject({
      count: 1000,
      accuracy: evaluation.accuracy,
      model: { version: expect.stringMatching(/^[0-9a-f]{16}$/) },
    });
    expect(evaluation.accuracy).toBeGreaterThan(0.98);
    expect(written.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(1000);
    expect(written.perClass).toHaveLength(10);
    expect(written.mistakes).toHaveLength(Math.round((1 - evaluation.accuracy) * 1000));
    for (const [file, minWidth] of [
      ['confusion.png', 500],
      ['mistakes.png', 900],
    ] as const) {
      const png = PNG.sync.read(await readFile(path.join(dir, file)));
      expect(png.width).toBeGreaterThan(minWidth);
    }
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('the CLI refuses a directory that holds no model, without a stack trace', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'evaluate-empty-'));
    const failure = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/train/evaluate.ts', '--model', empty],
      {
        cwd: path.resolve(__dirname, '../..'),
      },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toMatch(/is not a model directory: model\.json is missing/);
    expect((failure as { stderr: string }).stderr).not.toMatch(/\n\s+at /);
  });
});

describe('modelExtras (for the trainer)', () => {
  it('gives the report and the Keras files for one atomic directory write', async () => {
    const { readModelDir } = await import('../../src/train/formats/model-dir.ts');
    const { modelExtras } = await import('../../src/train/report/model-extras.ts');
    const { files, evaluation } = await modelExtras(await readModelDir(MODEL_DIR), { set: take(loadMnistTest(), 200) });
    expect(Object.keys(files).sort()).toEqual([
      'confusion.png',
      'evaluation.json',
      'mistakes.png',
      'model_digit.h5',
      'model_digit.json',
    ]);
    expect(evaluation).toMatchObject({ count: 200, testSet: '200 MNIST test digits' });
  });
});
