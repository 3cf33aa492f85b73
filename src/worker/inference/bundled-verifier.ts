/**
 * The committed segment verifier, bundled at build time like the model (bundled-model.ts): its
 * layers and manifest as JSON modules, the weights through wrangler's `Data` rule.
 */

import metadataJson from '../../../models/segment-verifier/metadata.json';
import modelJson from '../../../models/segment-verifier/model.json';
import weightsBin from '../../../models/segment-verifier/weights.bin';
import type { VerifierFiles } from './verifier';

export const bundledVerifierFiles = (): VerifierFiles => ({
  modelJson,
  metadata: metadataJson,
  weights: weightsBin,
});
