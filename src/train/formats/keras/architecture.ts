/**
 * The Keras recipe's architecture in Keras's terms: the `to_json()` we write (Keras 2 form, which Keras 3
 * also reads) and the Keras 3 `config.json`, both from LAYERS; and the check that a Keras
 * architecture, in any of the JSON forms Keras 2.0 to 3 wrote, is that network.
 */
import { INPUT_SHAPE, LAYERS, type LayerSpec } from '../../../shared/model-spec.ts';
import { UserError } from '../../cli/cli.ts';

export class ArchitectureError extends UserError {
  override name = 'ArchitectureError';
}

export const KERAS_CLASS: Record<LayerSpec['kind'], string> = {
  conv2d: 'Conv2D',
  maxPooling2d: 'MaxPooling2D',
  dropout: 'Dropout',
  flatten: 'Flatten',
  dense: 'Dense',
};

/** The Keras 2 release whose file layout we write (the last tf.keras 2, still read by Keras 3). */
export const WRITTEN_KERAS_VERSION = '2.15.0';
export const WRITTEN_KERAS3_VERSION = '3.0.0';
export const KERAS_MODEL_NAME = 'mnist_cnn';

const BATCH_INPUT_SHAPE = [null, ...INPUT_SHAPE];

/** Only the arguments that define the network: every other argument takes its Keras default. */
function layerConfig(spec: LayerSpec): Record<string, unknown> {
  const base = { name: spec.name, trainable: true, dtype: 'float32' };
  switch (spec.kind) {
    case 'conv2d':
      return {
        ...base,
        filters: spec.filters,
        kernel_size: [spec.kernelSize, spec.kernelSize],
        strides: [1, 1],
        padding: 'valid',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: spec.activation,
        use_bias: true,
      };
    case 'maxPooling2d':
      return {
        ...base,
        pool_size: [spec.poolSize, spec.poolSize],
        padding: 'valid',
        strides: [spec.poolSize, spec.poolSize],
        data_format: 'channels_last',
      };
    case 'dropout':
      return { ...base, rate: spec.rate, noise_shape: null, seed: null };
    case 'flatten':
      return { ...base, data_format: 'channels_last' };
    case 'dense':
      return { ...base, units: spec.units, activation: spec.activation, use_bias: true };
  }
}

/**
 * `model.to_json()` of the Keras recipe's Sequential in tf.keras 2's form (an InputLayer first), plus the
 * top-level `"module": "keras"` without which Keras 3's model_from_json cannot find `Sequential`
 * (Keras 2 ignores the key; Keras 3 reads the module-less layer configs as legacy ones).
 */
export function kerasModelJson(): Record<string, unknown> {
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: KERAS_MODEL_NAME,
      layers: [
        {
          class_name: 'InputLayer',
          config: { batch_input_shape: BATCH_INPUT_SHAPE, dtype: 'float32', sparse: false, name: 'input' },
        },
        ...LAYERS.map((spec) => ({ class_name: KERAS_CLASS[spec.kind], config: layerConfig(spec) })),
      ],
    },
    keras_version: WRITTEN_KERAS_VERSION,
    backend: 'tensorflow',
  };
}

/** The `config.json` of a Keras 3 `.keras` archive for the same model. */
export function keras3Config(): Record<string, unknown> {
  const layer = (className: string, config: Record<string, unknown>, inputShape?: unknown) => ({
    module: 'keras.layers',
    class_name: className,
    config,
    registered_name: null,
    ...(inputShape ? { build_config: { input_shape: inputShape } } : {}),
  });
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: KERAS_MODEL_NAME,
      trainable: true,
      dtype: 'float32',
      layers: [
        layer('InputLayer', { batch_shape: BATCH_INPUT_SHAPE, dtype: 'float32', sparse: false, name: 'input' }),
        ...LAYERS.map((spec) => layer(KERAS_CLASS[spec.kind], layerConfig(spec))),
      ],
      build_input_shape: BATCH_INPUT_SHAPE,
    },
    registered_name: null,
    build_config: { input_shape: BATCH_INPUT_SHAPE },
  };
}

