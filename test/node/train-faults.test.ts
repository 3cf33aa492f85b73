// The trainer's failures, as a user meets them: a diverging loss, Ctrl-C, an unwritable output,
// missing or truncated MNIST files. Each ends with a clear message and the right exit code, never
// a stack trace, and leaves models and checkpoints consistent.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mnistDataDir } from '../../src/train/data/mnist.ts';
import { ROOT, runTrainer, SMOKE_RUN, trainerArgs } from '../support/trainer.ts';

const train = (env: Record<string, string>, ...args: string[]) => runTrainer(args, env);
const tmp = () => mkdtemp(path.join(tmpdir(), 'train-faults-'));
const noStack = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

describe('trainer faults', () => {
  it('stops on a NaN loss with a clear message, keeping the last checkpoint and model', async () => {
    const out = path.join(await tmp(), 'model');
    await mkdir(out);
    await writeFile(path.join(out, 'model.json'), 'the previous model');
    // 4 steps per epoch: global step 5 is epoch 2, step 2.
    const run = await train({ MNIST_EDGE_TEST_NAN_AT_STEP: '5' }, '--epochs', '2', ...SMOKE_RUN, '--out', out);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/loss became NaN at epoch 2, step 2/);
    noStack(run.stderr);
    expect(await readFile(path.join(out, 'model.json'), 'utf8')).toBe('the previous model');
    const state = JSON.parse(await readFile(path.join(`${out}.checkpoint`, 'state.json'), 'utf8'));
    expect(state.history).toHaveLength(1);
  });

  it('Ctrl-C saves a consistent checkpoint that --resume carries on from', async () => {
    const out = path.join(await tmp(), 'model');
    const child = spawn(
      process.execPath,
      trainerArgs('--epochs', '1', '--train-limit', '768', '--batch-size', '32', '--test-limit', '100', '--out', out),
      { cwd: ROOT },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (stdout.includes('Training on')) {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/Checkpoint saved in .*model\.checkpoint/);
    noStack(stderr);
    const checkpoint = `${out}.checkpoint`;
    expect((await readdir(checkpoint)).sort()).toEqual([
      'average.bin',
      'model.json',
      'optimizer.bin',
      'optimizer.json',
      'state.json',
      'weights.bin',
    ]);
    const state = JSON.parse(await readFile(path.join(checkpoint, 'state.json'), 'utf8'));
    expect(state.history).toEqual([]);
    expect(state.position.step).toBeGreaterThan(0);
    expect(state.position.seen).toBe(state.position.step * 32);

    const resumed = await train({}, '--resume', '--epochs', '1', '--test-limit', '100', '--out', out);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`Resuming from .* in epoch 1 after step ${state.position.step}`));
    const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8'));
    expect(metadata.history).toHaveLength(1);
    expect(metadata.recipe).toMatchObject({ trainImages: 768, batchSize: 32 });
  });

  it('refuses an unwritable --out before training', async () => {
    const run = await train({}, '--out', '/etc/hostname/model');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Cannot write the model to \/etc\/hostname\/model/);
    noStack(run.stderr);
  });

  it('names a missing MNIST file', async () => {
    const run = await train({}, '--data', await tmp(), '--out', path.join(await tmp(), 'model'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/MNIST file missing: .*-idx\d-ubyte/);
    noStack(run.stderr);
  });

  it('names a truncated MNIST file', async () => {
    const data = await tmp();
    for (const name of ['train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      await copyFile(path.join(mnistDataDir(), name), path.join(data, name));
    }
    const images = await readFile(path.join(mnistDataDir(), 'train-images-idx3-ubyte'));
    await writeFile(path.join(data, 'train-images-idx3-ubyte'), images.subarray(0, 100_000));
    const run = await train({}, '--data', data, '--out', path.join(await tmp(), 'model'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/MNIST file unreadable: train images: truncated: 100000 bytes/);
    noStack(run.stderr);
  });
});
