// What the trainer and the Worker must agree on: the input, the architecture and where the model lives.
import { assertNever } from './assert-never.ts';

export const IMAGE_SIZE = 28;
export const PIXEL_COUNT = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;
/** Input tensor shape of one digit, NHWC without the batch axis. */
export const INPUT_SHAPE = [IMAGE_SIZE, IMAGE_SIZE, 1] as const;
/** Raw pixels are grayscale 0–255, white ink on black, as in MNIST. */
export const MAX_PIXEL_VALUE = 255;

/** Digits as bytes, as MNIST stores them and as the tests and tools pass them around. */
export interface DigitSet {
  count: number;
  /** count × 784 raw pixels, 0–255, white ink on black. */
  images: Uint8Array;
  /** count labels, 0–9. */
  labels: Uint8Array;
}

/** Directory of the committed model, relative to the repository root. */
export const MODEL_DIR = 'models/mnist-cnn';
export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const METADATA_JSON = 'metadata.json';

/**
 * The Keras recipe's Keras CNN, layer by layer. Names are fixed so that the Worker's lean forward pass can
 * find each layer's weights in the tfjs weights manifest (`<name>/kernel`, `<name>/bias`).
 */
export const LAYERS = [
  { kind: 'conv2d', name: 'conv1', filters: 32, kernelSize: 3, activation: 'relu' },
  { kind: 'conv2d', name: 'conv2', filters: 64, kernelSize: 3, activation: 'relu' },
  { kind: 'maxPooling2d', name: 'pool', poolSize: 2 },
  { kind: 'dropout', name: 'dropout1', rate: 0.25 },
  { kind: 'flatten', name: 'flatten' },
  { kind: 'dense', name: 'dense1', units: 128, activation: 'relu' },
  { kind: 'dropout', name: 'dropout2', rate: 0.5 },
  { kind: 'dense', name: 'output', units: NUM_CLASSES, activation: 'softmax' },
] as const;

export type LayerSpec = (typeof LAYERS)[number];

/** 1,199,882 for the Keras recipe's architecture. */
export function parameterCount(): number {
  let count = 0;
  let [height, width, channels] = [IMAGE_SIZE, IMAGE_SIZE, 1];
  let features = 0;
  for (const layer of LAYERS) {
    switch (layer.kind) {
      case 'conv2d':
        count += layer.kernelSize * layer.kernelSize * channels * layer.filters + layer.filters;
        height -= layer.kernelSize - 1;
        width -= layer.kernelSize - 1;
        channels = layer.filters;
        break;
      case 'maxPooling2d':
        height = Math.floor(height / layer.poolSize);
        width = Math.floor(width / layer.poolSize);
        break;
      case 'flatten':
        features = height * width * channels;
        break;
      case 'dense':
        count += features * layer.units + layer.units;
        features = layer.units;
        break;
      case 'dropout':
        break;
      default:
        assertNever(layer, 'layer kind');
    }
  }
  return count;
}

/** Scales raw 0–255 pixels into the [0,1] floats the network was trained on. */
export function scalePixels(pixels: ArrayLike<number>, out = new Float32Array(pixels.length)): Float32Array {
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / MAX_PIXEL_VALUE;
  return out;
}
