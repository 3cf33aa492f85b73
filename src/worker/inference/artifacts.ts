/**
 * The model artifact layout the engine expects (a tfjs LayersModel directory: model.json with one
 * weights group, weights.bin, the trainer's metadata.json), checked when parsed.
 */
import { z } from '@hono/zod-openapi';
import { WEIGHTS_FILE } from '../../shared/model-spec';

/** The part of the trainer's metadata the Worker relies on; other fields pass through untouched. */
export const ModelMetadata = z.looseObject({
  version: z.string().min(1),
  trainedAt: z.string(),
  testAccuracy: z.number().min(0).max(1),
  parameters: z.number().int().positive(),
  quantization: z.looseObject({ dtype: z.string(), accuracyChangePoints: z.number().optional() }).optional(),
});
export type ModelMetadata = z.infer<typeof ModelMetadata>;

const QuantizationSpec = z.object({
  dtype: z.enum(['uint8', 'uint16', 'float16']),
  min: z.number().optional(),
  scale: z.number().optional(),
});
const WeightSpec = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(['float32', 'int32']),
  quantization: QuantizationSpec.optional(),
});
const TopologyLayer = z.object({ class_name: z.string(), config: z.record(z.string(), z.unknown()) });
const ModelJson = z.object({
  modelTopology: z.object({ config: z.object({ layers: z.array(TopologyLayer) }) }),
  weightsManifest: z.array(z.object({ paths: z.array(z.string()), weights: z.array(WeightSpec) })).length(1),
});
export type WeightSpec = z.infer<typeof WeightSpec>;
export type TopologyLayer = z.infer<typeof TopologyLayer>;

export interface ModelArtifacts {
  metadata: ModelMetadata;
  layers: TopologyLayer[];
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

/** Throws if the files are not the artifact layout the engine expects. */
export function parseArtifacts(modelJson: unknown, metadataJson: unknown, weightData: ArrayBuffer): ModelArtifacts {
  const model = ModelJson.parse(modelJson);
  const [group] = model.weightsManifest;
  if (group.paths.length !== 1 || group.paths[0] !== WEIGHTS_FILE) {
    throw new Error(`model.json must list exactly one weights file, ${WEIGHTS_FILE}`);
  }
  return {
    metadata: ModelMetadata.parse(metadataJson),
    layers: model.modelTopology.config.layers,
    weightSpecs: group.weights,
    weightData,
  };
}
