// The geometries whose kernel modules are prebuilt to .wasm files in src/shared/kernels/wasm/
// (`npm run build:kernels`; committed, and test/node/kernel-modules.test.ts fails when they are not
// what build.ts makes of the current sources). The Worker imports the forward pass's modules; the
// trainer reads the same files. Any other geometry (the kernel tests' small ones) is assembled by
// the trainer at run time with wabt, which only Node can do.
import { IMAGE_SIZE, LAYERS } from '../model-spec.ts';
import type { Conv1Geometry } from './train-wat.ts';
import { geometryKey, type WinogradGeometry } from './winograd.ts';
import type { SimdVariant } from './winograd-wat.ts';

const [conv1, conv2] = LAYERS.filter((layer) => layer.kind === 'conv2d');
/** conv2's input: conv1's output. */
const SIDE = IMAGE_SIZE - conv1.kernelSize + 1;
const OUT = SIDE - conv2.kernelSize + 1;

/**
 * conv2's forward pass (images 4 at a time, the Worker and the trainer's test passes) and its filter
 * gradient (8 at a time): the planes have room for 8.
 */
export const CONV2: WinogradGeometry = {
  height: SIDE,
  width: SIDE,
  channels: conv1.filters,
  outChannels: conv2.filters,
  outHeight: OUT,
  outWidth: OUT,
  chunk: 8,
};

/** conv2's input gradient: dy padded by 2 in front and to whole 4×4 blocks behind, cropped to x's size. */
export const CONV2_INPUT_GRADIENT: WinogradGeometry = {
  height: Math.ceil(SIDE / 4) * 4 + 2,
  width: Math.ceil(SIDE / 4) * 4 + 2,
  channels: conv2.filters,
  outChannels: conv1.filters,
  outHeight: SIDE,
  outWidth: SIDE,
  chunk: 4,
};

export const PREBUILT: ReadonlyArray<{ name: string; geometry: WinogradGeometry }> = [
  { name: 'conv2', geometry: CONV2 },
  { name: 'conv2-input-gradient', geometry: CONV2_INPUT_GRADIENT },
];

/** conv1's filter gradient in the trainer's module (train-wat.ts): the model's input, conv1's filters. */
export const CONV1: Conv1Geometry = { height: IMAGE_SIZE, width: IMAGE_SIZE, outChannels: conv1.filters };

/** The trainer's module (dense GEMM, conv1's filter gradient): wasm/train.<variant>.wasm. */
export const TRAIN_MODULE = 'train';

export const VARIANTS: readonly SimdVariant[] = ['relaxed', 'plain', 'wide'];

/** File name, in src/shared/kernels/wasm/, of a prebuilt module. */
export const wasmFileName = (name: string, variant: SimdVariant) => `${name}.${variant}.wasm`;

/** The prebuilt module's name for geometry `g`, if there is one. */
export function prebuiltName(g: WinogradGeometry): string | undefined {
  return PREBUILT.find((p) => geometryKey(p.geometry) === geometryKey(g))?.name;
}
