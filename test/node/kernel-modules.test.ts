// The prebuilt kernel modules (src/shared/kernels/wasm/): current with their generator, and both
// SIMD variants' GEMM right against a float64 product (the relaxed one where this engine runs it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { assemble, expectedFiles } from '../../src/shared/kernels/build.ts';
import { CONV2 } from '../../src/shared/kernels/prebuilt.ts';
import {
  chooseVariant,
  instantiateKernels,
  PLAIN_SIMD_ENV,
  RELAXED_PROBE,
  relaxedSimdSupported,
} from '../../src/shared/kernels/winograd.ts';

describe('the prebuilt kernel modules', () => {
  it('are what npm run build:kernels makes of the current generator', async () => {
    for (const { path, bytes } of await expectedFiles()) {
      expect(Buffer.from(readFileSync(path)).equals(Buffer.from(bytes)), `${path}: run npm run build:kernels`).toBe(
        true,
      );
    }
  });

  it('detect relaxed SIMD with wabt’s own assembly of one relaxed_madd', async () => {
    const wabt = await wabtInit();
    const text = wabt.parseWat(
      'probe.wat',
      '(module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd))',
      { simd: true, relaxed_simd: true },
    );
    expect(Array.from(new Uint8Array(text.toBinary({}).buffer))).toEqual(Array.from(RELAXED_PROBE));
    text.destroy();
    process.env[PLAIN_SIMD_ENV] = '1';
    expect(chooseVariant()).toBe('plain');
    delete process.env[PLAIN_SIMD_ENV];
    expect(chooseVariant()).toBe(relaxedSimdSupported() ? 'relaxed' : 'plain');
  });

  const variants = relaxedSimdSupported() ? (['plain', 'relaxed', 'wide'] as const) : (['plain'] as const);
  for (const variant of variants) {
    it(`multiply 36-plane products right (${variant}): tails of rows and columns, accumulation, strides`, async () => {
      const memory = new WebAssembly.Memory({ initial: 64 });
      const k = instantiateKernels(new WebAssembly.Module(await assemble(CONV2, variant)), memory);
      const f = new Float32Array(memory.buffer);
      for (const [m, kk, n, planes, acc] of [
        [7, 5, 16, 3, 0],
        [13, 32, 64, 2, 1],
        [64, 288, 32, 1, 0],
        [9, 7, 24, 2, 1],
      ]) {
        const [aPlane, bPlane, cPlane] = [m * kk + 3, kk * n + 5, m * n + 7];
        const [b0, c0] = [aPlane * planes, aPlane * planes + bPlane * planes];
        for (let i = 0; i < c0 + cPlane * planes; i++) f[i] = Math.sin(i * 1.37);
        const before = f.slice(c0, c0 + cPlane * planes);
        k.gemm(0, b0 * 4, c0 * 4, m, kk, n, aPlane * 4, bPlane * 4, cPlane * 4, planes, acc);
        let err = 0;
        for (let p = 0; p < planes; p++)
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let s = acc ? before[p * cPlane + i * n + j] : 0;
              for (let q = 0; q < kk; q++) s += f[p * aPlane + i * kk + q] * f[b0 + p * bPlane + q * n + j];
              err = Math.max(err, Math.abs(s - f[c0 + p * cPlane + i * n + j]));
            }
        expect(err).toBeLessThan(1e-5);
        for (let p = 0; p < planes; p++) expect(f[c0 + p * cPlane + m * n]).toBe(before[p * cPlane + m * n]);
      }
    });
  }
});
