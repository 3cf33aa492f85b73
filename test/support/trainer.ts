// The trainer's command line as `npm run train` runs it (node --import tsx src/train/train.ts), started
// with node directly: no npm start-up, and signals reach the trainer itself.
import { execFile } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Node's arguments for the trainer with `args`. */
export const trainerArgs = (...args: string[]) => ['--import', 'tsx', 'src/train/train.ts', ...args];

/** A run small enough for a test: 4 steps of 64 digits, 100 test digits. */
export const SMOKE_RUN = ['--train-limit', '256', '--batch-size', '64', '--test-limit', '100'];

export interface TrainerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the trainer to its end; resolves with how it ended, whatever the exit code. */
export function runTrainer(args: string[], env: Record<string, string> = {}): Promise<TrainerRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      trainerArgs(...args),
      { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const failed = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({
          code: failed ? (typeof failed.code === 'number' ? failed.code : null) : 0,
          signal: failed?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}
