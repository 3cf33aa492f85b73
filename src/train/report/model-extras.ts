/**
 * What every model directory should carry besides the tfjs files: the evaluation report and the
 * Keras recipe's files, both made from the stored (quantized) weights. For the trainer, so they can go
 * into the same atomic directory write as the model:
 *
 *   const files = encodeModel(await modelArtifacts(model), quantize);
 *   const { files: extras, evaluation } = await modelExtras({ ...files, metadata }, { set: test });
 *   await writeDirAtomically(outDir, { ...modelDirFiles(files), [METADATA_JSON]: …, ...extras });
 */

import type { DigitSet } from '../../shared/model-spec.ts';
import { mark } from '../cli/timings.ts';
import { kerasFiles, storedWeightMap } from '../formats/keras/export.ts';
import type { WeightMap } from '../formats/keras/weights.ts';
import type { StoredModel } from '../formats/model-dir.ts';
import { type Evaluation, evaluateStored, evaluationReport } from './evaluation.ts';

/** Something other than stock tfjs that gives the softmax outputs of the report's digits. */
export interface Predictor {
  /** What computed them, for evaluation.json. */
  engine: string;
  /** Softmax outputs, row-major [set.count, 10], of the weights given. */
  probabilities(weights: WeightMap): Promise<Float32Array>;
}

export async function modelExtras(
  stored: Pick<StoredModel, 'modelJson' | 'weights' | 'metadata'>,
  options: { set?: DigitSet; keras3?: boolean; predictor?: Predictor } = {},
): Promise<{ files: Record<string, Uint8Array | string>; evaluation: Evaluation }> {
  // The weights as any client gets them: the manifest decoded (dequantized) by tf.io.decodeWeights.
  const weights = storedWeightMap(stored);
  const { predictor, set } = options;
  const { evaluation, files: report } =
    predictor && set
      ? evaluationReport(await predictor.probabilities(weights), set, {
          metadata: stored.metadata,
          engine: predictor.engine,
        })
      : await evaluateStored(stored, { set });
  const keras = await kerasFiles(weights, { keras3: options.keras3 });
  mark('Keras files (model_digit.h5)');
  return { files: { ...report, ...keras }, evaluation };
}
