// `npm run classify`: the Worker's preprocessing and engine on local pictures.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

describe('npm run classify', () => {
  it('prints digit and confidence for docs/examples, and an error line for a non-picture', async () => {
    const result = await run(
      process.execPath,
      ['--import', 'tsx', 'src/train/classify.ts', 'docs/examples/seven.png', 'docs/examples/two.jpg', 'README.md'],
      { cwd: root },
    ).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(result).toMatchObject({ code: 1 }); // one file was not a picture
    const { stdout, stderr } = result as { stdout: string; stderr: string };
    expect(stdout).toMatch(/docs\/examples\/seven\.png\s+7\s+\(confidence \d+\.\d%\)/);
    expect(stdout).toMatch(/docs\/examples\/two\.jpg\s+2\s+\(confidence \d+\.\d%\)/);
    expect(stderr).toMatch(/README\.md\s+error: .*not a PNG or JPEG/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('reads a whole number with --read (docs/examples/number.png, MNIST test digits "2026")', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/train/classify.ts', '--read', 'docs/examples/number.png'],
      { cwd: root },
    );
    expect(stdout).toMatch(/docs\/examples\/number\.png\s+2026\s+\(2 \d+\.\d% at \d+,\d+ \d+×\d+; 0 /);
  });
});
