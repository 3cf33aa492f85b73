/**
 * Keras weights in HDF5, every layout Keras 2.0 to 3 writes:
 * - Keras 2 `save_weights` (.h5): root attrs layer_names/backend/keras_version, `/<layer>/<layer>/kernel:0`;
 * - Keras 2 `model.save` (.h5): the same under `/model_weights`, root attr `model_config`, `/optimizer_weights`;
 * - Keras 3 legacy `model.save('x.h5')`: as Keras 2 full, weight paths `<layer>/sequential/<layer>/kernel`;
 * - Keras 3 `.weights.h5` (also inside `.keras`): `/layers/<snake_case class>[_n]/vars/0`, `/1`, …
 * Layers are matched to the Keras recipe's by order and shape, never by name.
 */
import { IMAGE_SIZE, LAYERS, type LayerSpec } from '../../../shared/model-spec.ts';
import { UserError } from '../../cli/cli.ts';
import {
  ArchitectureError,
  type KerasArchitecture,
  parseKerasArchitecture,
  WRITTEN_KERAS_VERSION,
} from './architecture.ts';
import {
  buildH5,
  ensureGroup,
  float32Dataset,
  type H5Group,
  isDataset,
  isGroup,
  readH5,
  setEmptyListAttr,
  setStringAttr,
  stringAttr,
  stringListAttr,
} from './h5.ts';

export interface WeightTensor {
  shape: number[];
  values: Float32Array;
}

/** Weights by tfjs name (`conv1/kernel`, `conv1/bias`, …), Keras shapes (the same as tfjs's). */
export type WeightMap = Map<string, WeightTensor>;

type WeightedSpec = Extract<LayerSpec, { kind: 'conv2d' | 'dense' }>;

