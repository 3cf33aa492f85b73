/**
 * Keras files of the Keras recipe's CNN in every layout Keras 2.0 to 3 writes, built with h5wasm from the
 * committed model's weights, with the layer names Keras generates (not ours): what a user brings.
 * Layouts follow Keras's saving code (hdf5_format / legacy_h5_format / saving_lib).
 */
import { zipSync } from 'fflate';
import { INPUT_SHAPE, LAYERS, type LayerSpec, MODEL_DIR } from '../../src/shared/model-spec.ts';
import { KERAS_CLASS } from '../../src/train/formats/keras/architecture.ts';
import { storedWeightMap } from '../../src/train/formats/keras/export.ts';
import {
  buildH5,
  ensureGroup,
  float32Dataset,
  type H5Group,
  setEmptyListAttr,
  setStringAttr,
} from '../../src/train/formats/keras/h5.ts';
import { keras3LayerPaths, type WeightMap } from '../../src/train/formats/keras/weights.ts';
import { readModelDir } from '../../src/train/formats/model-dir.ts';

export type FixtureLayout =
  | 'keras21-list-json'
  | 'keras2-input-layer'
  | 'keras2-full'
  | 'keras3-legacy-h5'
  | 'keras3-weights-h5'
  | 'keras3-archive';

/** The committed model's weights, dequantized: real weights, so accuracy means something. */
export async function committedWeights(): Promise<WeightMap> {
  return storedWeightMap(await readModelDir(MODEL_DIR));
}

/** Names as Keras generates them: Keras ≤ 2.2 counted from 1 (conv2d_1, conv2d_2), later from none. */
export function kerasNames(style: 'from-1' | 'from-0', specs: readonly LayerSpec[] = LAYERS): string[] {
  const used = new Map<string, number>();
  return specs.map((spec) => {
    const base = {
      conv2d: 'conv2d',
      maxPooling2d: 'max_pooling2d',
      dropout: 'dropout',
      flatten: 'flatten',
      dense: 'dense',
    }[spec.kind];
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    if (style === 'from-1') return `${base}_${n}`;
    return n === 1 ? base : `${base}_${n - 1}`;
  });
}

type LayerJson = { class_name: string; config: Record<string, unknown>; module?: string };

/** A Keras layer config as `to_json()` writes it; `overrides` change what a test needs changed. */
export function layerJson(spec: LayerSpec, name: string, extra: Record<string, unknown> = {}): LayerJson {
  const common = { name, trainable: true, dtype: 'float32' };
  const config: Record<string, unknown> = (() => {
    switch (spec.kind) {
      case 'conv2d':
        return {
          ...common,
          filters: spec.filters,
          kernel_size: [3, 3],
          strides: [1, 1],
          padding: 'valid',
          data_format: 'channels_last',
          dilation_rate: [1, 1],
          activation: spec.activation,
          use_bias: true,
          kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
        };
      case 'maxPooling2d':
        return { ...common, pool_size: [2, 2], padding: 'valid', strides: [2, 2], data_format: 'channels_last' };
      case 'dropout':
        return { ...common, rate: 0.4, noise_shape: null, seed: null }; // rates do not matter for serving
      case 'flatten':
        return { ...common, data_format: 'channels_last' };
      case 'dense':
        return { ...common, units: spec.units, activation: spec.activation, use_bias: true };
    }
  })();
  return { class_name: KERAS_CLASS[spec.kind], config: { ...config, ...extra } };
}

/** Keras ≤ 2.1: the layer list is `config` itself; the first layer carries batch_input_shape. */
export function keras21Json(names: string[], layers = LAYERS.map((s, i) => layerJson(s, names[i]))): string {
  layers[0].config.batch_input_shape = [null, ...INPUT_SHAPE];
  return JSON.stringify({ class_name: 'Sequential', config: layers, keras_version: '2.1.6', backend: 'tensorflow' });
}

/** tf.keras 2.x: `{"config": {"name", "layers": [InputLayer, …]}}`. */
export function keras2Json(names: string[], layers = LAYERS.map((s, i) => layerJson(s, names[i]))): string {
  return JSON.stringify({
    class_name: 'Sequential',
    config: {
      name: 'sequential',
      layers: [
        {
          class_name: 'InputLayer',
          config: {
            batch_input_shape: [null, ...INPUT_SHAPE],
            dtype: 'float32',
            sparse: false,
            ragged: false,
            name: `${names[0]}_input`,
          },
        },
        ...layers,
      ],
    },
    keras_version: '2.15.0',
    backend: 'tensorflow',
  });
}

/** Keras 3: every object carries `module`, InputLayer has batch_shape. */
export function keras3Json(names: string[], layers = LAYERS.map((s, i) => layerJson(s, names[i]))): string {
  const withModule = (l: LayerJson) => ({
    module: 'keras.layers',
    class_name: l.class_name,
    config: l.config,
    registered_name: null,
  });
  return JSON.stringify({
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: 'sequential',
      trainable: true,
      dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null },
      layers: [
        withModule({
          class_name: 'InputLayer',
          config: { batch_shape: [null, ...INPUT_SHAPE], dtype: 'float32', sparse: false, name: 'input_layer' },
        }),
        ...layers.map(withModule),
      ],
      build_input_shape: [null, ...INPUT_SHAPE],
    },
    registered_name: null,
  });
}

