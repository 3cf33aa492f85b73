// The Keras recipe's CNN as a tfjs LayersModel, built from the shared layer spec.
import * as tf from '@tensorflow/tfjs';
import { INPUT_SHAPE, LAYERS, type LayerSpec } from '../../shared/model-spec.ts';
import { type AdadeltaConfig, KERAS_ADADELTA, KerasAdadelta } from '../replicas/optimizer.ts';

function toLayer(spec: LayerSpec, seed: number | undefined, index: number): tf.layers.Layer {
  // Keras's default initializers: Glorot-uniform kernels, zero biases.
  const kernelInitializer = tf.initializers.glorotUniform({ seed: seed == null ? undefined : seed + index });
  switch (spec.kind) {
    case 'conv2d':
      return tf.layers.conv2d({
        name: spec.name,
        filters: spec.filters,
        kernelSize: spec.kernelSize,
        activation: spec.activation,
        kernelInitializer,
        ...(index === 0 ? { inputShape: [...INPUT_SHAPE] } : {}),
      });
    case 'maxPooling2d':
      return tf.layers.maxPooling2d({ name: spec.name, poolSize: spec.poolSize });
    // No seed: tfjs would then draw the same dropout mask at every step.
    case 'dropout':
      return tf.layers.dropout({ name: spec.name, rate: spec.rate });
    case 'flatten':
      return tf.layers.flatten({ name: spec.name });
    case 'dense':
      return tf.layers.dense({ name: spec.name, units: spec.units, activation: spec.activation, kernelInitializer });
  }
}

export function buildModel(options: { seed?: number; optimizer?: AdadeltaConfig } = {}): tf.Sequential {
  const model = tf.sequential({ name: 'mnist_cnn', layers: LAYERS.map((spec, i) => toLayer(spec, options.seed, i)) });
  model.compile({
    optimizer: new KerasAdadelta(options.optimizer ?? KERAS_ADADELTA),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}
