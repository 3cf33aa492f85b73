import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDirAtomically } from '../../src/train/formats/tfjs.ts';

describe('writeDirAtomically', () => {
  it('creates, then replaces a directory with exactly the new files', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'atomic-'));
    const dir = path.join(root, 'model');
    await writeDirAtomically(dir, { 'a.txt': 'one', 'b.bin': new Uint8Array([1, 2, 3]) });
    await writeDirAtomically(dir, { 'a.txt': 'two' });
    expect(await readdir(dir)).toEqual(['a.txt']);
    expect(await readFile(path.join(dir, 'a.txt'), 'utf8')).toBe('two');
    expect(await readdir(root)).toEqual(['model']);
  });

  it('leaves the old directory untouched when writing fails midway', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'atomic-'));
    const dir = path.join(root, 'model');
    await writeDirAtomically(dir, { 'model.json': '{"good":true}' });
    // The second file cannot be created: the write fails after the first one was written.
    await expect(writeDirAtomically(dir, { 'model.json': '{"half":true}', 'missing/dir.bin': 'x' })).rejects.toThrow();
    expect(await readFile(path.join(dir, 'model.json'), 'utf8')).toBe('{"good":true}');
    expect(await readdir(root)).toEqual(['model']);
  });
});
