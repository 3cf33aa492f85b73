// The Keras recipe's save format written from a model directory: read back with h5wasm (and h5py when the
// machine has it) and compared tensor by tensor with the tfjs model the Worker serves.
import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { INPUT_SHAPE, LAYERS, MODEL_DIR, parameterCount } from '../../src/shared/model-spec.ts';
import {
  KERAS_ARCHIVE_FILE,
  KERAS_H5_FILE,
  KERAS_JSON_FILE,
  writeKerasFiles,
} from '../../src/train/formats/keras/export.ts';
import { isDataset, isGroup, readH5, stringAttr, stringListAttr } from '../../src/train/formats/keras/h5.ts';
import { loadStoredModel, readModelDir } from '../../src/train/formats/model-dir.ts';
import { ensureWasmBackend } from '../../src/train/kernels/wasm-backend.ts';
import { sameFloats } from '../support/floats.ts';

let dir: string;
let tfjsWeights: Map<string, { shape: number[]; values: Float32Array }>;

beforeAll(async () => {
  await ensureWasmBackend();
  dir = path.join(await mkdtemp(path.join(tmpdir(), 'keras-export-')), 'model');
  await cp(MODEL_DIR, dir, { recursive: true });
  expect(await writeKerasFiles(dir, { keras3: true })).toEqual([KERAS_JSON_FILE, KERAS_H5_FILE, KERAS_ARCHIVE_FILE]);
  // The tfjs model exactly as a client loads it: stock loadLayersModel, dequantized.
  const model = await loadStoredModel(await readModelDir(dir));
  tfjsWeights = new Map(
    model.weights.map((w) => [
      w.originalName,
      { shape: w.shape as number[], values: w.read().dataSync() as Float32Array },
    ]),
  );
  model.dispose();
});

describe('model_digit.h5 (Keras 2 save_weights layout)', () => {
  it('has the root attributes and one group per layer with weight_names, as Keras writes them', async () => {
    await readH5(new Uint8Array(await readFile(path.join(dir, KERAS_H5_FILE))), (file) => {
      expect(stringListAttr(file, 'layer_names')).toEqual(LAYERS.map((l) => l.name));
      expect(stringAttr(file, 'backend')).toBe('tensorflow');
      expect(stringAttr(file, 'keras_version')).toMatch(/^2\.\d+\.\d+$/);
      expect(file.keys().sort()).toEqual(LAYERS.map((l) => l.name).sort());
      for (const spec of LAYERS) {
        const group = file.get(spec.name);
        expect(isGroup(group)).toBe(true);
        const names = stringListAttr(group as never, 'weight_names');
        const weighted = spec.kind === 'conv2d' || spec.kind === 'dense';
        expect(names).toEqual(weighted ? [`${spec.name}/kernel:0`, `${spec.name}/bias:0`] : []);
      }
    });
  });

  it('holds every tfjs tensor exactly, float32, in Keras shapes', async () => {
    let compared = 0;
    await readH5(new Uint8Array(await readFile(path.join(dir, KERAS_H5_FILE))), (file) => {
      for (const [name, tensor] of tfjsWeights) {
        const [layer, part] = name.split('/');
        const dataset = file.get(`${layer}/${layer}/${part}:0`);
        expect(isDataset(dataset), name).toBe(true);
        if (!isDataset(dataset)) continue;
        expect(dataset.dtype).toBe('<f');
        expect(dataset.shape).toEqual(tensor.shape);
        expect(sameFloats(dataset.value, tensor.values), name).toBe(true);
        compared++;
      }
    });
    expect(compared).toBe(8);
    expect(tfjsWeights.get('conv1/kernel')!.shape).toEqual([3, 3, 1, 32]); // Keras conv kernels: [kh, kw, in, out]
    expect(tfjsWeights.get('dense1/kernel')!.shape).toEqual([9216, 128]); // Keras dense kernels: [in, out]
  });

  // An outside reader: Debian's python3-h5py, when installed (apt-get install python3-h5py).
  const python = ['/usr/bin/python3'].find(
    (p) => spawnSync(p, ['-c', 'import h5py'], { stdio: 'ignore' }).status === 0,
  );
  it.skipIf(!python)('reads the same with h5py', () => {
    const script = `
import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
out = {'layer_names': [n.decode() for n in f.attrs['layer_names']], 'backend': f.attrs['backend'].decode(), 'sums': {}}
for layer in out['layer_names']:
    for w in f[layer].attrs['weight_names']:
        d = f[layer][w.decode()]
        out['sums'][w.decode()] = [list(d.shape), str(d.dtype), float(d[()].astype('float64').sum())]
print(json.dumps(out))`;
    const out = JSON.parse(execFileSync(python!, ['-c', script, path.join(dir, KERAS_H5_FILE)], { encoding: 'utf8' }));
    expect(out.layer_names).toEqual(LAYERS.map((l) => l.name));
    expect(out.backend).toBe('tensorflow');
    for (const [name, tensor] of tfjsWeights) {
      const [shape, dtype, sum] = out.sums[`${name}:0`];
      expect(shape).toEqual(tensor.shape);
      expect(dtype).toBe('float32');
      expect(sum).toBeCloseTo(
        tensor.values.reduce((a, b) => a + b, 0),
        2,
      );
    }
  });
});

