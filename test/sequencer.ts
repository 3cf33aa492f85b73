// The order files start in: longest first, across projects (vitest's own sequencer runs one project's
// files after another's, and takes unknown files by size), so that the long files overlap the short
// ones on both cores and none of them is left to finish alone at the end. Seconds each file took in
// `.ci/run` on a 2-core machine (2026-12-08 05:30 UTC, two files at a time; robustness since halved); files not listed took under 6 s.
// `sequence.groupOrder` still comes first.
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SECONDS: Record<string, number> = {
  'test/node/cli.test.ts': 35,
  'test/e2e/feedback-loop.test.ts': 33,
  'test/node/fine-tune.test.ts': 31,
  'test/node/train-faults.test.ts': 25,
  'test/node/read-number.test.ts': 25,
  'test/e2e/page.test.ts': 22,
  'test/e2e/client-images.test.ts': 14,
  'test/worker/page-request.test.ts': 13,
  'test/node/keras-import.test.ts': 12,
  'test/node/training.test.ts': 11,
  'test/e2e/page-feedback.test.ts': 11,
  'test/node/robustness.test.ts': 10,
  'test/node/kernels.test.ts': 9,
  'test/node/parallel.test.ts': 8,
  'test/e2e/page-number.test.ts': 7,
  'test/node/segment-verifier.test.ts': 6,
};
/** A workerd file pays for its own workerd start-up. */
const DEFAULT_SECONDS = { workers: 4, 'workers-limits': 4, 'workers-feedback': 4 } as Record<string, number>;

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification) =>
      SECONDS[relative(root, spec.moduleId)] ?? DEFAULT_SECONDS[spec.project.name] ?? 1;
    return [...files].sort(
      (a, b) => a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || seconds(b) - seconds(a),
    );
  }
}