/** save_weights / model_weights: layer_names, then `<layer>/<weight path>` per weight. */
function writeLayerGroups(
  group: H5Group,
  names: string[],
  weights: WeightMap,
  version: string,
  weightPath: (layer: string, part: string) => string,
): void {
  setStringAttr(group, 'layer_names', names);
  setStringAttr(group, 'backend', 'tensorflow');
  setStringAttr(group, 'keras_version', version);
  LAYERS.forEach((spec, i) => {
    const layer = group.create_group(names[i]);
    if (spec.kind !== 'conv2d' && spec.kind !== 'dense') {
      setEmptyListAttr(layer, 'weight_names');
      return;
    }
    const paths = ['kernel', 'bias'].map((part) => weightPath(names[i], part));
    setStringAttr(layer, 'weight_names', paths);
    ['kernel', 'bias'].forEach((part, k) => {
      const tensor = weights.get(`${spec.name}/${part}`)!;
      const at = paths[k].split('/');
      float32Dataset(ensureGroup(layer, at.slice(0, -1).join('/')), at.at(-1)!, tensor.shape, tensor.values);
    });
  });
}

function writeOptimizerWeights(file: H5Group, names: string[]): void {
  // Adadelta's accumulators: present in real full-model files, ignored on import.
  const opt = file.create_group('optimizer_weights');
  setStringAttr(opt, 'weight_names', ['Adadelta/iter:0', `Adadelta/${names[0]}/kernel/accumulated_grad:0`]);
  const adadelta = opt.create_group('Adadelta');
  adadelta.create_dataset({ name: 'iter:0', data: new Int32Array([4690]), shape: [], dtype: '<i4' });
  float32Dataset(
    ensureGroup(adadelta, `${names[0]}/kernel`),
    'accumulated_grad:0',
    [3, 3, 1, 32],
    new Float32Array(288),
  );
}

export interface Fixture {
  /** Files to pass to the importer, in command-line order. */
  files: Record<string, Uint8Array | string>;
  names: string[];
}

/** Builds one layout's files (names are file names; write them anywhere). */
export async function buildFixture(layout: FixtureLayout, weights: WeightMap): Promise<Fixture> {
  switch (layout) {
    case 'keras21-list-json': {
      const names = kerasNames('from-1');
      const h5 = await buildH5((f) => writeLayerGroups(f, names, weights, '2.1.6', (l, p) => `${l}/${p}:0`));
      return { names, files: { 'model_digit.json': keras21Json(names), 'model_digit.h5': h5 } };
    }
    case 'keras2-input-layer': {
      const names = kerasNames('from-0');
      const h5 = await buildH5((f) => writeLayerGroups(f, names, weights, '2.15.0', (l, p) => `${l}/${p}:0`));
      return { names, files: { 'model.json': keras2Json(names), 'weights.h5': h5 } };
    }
    case 'keras2-full': {
      const names = kerasNames('from-1');
      const h5 = await buildH5((f) => {
        setStringAttr(f, 'keras_version', '2.4.0');
        setStringAttr(f, 'backend', 'tensorflow');
        setStringAttr(f, 'model_config', keras2Json(names));
        setStringAttr(
          f,
          'training_config',
          JSON.stringify({ loss: 'categorical_crossentropy', metrics: ['accuracy'] }),
        );
        writeLayerGroups(f.create_group('model_weights'), names, weights, '2.4.0', (l, p) => `${l}/${p}:0`);
        writeOptimizerWeights(f, names);
      });
      return { names, files: { 'mnist_cnn.h5': h5 } };
    }
    case 'keras3-legacy-h5': {
      const names = kerasNames('from-0');
      const h5 = await buildH5((f) => {
        setStringAttr(f, 'keras_version', '3.3.3');
        setStringAttr(f, 'backend', 'jax');
        setStringAttr(f, 'model_config', keras3Json(names));
        const group = f.create_group('model_weights');
        writeLayerGroups(group, names, weights, '3.3.3', (l, p) => `sequential/${l}/${p}`);
        setEmptyListAttr(group.create_group('top_level_model_weights'), 'weight_names');
        writeOptimizerWeights(f, names);
      });
      return { names, files: { 'model.h5': h5 } };
    }
    case 'keras3-weights-h5':
    case 'keras3-archive': {
      const names = kerasNames('from-0');
      const paths = keras3LayerPaths(LAYERS.map((s) => KERAS_CLASS[s.kind]));
      // Keras 3 before 3.10 created groups only for layers with variables: so do we, here.
      const h5 = await buildH5((f) => {
        LAYERS.forEach((spec, i) => {
          if (spec.kind !== 'conv2d' && spec.kind !== 'dense') return;
          const vars = ensureGroup(f, `${paths[i]}/vars`);
          ['kernel', 'bias'].forEach((part, k) => {
            const tensor = weights.get(`${spec.name}/${part}`)!;
            float32Dataset(vars, String(k), tensor.shape, tensor.values);
          });
        });
        ensureGroup(f, 'optimizer/vars');
      });
      if (layout === 'keras3-weights-h5')
        return { names, files: { 'model.json': keras3Json(names), 'model.weights.h5': h5 } };
      const encode = (s: string) => new TextEncoder().encode(s);
      const zip = zipSync(
        {
          'metadata.json': encode(JSON.stringify({ keras_version: '3.4.1', date_saved: '2026-11-29@10:00:00' })),
          'config.json': encode(keras3Json(names)),
          'model.weights.h5': h5,
        },
        { level: 0 },
      );
      return { names, files: { 'mnist.keras': zip } };
    }
  }
}

export const FIXTURE_LAYOUTS: FixtureLayout[] = [
  'keras21-list-json',
  'keras2-input-layer',
  'keras2-full',
  'keras3-legacy-h5',
  'keras3-weights-h5',
  'keras3-archive',
];
