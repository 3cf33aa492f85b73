// Node side: a few real MNIST test digits for the feedback tests (workerd has no filesystem).
import type { TestProject } from 'vitest/node';
import { PIXEL_COUNT } from '../../src/shared/model-spec.ts';
import { loadMnistTest } from '../support/mnist-files.ts';
import type {} from '../worker/global-setup.ts'; // the ProvidedContext keys this fills

const DIGITS = 20;

export default function setup(project: TestProject) {
  const mnist = loadMnistTest();
  project.provide('mnistImages', Buffer.from(mnist.images.subarray(0, DIGITS * PIXEL_COUNT)).toString('base64'));
  project.provide('mnistLabels', Array.from(mnist.labels.subarray(0, DIGITS)));
  project.provide('referenceProbabilities', []);
}