/** The Keras recipe's layers that hold weights, with their kernel and bias shapes. */
export function weightedLayers(): { spec: WeightedSpec; kernel: number[]; bias: number[] }[] {
  const out: { spec: WeightedSpec; kernel: number[]; bias: number[] }[] = [];
  let [height, width, channels] = [IMAGE_SIZE, IMAGE_SIZE, 1];
  let features = 0;
  for (const spec of LAYERS) {
    if (spec.kind === 'conv2d') {
      out.push({ spec, kernel: [spec.kernelSize, spec.kernelSize, channels, spec.filters], bias: [spec.filters] });
      height -= spec.kernelSize - 1;
      width -= spec.kernelSize - 1;
      channels = spec.filters;
    } else if (spec.kind === 'maxPooling2d') {
      height = Math.floor(height / spec.poolSize);
      width = Math.floor(width / spec.poolSize);
    } else if (spec.kind === 'flatten') {
      features = height * width * channels;
    } else if (spec.kind === 'dense') {
      out.push({ spec, kernel: [features, spec.units], bias: [spec.units] });
      features = spec.units;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** `model.save_weights('model_digit.h5')` as Keras 2 writes it, with the Keras recipe's layer names. */
export function writeKeras2WeightsH5(weights: WeightMap): Promise<Uint8Array> {
  return buildH5((file) => {
    setStringAttr(
      file,
      'layer_names',
      LAYERS.map((l) => l.name),
    );
    setStringAttr(file, 'backend', 'tensorflow');
    setStringAttr(file, 'keras_version', WRITTEN_KERAS_VERSION);
    // Keras creates the groups sorted by name (so no name is a prefix of a later one).
    for (const spec of [...LAYERS].sort((a, b) => a.name.localeCompare(b.name))) {
      const group = file.create_group(spec.name);
      if (spec.kind !== 'conv2d' && spec.kind !== 'dense') {
        setEmptyListAttr(group, 'weight_names');
        continue;
      }
      setStringAttr(group, 'weight_names', [`${spec.name}/kernel:0`, `${spec.name}/bias:0`]);
      const inner = group.create_group(spec.name);
      for (const part of ['kernel', 'bias']) {
        const tensor = requireWeight(weights, `${spec.name}/${part}`);
        float32Dataset(inner, `${part}:0`, tensor.shape, tensor.values);
      }
    }
  });
}

/** Keras 3's `model.weights.h5`: one `vars` group per layer, named after its class. */
export function writeKeras3WeightsH5(weights: WeightMap): Promise<Uint8Array> {
  return buildH5((file) => {
    file.create_group('vars').create_attribute('name', 'mnist_cnn');
    for (const [spec, path] of zipKeras3Paths(LAYERS.map((l) => kerasClassOf(l)))) {
      const vars = ensureGroup(file, `${path}/vars`);
      vars.create_attribute('name', spec.name);
      if (spec.kind !== 'conv2d' && spec.kind !== 'dense') continue;
      float32Dataset(
        vars,
        '0',
        requireWeight(weights, `${spec.name}/kernel`).shape,
        requireWeight(weights, `${spec.name}/kernel`).values,
      );
      float32Dataset(
        vars,
        '1',
        requireWeight(weights, `${spec.name}/bias`).shape,
        requireWeight(weights, `${spec.name}/bias`).values,
      );
    }
  });
}

function kerasClassOf(spec: LayerSpec): string {
  return { conv2d: 'Conv2D', maxPooling2d: 'MaxPooling2D', dropout: 'Dropout', flatten: 'Flatten', dense: 'Dense' }[
    spec.kind
  ];
}

function zipKeras3Paths(classNames: string[]): [LayerSpec, string][] {
  const paths = keras3LayerPaths(classNames);
  return LAYERS.map((spec, i) => [spec, paths[i]]);
}

function requireWeight(weights: WeightMap, name: string): WeightTensor {
  const tensor = weights.get(name);
  if (!tensor) throw new Error(`weight ${name} missing from the model`);
  return tensor;
}

/** Keras's `naming.to_snake_case`: Conv2D → conv2d, MaxPooling2D → max_pooling2d. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Where Keras 3 keeps each layer of a Sequential: `layers/<snake class>`, `_1`, `_2` for repeats. */
export function keras3LayerPaths(classNames: string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((className) => {
    const base = toSnakeCase(className);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return `layers/${n === undefined ? base : `${base}_${n + 1}`}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

export type H5Layout = 'keras2-weights' | 'full-model' | 'keras3-weights';

export interface KerasH5 {
  layout: H5Layout;
  /** From `model_config` in a full-model file. */
  architecture: KerasArchitecture | null;
  kerasVersion: string | null;
  backend: string | null;
  /** Layers holding weights, in model order, each with its tensors in Keras's order. */
  layers: { name: string; tensors: WeightTensor[] }[];
}

function toFloat32(value: unknown, where: string): Float32Array {
  if (value instanceof Float32Array) return value.slice();
  if (value instanceof Float64Array) return Float32Array.from(value);
  throw new UserError(
    `${where}: weights stored as ${value?.constructor?.name ?? typeof value}; only float32 and float64 are supported`,
  );
}

function readTensor(group: H5Group, name: string, where: string): WeightTensor {
  const entity = group.get(name);
  if (!isDataset(entity)) throw new UserError(`${where}: weight ${name} listed but missing`);
  return { shape: entity.shape ?? [], values: toFloat32(entity.value, `${where}/${name}`) };
}

/** Keras 2 and Keras 3 legacy h5: `layer_names` in model order, `weight_names` per layer. */
function readLayerNamesGroup(group: H5Group, where: string): KerasH5['layers'] {
  const layers: KerasH5['layers'] = [];
  for (const name of stringListAttr(group, 'layer_names')) {
    const layerGroup = group.get(name);
    if (!isGroup(layerGroup)) throw new UserError(`${where}: layer ${name} is listed in layer_names but has no group`);
    const weightNames = stringListAttr(layerGroup, 'weight_names');
    if (weightNames.length === 0) continue;
    layers.push({ name, tensors: weightNames.map((w) => readTensor(layerGroup, w, `${where}/${name}`)) });
  }
  return layers;
}

/** Keras 3 `.weights.h5`: the paths come from the architecture, as Keras walks the model. */
function readKeras3Vars(file: H5Group, arch: KerasArchitecture, where: string): KerasH5['layers'] {
  const paths = keras3LayerPaths(arch.layers.map((l) => l.className));
  const layers: KerasH5['layers'] = [];
  arch.layers.forEach((layer, i) => {
    // Files from tf.keras 2.13–2.15's `.keras` format use another container name.
    const candidates = [paths[i], paths[i].replace(/^layers\//, '_layer_checkpoint_dependencies/')];
    const vars = candidates.map((p) => file.get(`${p}/vars`)).find(isGroup);
    if (!vars) return; // layers without variables may have no group at all
    const keys = vars
      .keys()
      .filter((k) => /^\d+$/.test(k))
      .sort((a, b) => Number(a) - Number(b));
    if (keys.length === 0) return;
    layers.push({ name: layer.name, tensors: keys.map((k) => readTensor(vars, k, `${where}/${paths[i]}/vars`)) });
  });
  return layers;
}

const text = (v: string | string[] | undefined) => (typeof v === 'string' ? v : null);

/**
 * Reads any Keras HDF5 weights file. A Keras 3 `.weights.h5` needs the architecture (from the JSON
 * or the `.keras` config) to know which group is which layer.
 */
export function readKerasH5(
  bytes: Uint8Array,
  source: string,
  architecture: KerasArchitecture | null,
): Promise<KerasH5> {
  return readH5(
    bytes,
    (file): KerasH5 => {
      const rootVersion = text(stringAttr(file, 'keras_version'));
      const rootBackend = text(stringAttr(file, 'backend'));
      const modelWeights = file.get('model_weights');
      if (isGroup(modelWeights)) {
        const config = text(stringAttr(file, 'model_config'));
        if (!config)
          throw new UserError(
            `${source}: has /model_weights but no model_config attribute; not a Keras model.save() file`,
          );
        return {
          layout: 'full-model',
          architecture: parseKerasArchitecture(config, `${source} (model_config)`),
          kerasVersion: rootVersion ?? text(stringAttr(modelWeights, 'keras_version')),
          backend: rootBackend ?? text(stringAttr(modelWeights, 'backend')),
          layers: readLayerNamesGroup(modelWeights, source),
        };
      }
      if ('layer_names' in file.attrs || 'layer_names0' in file.attrs) {
        return {
          layout: 'keras2-weights',
          architecture: null,
          kerasVersion: rootVersion,
          backend: rootBackend,
          layers: readLayerNamesGroup(file, source),
        };
      }
      if (isGroup(file.get('layers')) || isGroup(file.get('_layer_checkpoint_dependencies'))) {
        if (!architecture) {
          throw new ArchitectureError(
            `${source} is a Keras 3 weights file (.weights.h5): it holds no architecture. ` +
              `Give the model's JSON too: npm run import -- model.json ${source}`,
          );
        }
        return {
          layout: 'keras3-weights',
          architecture: null,
          kerasVersion: null,
          backend: null,
          layers: readKeras3Vars(file, architecture, source),
        };
      }
      throw new UserError(`${source}: an HDF5 file, but not one Keras wrote (no layer_names, model_weights or layers)`);
    },
    source,
  );
}

