// PyTorch (Debian's python3-torch, 1.13) on one thread, the committed model's weights as served
// (uint8 dequantized): CPU time of one forward pass of `count` digits (bench/torch-forward.py),
// for bench/request-cost.ts and bench/workerd-cost.ts to compare with in the same sitting.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The cpu backend: decodeWeights makes tensors, and bench/workerd-cost.ts starts no other backend.
import '@tensorflow/tfjs-backend-cpu';
import { io } from '@tensorflow/tfjs-core';
import { MODEL_DIR, MODEL_JSON, WEIGHTS_FILE } from '../src/shared/model-spec.ts';

export interface TorchResult {
  torch: string;
  median_ms: number;
  digits: number;
  max_abs_diff: number;
}

/** The first Python that has torch: PATH's python3, else Debian's (python3-torch installs there). */
export const torchPython = ['python3', '/usr/bin/python3'].find((candidate) => {
  try {
    execFileSync(candidate, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

/** `scaled`: count × 784 inputs in [0, 1]; `expected`: our count × 10 probabilities for them. */
export function torchForward(scaled: Float32Array, expected: Float32Array, rounds: number): TorchResult {
  if (!torchPython) throw new Error('neither python3 on PATH nor /usr/bin/python3 can import torch');
  const dir = mkdtempSync(join(tmpdir(), 'mnist-torch-'));
  try {
    const model = JSON.parse(readFileSync(`${MODEL_DIR}/${MODEL_JSON}`, 'utf8'));
    const weightsBin = readFileSync(`${MODEL_DIR}/${WEIGHTS_FILE}`);
    const tensors = io.decodeWeights(
      weightsBin.buffer.slice(weightsBin.byteOffset, weightsBin.byteOffset + weightsBin.byteLength),
      model.weightsManifest[0].weights,
    );
    const manifest: Record<string, number[]> = {};
    for (const [name, t] of Object.entries(tensors)) {
      manifest[name] = t.shape;
      writeFileSync(join(dir, `${name.replace('/', '_')}.f32`), t.dataSync() as Float32Array);
    }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(join(dir, 'digit.f32'), scaled);
    writeFileSync(join(dir, 'expected.f32'), expected);
    return JSON.parse(execFileSync(torchPython, ['bench/torch-forward.py', dir, String(rounds)], { encoding: 'utf8' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
