/**
 * The committed model, bundled at build time: topology and manifest as a JSON module, the weights
 * through wrangler's `Data` rule, so nothing is fetched at run time.
 */

import metadataJson from '../../../models/mnist-cnn/metadata.json';
import modelJson from '../../../models/mnist-cnn/model.json';
import weightsBin from '../../../models/mnist-cnn/weights.bin';
import { type ModelArtifacts, parseArtifacts } from './artifacts';

export const bundledArtifacts = (): ModelArtifacts => parseArtifacts(modelJson, metadataJson, weightsBin);
