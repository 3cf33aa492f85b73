// HDF5 through h5wasm (the HDF5 C library compiled to wasm): small helpers for the shapes Keras uses.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Dataset, File, Group } from 'h5wasm/node';
import { UserError } from '../../cli/cli.ts';

export type H5File = File;
export type H5Group = Group;
export type H5Dataset = Dataset;
type HasAttrs = H5Group | H5Dataset;
type H5wasm = typeof import('h5wasm/node')['default'];

// Loaded on first use: the package embeds its wasm in a 4 MB script, which a refused import or
// `--help` should not pay.
let h5wasm: H5wasm | undefined;

/**
 * tsx, which runs the trainer and the tools, rewrites the dynamic imports of every ES module it
 * loads; on h5wasm's 4 MB script that took 1.8 s of CPU, at every run. Imported under a tsx namespace
 * of its own, the package (plain JavaScript) goes to Node's loader untouched: 0.1 s.
 */
async function importH5wasm(): Promise<H5wasm> {
  const resolve = (import.meta as { resolve?: (specifier: string) => string }).resolve;
  if (!resolve) return (await import('h5wasm/node')).default;
  return ((await import(`${resolve('h5wasm/node')}?tsx-namespace=h5wasm`)) as typeof import('h5wasm/node')).default;
}

export async function h5Ready(): Promise<H5wasm> {
  if (!h5wasm) {
    const lib = await importH5wasm();
    const module = await lib.ready;
    // HDF5 errors become JS exceptions instead of a diagnostic dump on stderr and a bad handle.
    module.activate_throwing_error_handler();
    h5wasm = lib;
  }
  return h5wasm;
}

function loaded(): H5wasm {
  if (!h5wasm) throw new Error('h5wasm used before h5Ready()');
  return h5wasm;
}

/** The innermost reason in an HDF5 error stack, e.g. "truncated file: eof = 100000, …". */
function hdf5Reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const reasons = [...text.matchAll(/ in [\w.]+\(\): (.+)$/gm)].map((m) => m[1].trim());
  return reasons.at(-1) ?? text.split('\n')[0];
}

const encoder = new TextEncoder();

/**
 * A fixed-length ASCII string attribute, as h5py writes numpy `bytes` (Keras encodes every name to
 * utf8 bytes before storing it): one string, or a 1-D array of strings.
 */
export function setStringAttr(target: HasAttrs, name: string, value: string | string[]): void {
  const values = Array.isArray(value) ? value : [value];
  const size = Math.max(1, ...values.map((v) => encoder.encode(v).length));
  target.create_attribute(name, value, Array.isArray(value) ? [value.length] : null, `A${size}`);
}

/** Keras stores an empty name list as an empty float array (numpy's default for `[]`). */
export function setEmptyListAttr(target: HasAttrs, name: string): void {
  target.create_attribute(name, new Float64Array(0), [0], '<f8');
}

/** A string or list-of-strings attribute; `undefined` when absent. Bytes are decoded as utf8. */
export function stringAttr(target: HasAttrs, name: string): string | string[] | undefined {
  if (!(name in target.attrs)) return undefined;
  const value = target.attrs[name].value;
  return toStrings(value);
}

function toStrings(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value).replace(/\0+$/, '');
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : String(toStrings(v))));
  if (ArrayBuffer.isView(value)) return []; // an empty numeric array: Keras's "no weights"
  return undefined;
}

/**
 * A list attribute Keras may have split into `name0`, `name1`, … when it outgrew the HDF5 object
 * header (64 KiB); `[]` when absent.
 */
export function stringListAttr(target: HasAttrs, name: string): string[] {
  const whole = stringAttr(target, name);
  if (whole !== undefined) return Array.isArray(whole) ? whole : [whole];
  const out: string[] = [];
  for (let chunk = 0; `${name}${chunk}` in target.attrs; chunk++) {
    const part = stringAttr(target, `${name}${chunk}`);
    if (part !== undefined) out.push(...(Array.isArray(part) ? part : [part]));
  }
  return out;
}

/** Creates a group and every missing group on its path (h5wasm creates only the last one). */
export function ensureGroup(root: H5Group, groupPath: string): H5Group {
  let group = root;
  for (const part of groupPath.split('/').filter(Boolean)) {
    const existing = group.get(part);
    group = existing instanceof loaded().Group ? existing : group.create_group(part);
  }
  return group;
}

export function float32Dataset(group: H5Group, name: string, shape: number[], values: Float32Array): H5Dataset {
  return group.create_dataset({ name, data: values, shape, dtype: '<f4' });
}

/** Writes an HDF5 file through a temporary path (h5wasm works on files) and returns its bytes. */
export async function buildH5(fill: (file: H5File) => void): Promise<Uint8Array> {
  const { File } = await h5Ready();
  const dir = await mkdtemp(path.join(tmpdir(), 'h5-'));
  const file = path.join(dir, 'out.h5');
  try {
    const h5 = new File(file, 'w');
    try {
      fill(h5);
    } finally {
      h5.close();
    }
    return new Uint8Array(await readFile(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Opens HDF5 bytes read-only for the duration of `use`. With `source`, a file HDF5 cannot read
 * (truncated, corrupt) becomes a UserError naming it.
 */
export async function readH5<T>(bytes: Uint8Array, use: (file: H5File) => T | Promise<T>, source?: string): Promise<T> {
  const { File } = await h5Ready();
  const dir = await mkdtemp(path.join(tmpdir(), 'h5-'));
  const file = path.join(dir, 'in.h5');
  try {
    await writeFile(file, bytes);
    let h5: H5File | undefined;
    try {
      h5 = new File(file, 'r');
      return await use(h5);
    } catch (error) {
      if (source === undefined || error instanceof UserError) throw error;
      throw new UserError(`${source}: not a readable HDF5 file (${hdf5Reason(error)})`);
    } finally {
      h5?.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The HDF5 signature, at offset 0 (files Keras writes never carry a user block). */
export function isHdf5(bytes: Uint8Array): boolean {
  const signature = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length >= 8 && signature.every((b, i) => bytes[i] === b);
}

export function isGroup(entity: unknown): entity is H5Group {
  return entity instanceof loaded().Group;
}

export function isDataset(entity: unknown): entity is H5Dataset {
  return entity instanceof loaded().Dataset;
}