/** One layer of a Keras architecture, whatever JSON form it came in. */
export interface KerasLayer {
  index: number;
  name: string;
  className: string;
  config: Record<string, unknown>;
}

export interface KerasArchitecture {
  layers: KerasLayer[];
  /** The input shape without the batch axis, when the JSON says it. */
  inputShape: (number | null)[] | null;
  kerasVersion: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads `to_json()` / `model_config` / Keras 3 `config.json`: the layer list is `config` itself in
 * Keras ≤ 2.1, `config.layers` after; Keras 3 adds `module` keys. `source` names the file in errors.
 */
export function parseKerasArchitecture(json: unknown, source: string): KerasArchitecture {
  let parsed = json;
  if (typeof parsed === 'string') {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      throw new ArchitectureError(`${source}: not valid JSON`);
    }
  }
  if (!isObject(parsed) || typeof parsed.class_name !== 'string') {
    throw new ArchitectureError(
      `${source}: not a Keras model architecture (no "class_name"); expected the output of model.to_json()`,
    );
  }
  if (parsed.class_name !== 'Sequential') {
    throw new ArchitectureError(
      `${source}: the model is a Keras ${parsed.class_name}; this project imports the Keras recipe's Sequential CNN only`,
    );
  }
  const config = parsed.config;
  const rawLayers = Array.isArray(config)
    ? config
    : isObject(config) && Array.isArray(config.layers)
      ? config.layers
      : null;
  if (!rawLayers) throw new ArchitectureError(`${source}: the Sequential model lists no layers`);
  let inputShape: (number | null)[] | null = null;
  const layers: KerasLayer[] = [];
  for (const raw of rawLayers) {
    if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
      throw new ArchitectureError(`${source}: layer ${layers.length + 1} has no class_name/config`);
    }
    const layerConfig = raw.config;
    const batchShape = layerConfig.batch_input_shape ?? layerConfig.batch_shape;
    if (Array.isArray(batchShape)) inputShape ??= batchShape.slice(1) as (number | null)[];
    else if (Array.isArray(layerConfig.input_shape)) inputShape ??= layerConfig.input_shape as (number | null)[];
    if (raw.class_name === 'InputLayer') continue; // not in model.layers, holds no weights
    if ('nb_filter' in layerConfig || 'output_dim' in layerConfig || 'border_mode' in layerConfig) {
      throw new ArchitectureError(
        `${source}: a Keras 1 configuration (nb_filter/output_dim/border_mode); load it in Keras 2 or 3 and save it again`,
      );
    }
    layers.push({
      index: layers.length + 1,
      name: String(layerConfig.name ?? `layer_${layers.length + 1}`),
      className: raw.class_name,
      config: layerConfig,
    });
  }
  const kerasVersion = typeof parsed.keras_version === 'string' ? parsed.keras_version : null;
  return { layers, inputShape, kerasVersion };
}

// Keras 1 names some of these differently; Keras 2 kept aliases for the pooling layer.
const KIND_OF_CLASS: Record<string, LayerSpec['kind']> = {
  Conv2D: 'conv2d',
  Convolution2D: 'conv2d',
  MaxPooling2D: 'maxPooling2d',
  MaxPool2D: 'maxPooling2d',
  Dropout: 'dropout',
  Flatten: 'flatten',
  Dense: 'dense',
};

