// Corrections pulled from the edge (`npm run feedback:pull`), on disk in MNIST's own format: a pair
// of IDX files the trainer reads with its IDX reader, plus what IDX cannot hold in corrections.json.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type DigitSet, IMAGE_SIZE, PIXEL_COUNT } from '../../shared/model-spec.ts';
import { encodeIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx.ts';
import { digitSetFromIdx } from './mnist.ts';

export const FEEDBACK_DIR = 'data/feedback';
export const FEEDBACK_IMAGES = 'feedback-images-idx3-ubyte';
export const FEEDBACK_LABELS = 'feedback-labels-idx1-ubyte';
export const FEEDBACK_JSON = 'corrections.json';
export const CONTACT_SHEET = 'contact-sheet.png';

/** One stored correction, as the Worker's D1 table has it (pixels aside). */
export interface CorrectionInfo {
  id: string;
  createdAt: string;
  label: number;
  predicted: number | null;
  model: string | null;
  source: string;
}

export interface FeedbackSet extends DigitSet {
  corrections: CorrectionInfo[];
}

/** The two IDX files of a set of digits, MNIST's layout: [count, 28, 28] bytes and [count] labels. */
export function feedbackIdxFiles(set: DigitSet): Record<string, Uint8Array> {
  return {
    [FEEDBACK_IMAGES]: encodeIdx(
      IDX_IMAGES_MAGIC,
      [set.count, IMAGE_SIZE, IMAGE_SIZE],
      set.images.subarray(0, set.count * PIXEL_COUNT),
    ),
    [FEEDBACK_LABELS]: encodeIdx(IDX_LABELS_MAGIC, [set.count], set.labels.subarray(0, set.count)),
  };
}

export class FeedbackDataError extends Error {
  override name = 'FeedbackDataError';
}

/** Reads a pulled directory; throws with the path when it is not one. */
export async function loadFeedbackDir(dir: string): Promise<FeedbackSet> {
  const read = (name: string) =>
    readFile(path.join(dir, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT')
        throw new FeedbackDataError(
          `${path.join(dir, name)} is missing: pull corrections first (npm run feedback:pull)`,
        );
      throw error;
    });
  const [images, labels, json] = await Promise.all([read(FEEDBACK_IMAGES), read(FEEDBACK_LABELS), read(FEEDBACK_JSON)]);
  const set = digitSetFromIdx(new Uint8Array(images), new Uint8Array(labels), `feedback in ${dir}`);
  const corrections = (JSON.parse(json.toString('utf8')) as { corrections: CorrectionInfo[] }).corrections;
  if (corrections.length !== set.count)
    throw new FeedbackDataError(`${dir}: ${set.count} digits but ${corrections.length} entries in ${FEEDBACK_JSON}`);
  return { ...set, corrections };
}