/** Pairs the file's weighted layers with the Keras recipe's by order, checking every shape. */
export function matchWeights(layers: KerasH5['layers'], source: string): WeightMap {
  const expected = weightedLayers();
  const names = (list: { name: string }[]) => list.map((l) => l.name).join(', ');
  if (layers.length !== expected.length) {
    throw new ArchitectureError(
      `${source}: weights for ${layers.length} layers (${names(layers) || 'none'}); ` +
        `the Keras recipe's CNN has ${expected.length} layers with weights (${expected.map((e) => e.spec.name).join(', ')})`,
    );
  }
  const out: WeightMap = new Map();
  expected.forEach(({ spec, kernel, bias }, i) => {
    const layer = layers[i];
    const shapes = layer.tensors.map((t) => `[${t.shape.join(', ')}]`).join(' and ');
    const ok =
      layer.tensors.length === 2 &&
      JSON.stringify(layer.tensors[0].shape) === JSON.stringify(kernel) &&
      JSON.stringify(layer.tensors[1].shape) === JSON.stringify(bias);
    if (!ok) {
      throw new ArchitectureError(
        `${source}: layer ${layer.name} (weighted layer ${i + 1}) holds ${shapes}; ` +
          `the Keras recipe's ${spec.name} needs kernel [${kernel.join(', ')}] and bias [${bias.join(', ')}]`,
      );
    }
    out.set(`${spec.name}/kernel`, layer.tensors[0]);
    out.set(`${spec.name}/bias`, layer.tensors[1]);
  });
  return out;
}
