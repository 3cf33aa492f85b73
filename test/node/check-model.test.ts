// The predeploy check, run as `npm run deploy` runs it: the committed model passes, a model whose
// metadata does not describe its weights is refused.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { METADATA_JSON, MODEL_DIR, WEIGHTS_FILE } from '../../src/shared/model-spec.ts';

const root = path.resolve(__dirname, '../..');
const check = (dir: string) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/train/check-model.ts', dir], { cwd: root });

async function copyOfModel(): Promise<string> {
  const dir = path.join(await mkdtemp(path.join(tmpdir(), 'check-model-')), 'model');
  await cp(path.join(root, MODEL_DIR), dir, { recursive: true });
  return dir;
}

describe('src/train/check-model.ts (predeploy)', () => {
  it('passes the committed model', async () => {
    const { stdout } = await check(MODEL_DIR);
    const { version } = JSON.parse(await readFile(path.join(root, MODEL_DIR, METADATA_JSON), 'utf8'));
    expect(stdout).toContain(version);
  });

  it('refuses weights that changed under the same metadata, and a directory without a model', async () => {
    const dir = await copyOfModel();
    const weights = await readFile(path.join(dir, WEIGHTS_FILE));
    weights[0] ^= 1; // one weight nudged by one step
    await writeFile(path.join(dir, WEIGHTS_FILE), weights);
    const changed = await check(dir).catch((e: { code: number; stderr: string }) => e);
    expect(changed).toMatchObject({ code: 1 });
    expect((changed as { stderr: string }).stderr).toMatch(/hashes to [0-9a-f]{16}/);

    const empty = await check(`${path.dirname(dir)}/missing`).catch((e: { code: number; stderr: string }) => e);
    expect(empty).toMatchObject({ code: 1 });
    expect((empty as { stderr: string }).stderr).toMatch(/Refusing to deploy .*ENOENT/);
  });
});