describe('model_digit.json (model.to_json())', () => {
  it("lists the Keras recipe's layers with the right shapes", async () => {
    const json = JSON.parse(await readFile(path.join(dir, KERAS_JSON_FILE), 'utf8'));
    expect(json.class_name).toBe('Sequential');
    const [input, ...layers] = json.config.layers as { class_name: string; config: Record<string, unknown> }[];
    expect(input).toMatchObject({ class_name: 'InputLayer', config: { batch_input_shape: [null, ...INPUT_SHAPE] } });
    expect(layers.map((l) => [l.class_name, l.config.name])).toEqual([
      ['Conv2D', 'conv1'],
      ['Conv2D', 'conv2'],
      ['MaxPooling2D', 'pool'],
      ['Dropout', 'dropout1'],
      ['Flatten', 'flatten'],
      ['Dense', 'dense1'],
      ['Dropout', 'dropout2'],
      ['Dense', 'output'],
    ]);
    expect(layers[0].config).toMatchObject({
      filters: 32,
      kernel_size: [3, 3],
      strides: [1, 1],
      padding: 'valid',
      activation: 'relu',
    });
    expect(layers[1].config).toMatchObject({ filters: 64, kernel_size: [3, 3], activation: 'relu' });
    expect(layers[2].config).toMatchObject({ pool_size: [2, 2] });
    expect(layers[3].config).toMatchObject({ rate: 0.25 });
    expect(layers[5].config).toMatchObject({ units: 128, activation: 'relu' });
    expect(layers[6].config).toMatchObject({ rate: 0.5 });
    expect(layers[7].config).toMatchObject({ units: 10, activation: 'softmax' });
    // tfjs reads Keras JSON too: the same architecture gives the same output shape and parameter count.
    const rebuilt = await tf.models.modelFromJSON({ modelTopology: json });
    expect(rebuilt.outputs[0].shape).toEqual([null, 10]);
    expect(rebuilt.countParams()).toBe(parameterCount());
    rebuilt.dispose();
  });
});

describe('model_digit.keras (Keras 3 archive)', () => {
  it('zips config.json, metadata.json and model.weights.h5 with /layers/<class>/vars/<i>', async () => {
    const entries = unzipSync(new Uint8Array(await readFile(path.join(dir, KERAS_ARCHIVE_FILE))));
    expect(Object.keys(entries).sort()).toEqual(['config.json', 'metadata.json', 'model.weights.h5']);
    const config = JSON.parse(new TextDecoder().decode(entries['config.json']));
    expect(config).toMatchObject({ module: 'keras', class_name: 'Sequential' });
    expect(JSON.parse(new TextDecoder().decode(entries['metadata.json'])).keras_version).toMatch(/^3\./);
    await readH5(entries['model.weights.h5'], (file) => {
      const expected: Record<string, string> = {
        'layers/conv2d': 'conv1',
        'layers/conv2d_1': 'conv2',
        'layers/dense': 'dense1',
        'layers/dense_1': 'output',
      };
      for (const [at, name] of Object.entries(expected)) {
        const kernel = file.get(`${at}/vars/0`);
        const bias = file.get(`${at}/vars/1`);
        if (!isDataset(kernel) || !isDataset(bias)) throw new Error(`${at} missing`);
        expect(sameFloats(kernel.value, tfjsWeights.get(`${name}/kernel`)!.values)).toBe(true);
        expect(sameFloats(bias.value, tfjsWeights.get(`${name}/bias`)!.values)).toBe(true);
      }
    });
  });

  it('leaves no temporary files in the model directory', async () => {
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
