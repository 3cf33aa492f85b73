// The segment verifier: a small second network that POST /read's segmentation asks whether a
// candidate piece of a number is exactly one whole digit, a fragment of one (a cut through a
// digit), or more than one (touching digits, a digit with a neighbour's stroke). What the trainer
// (src/train/segment-verifier.ts) and the Worker (src/worker/inference/verifier.ts) must agree on:
// its input, its layers and where it lives. docs/worker.md, "Reading a number", says what it buys.

import { IMAGE_SIZE, MAX_PIXEL_VALUE } from './model-spec.ts';

/** Directory of the committed verifier, relative to the repository root. */
export const VERIFIER_DIR = 'models/segment-verifier';
export const VERIFIER_MODEL_JSON = 'model.json';
export const VERIFIER_WEIGHTS_FILE = 'weights.bin';
export const VERIFIER_METADATA_JSON = 'metadata.json';

/** What a candidate piece is: the verifier's classes, in the order of its outputs. */
export const VERIFIER_CLASSES = ['whole', 'fragment', 'merged'] as const;
export type VerifierClass = (typeof VERIFIER_CLASSES)[number];
export const WHOLE = 0;
export const FRAGMENT = 1;
export const MERGED = 2;

/** Pixels pooled a side (2×2 read 79.7% of touching numbers on seeds 5/7, 28×28 unpooled 78.7%). */
const POOL = 2;
/** The normalised digit is pooled to this side (14×14): the shape, not the stroke's detail. */
export const VERIFIER_SIDE = IMAGE_SIZE / POOL;
/**
 * After the pooled pixels: the piece's ink box width and height over the line's height, and its
 * width over its height (how wide a piece is for the number it stands in is what normalisation,
 * which fits every piece to 20×20, throws away).
 */
export const VERIFIER_GEOMETRY = 3;
/** One candidate's input: 196 pooled pixels (0–1) and the geometry. */
export const VERIFIER_INPUTS = VERIFIER_SIDE * VERIFIER_SIDE + VERIFIER_GEOMETRY;

/** Dense layers, in order: relu hidden layers, softmax over VERIFIER_CLASSES last. */
export const VERIFIER_LAYERS = [
  {
    name: 'hidden1',
    units: Number((globalThis as { process?: { env: Record<string, string> } }).process?.env.V_H1 ?? 64),
    activation: 'relu',
  },
  {
    name: 'hidden2',
    units: Number((globalThis as { process?: { env: Record<string, string> } }).process?.env.V_H2 ?? 32),
    activation: 'relu',
  },
  { name: 'output', units: VERIFIER_CLASSES.length, activation: 'softmax' },
] as const;

/** Weights in VERIFIER_WEIGHTS_FILE: each layer's kernel [inputs, units] then bias [units], float32, in layer order. */
export function verifierWeightShapes(): Array<{ name: string; shape: [number, number] | [number] }> {
  const shapes: Array<{ name: string; shape: [number, number] | [number] }> = [];
  let inputs = VERIFIER_INPUTS;
  for (const layer of VERIFIER_LAYERS) {
    shapes.push({ name: `${layer.name}/kernel`, shape: [inputs, layer.units] });
    shapes.push({ name: `${layer.name}/bias`, shape: [layer.units] });
    inputs = layer.units;
  }
  return shapes;
}

/** Box sides, in pixels of the ink map. */
export interface PieceSize {
  readonly width: number;
  readonly height: number;
}

/**
 * Writes one candidate's inputs at `out[offset…]`: its 784 normalised pixels (as /classify sees
 * them) pooled 2×2 and scaled to 0–1, then its geometry against the line's height.
 */
export function verifierInput(
  pixels: ArrayLike<number>,
  size: PieceSize,
  lineHeight: number,
  out: Float32Array,
  offset = 0,
): void {
  const scale = 1 / (POOL * POOL * MAX_PIXEL_VALUE);
  for (let y = 0; y < VERIFIER_SIDE; y++) {
    for (let x = 0; x < VERIFIER_SIDE; x++) {
      let sum = 0;
      for (let dy = 0; dy < POOL; dy++)
        for (let dx = 0; dx < POOL; dx++) sum += pixels[(POOL * y + dy) * IMAGE_SIZE + POOL * x + dx];
      out[offset + y * VERIFIER_SIDE + x] = sum * scale;
    }
  }
  const at = offset + VERIFIER_SIDE * VERIFIER_SIDE;
  const line = Math.max(1, lineHeight);
  out[at] = size.width / line;
  out[at + 1] = size.height / line;
  out[at + 2] = size.width / Math.max(1, size.height);
}
