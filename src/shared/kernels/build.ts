// `npm run build:kernels`: assembles the kernel modules of the prebuilt geometries (prebuilt.ts), in
// both variants, to src/shared/kernels/wasm/*.wasm with wabt. The files are committed, so that
// `wrangler deploy`, `wrangler dev` and a fresh clone's tests need no build step;
// test/node/kernel-modules.test.ts fails when they differ from what this script makes.
// `--check`: writes nothing, exits 1 if a file is missing or stale.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { CONV1, PREBUILT, TRAIN_MODULE, VARIANTS, wasmFileName } from './prebuilt.ts';
import { trainWat } from './train-wat.ts';
import type { WinogradGeometry } from './winograd.ts';
import { type SimdVariant, watFeatures, winogradWat } from './winograd-wat.ts';

export const WASM_DIR = fileURLToPath(new URL('./wasm/', import.meta.url));

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Wabt | undefined;

/** wabt's assembly of the module for `g` in `variant` (Winograd's), or of the trainer's module. */
export async function assemble(g: WinogradGeometry | 'train', variant: SimdVariant): Promise<Uint8Array<ArrayBuffer>> {
  wabt ??= await wabtInit();
  const wat = g === 'train' ? trainWat(CONV1, variant) : winogradWat(g, variant);
  const text = wabt.parseWat(`${g === 'train' ? 'train' : 'winograd'}-${variant}.wat`, wat, watFeatures(variant));
  try {
    text.validate();
    return Uint8Array.from(text.toBinary({}).buffer);
  } finally {
    text.destroy();
  }
}

/** Every prebuilt file: its path and the bytes it should hold. */
export async function expectedFiles(): Promise<Array<{ path: string; bytes: Uint8Array }>> {
  const files: Array<{ path: string; bytes: Uint8Array }> = [];
  for (const { name, geometry } of PREBUILT) {
    for (const variant of VARIANTS) {
      files.push({ path: WASM_DIR + wasmFileName(name, variant), bytes: await assemble(geometry, variant) });
    }
  }
  for (const variant of VARIANTS) {
    files.push({ path: WASM_DIR + wasmFileName(TRAIN_MODULE, variant), bytes: await assemble('train', variant) });
  }
  return files;
}

function current(path: string, bytes: Uint8Array): boolean {
  try {
    return Buffer.from(readFileSync(path)).equals(Buffer.from(bytes));
  } catch {
    return false;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const files = await expectedFiles();
  const stale = files.filter((f) => !current(f.path, f.bytes));
  if (check) {
    for (const f of stale) console.error(`stale or missing: ${f.path} (run npm run build:kernels)`);
    process.exitCode = stale.length ? 1 : 0;
  } else {
    mkdirSync(WASM_DIR, { recursive: true });
    for (const f of files) {
      if (stale.includes(f)) writeFileSync(f.path, f.bytes);
      console.log(`${stale.includes(f) ? 'wrote' : 'current'} ${f.path} (${f.bytes.length} bytes)`);
    }
  }
}
