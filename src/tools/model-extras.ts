/**
 * What every model directory should carry besides the tfjs files: the evaluation report and the
 * Keras recipe's files, both made from the stored (quantized) weights. For the trainer, so they can go
 * into the same atomic directory write as the model:
 *
 *   const files = encodeModel(await modelArtifacts(model), quantize);
 *   const { files: extras, evaluation } = await modelExtras({ ...files, metadata }, { set: test });
 *   await writeDirAtomically(outDir, { ...modelDirFiles(files), [METADATA_JSON]: …, ...extras });
 */

import { type Evaluation, evaluateStored } from '../evaluate/report.ts';
import { kerasFiles, storedWeightMap } from '../keras/export.ts';
import type { DigitSet } from '../shared/model-spec.ts';
import type { StoredModel } from './model-dir.ts';

export async function modelExtras(
  stored: Pick<StoredModel, 'modelJson' | 'weights' | 'metadata'>,
  options: { set?: DigitSet; keras3?: boolean } = {},
): Promise<{ files: Record<string, Uint8Array | string>; evaluation: Evaluation }> {
  const { evaluation, files: report } = await evaluateStored(stored, { set: options.set });
  const keras = await kerasFiles(storedWeightMap(stored), { keras3: options.keras3 });
  return { files: { ...report, ...keras }, evaluation };
}