const pair = (v: unknown): unknown => (typeof v === 'number' ? [v, v] : v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function activationName(v: unknown): string {
  if (v === undefined || v === null) return 'linear';
  if (typeof v === 'string') return v;
  if (isObject(v)) return String((isObject(v.config) && v.config.name) || v.class_name || JSON.stringify(v));
  return String(v);
}

/** How a layer reads in an error message, e.g. "Conv2D 64 filters 3×3, padding valid, activation relu". */
export function describeKerasLayer(layer: KerasLayer): string {
  const c = layer.config;
  const size = (v: unknown) => (Array.isArray(v) ? v.join('×') : String(v));
  switch (KIND_OF_CLASS[layer.className]) {
    case 'conv2d':
      return `${layer.className} ${c.filters} filters ${size(pair(c.kernel_size))}, strides ${size(pair(c.strides ?? 1))}, padding ${c.padding ?? 'valid'}, activation ${activationName(c.activation)}`;
    case 'maxPooling2d':
      return `${layer.className} ${size(pair(c.pool_size))}, strides ${size(pair(c.strides ?? c.pool_size))}, padding ${c.padding ?? 'valid'}`;
    case 'dense':
      return `${layer.className} ${c.units} units, activation ${activationName(c.activation)}`;
    default:
      return layer.className;
  }
}

export function describeSpec(spec: LayerSpec): string {
  switch (spec.kind) {
    case 'conv2d':
      return `Conv2D ${spec.filters} filters ${spec.kernelSize}×${spec.kernelSize}, strides 1×1, padding valid, activation ${spec.activation}`;
    case 'maxPooling2d':
      return `MaxPooling2D ${spec.poolSize}×${spec.poolSize}, strides ${spec.poolSize}×${spec.poolSize}, padding valid`;
    case 'dense':
      return `Dense ${spec.units} units, activation ${spec.activation}`;
    default:
      return KERAS_CLASS[spec.kind];
  }
}

function matches(layer: KerasLayer, spec: LayerSpec): boolean {
  if (KIND_OF_CLASS[layer.className] !== spec.kind) return false;
  const c = layer.config;
  if (c.data_format !== undefined && c.data_format !== null && c.data_format !== 'channels_last') return false;
  switch (spec.kind) {
    case 'conv2d':
      return (
        c.filters === spec.filters &&
        same(pair(c.kernel_size), [spec.kernelSize, spec.kernelSize]) &&
        same(pair(c.strides ?? 1), [1, 1]) &&
        same(pair(c.dilation_rate ?? 1), [1, 1]) &&
        (c.groups ?? 1) === 1 &&
        (c.padding ?? 'valid') === 'valid' &&
        c.use_bias !== false &&
        activationName(c.activation) === spec.activation
      );
    case 'maxPooling2d':
      return (
        same(pair(c.pool_size), [spec.poolSize, spec.poolSize]) &&
        same(pair(c.strides ?? c.pool_size), [spec.poolSize, spec.poolSize]) &&
        (c.padding ?? 'valid') === 'valid'
      );
    case 'dense':
      return c.units === spec.units && c.use_bias !== false && activationName(c.activation) === spec.activation;
    case 'dropout': // the rate does not change inference
    case 'flatten':
      return true;
  }
}

/**
 * Refuses anything but the Keras recipe's CNN, naming the first layer that differs; returns the Keras
 * layers paired with the spec, in order.
 */
export function checkArchitecture(arch: KerasArchitecture, source: string): { keras: KerasLayer; spec: LayerSpec }[] {
  const seed = LAYERS.map(describeSpec).join(' → ');
  const fail = (why: string): never => {
    throw new ArchitectureError(
      `${source}: not the Keras recipe's architecture: ${why}.\nThis project serves exactly: ${seed}.`,
    );
  };
  if (arch.inputShape && !same(arch.inputShape, [...INPUT_SHAPE])) {
    const channelsFirst = same(arch.inputShape, [1, INPUT_SHAPE[0], INPUT_SHAPE[1]]);
    fail(
      `the input shape is [${arch.inputShape.join(', ')}], expected [${INPUT_SHAPE.join(', ')}]${channelsFirst ? ' (channels_last; this one is channels_first)' : ''}`,
    );
  }
  const pairs: { keras: KerasLayer; spec: LayerSpec }[] = [];
  LAYERS.forEach((spec, i) => {
    const layer = arch.layers[i];
    if (!layer)
      fail(`it ends after ${arch.layers.length} layers, where layer ${i + 1} should be ${describeSpec(spec)}`);
    if (!matches(layer, spec)) {
      fail(
        `layer ${i + 1} (${layer.name}) is ${describeKerasLayer(layer)}${layer.config.data_format === 'channels_first' ? ', channels_first' : ''}, expected ${describeSpec(spec)}`,
      );
    }
    pairs.push({ keras: layer, spec });
  });
  if (arch.layers.length > LAYERS.length) {
    const extra = arch.layers[LAYERS.length];
    fail(`layer ${extra.index} (${extra.name}, ${describeKerasLayer(extra)}) comes after the output layer`);
  }
  return pairs;
}
