// Our trainer against PyTorch on the same work, process start to exit, interleaved runs, medians.
//   ours:    npm run train -- --epochs 1 --train-limit 7680 --out DIR
//   PyTorch: python3 bench/pytorch_mnist.py --train-limit 7680 (same recipe, 2 threads)
// Run: npx tsx bench/train-vs-pytorch.ts [runs=3] [train-limit=7680]
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, timedProcess } from './stats.ts';

const runs = Number(process.argv[2] ?? 3);
const limit = String(process.argv[3] ?? 7680);
const root = path.resolve(import.meta.dirname, '..');

/** Debian's python3-torch installs into /usr/bin/python3, which a pyenv `python3` may hide. */
function findTorchPython(): string | null {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) return python;
  }
  return null;
}

const timed = async (command: string, args: string[]) => (await timedProcess(command, args, { cwd: root })).seconds;

const python = findTorchPython();
if (!python)
  console.log(
    "PyTorch is absent (install Debian's python3-torch: apt-get install -y python3-torch); timing ours only.",
  );
const ours: number[] = [];
const theirs: number[] = [];
for (let run = 1; run <= runs; run++) {
  const out = await mkdtemp(path.join(tmpdir(), 'bench-train-'));
  ours.push(
    await timed('npm', [
      'run',
      'train',
      '--',
      '--epochs',
      '1',
      '--train-limit',
      limit,
      '--out',
      path.join(out, 'model'),
    ]),
  );
  await rm(out, { recursive: true, force: true });
  if (python) theirs.push(await timed(python, ['bench/pytorch_mnist.py', '--train-limit', limit, '--threads', '2']));
  console.log(
    `run ${run}: ours ${ours.at(-1)!.toFixed(1)} s${python ? `, PyTorch ${theirs.at(-1)!.toFixed(1)} s` : ''}`,
  );
}
const ourMedian = median(ours);
console.log(
  `ours (npm run train, --epochs 1 --train-limit ${limit}): median ${ourMedian.toFixed(1)} s of ${ours.map((t) => t.toFixed(1)).join(', ')}`,
);
if (python) {
  const theirMedian = median(theirs);
  console.log(
    `PyTorch (${python}, 2 threads): median ${theirMedian.toFixed(1)} s of ${theirs.map((t) => t.toFixed(1)).join(', ')}`,
  );
  console.log(`ratio PyTorch / ours: ${(theirMedian / ourMedian).toFixed(2)} (target ≥ 1.25)`);
}
