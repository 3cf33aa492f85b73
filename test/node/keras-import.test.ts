// Keras files in every layout Keras 2.0 to 3 writes → the project's model directory; refusals.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DigitSet, LAYERS, MODEL_DIR, PIXEL_COUNT, parameterCount } from '../../src/shared/model-spec.ts';
import { take } from '../../src/train/data/mnist.ts';
import { ArchitectureError } from '../../src/train/formats/keras/architecture.ts';
import {
  KERAS_ARCHIVE_FILE,
  KERAS_H5_FILE,
  KERAS_JSON_FILE,
  writeKerasFiles,
} from '../../src/train/formats/keras/export.ts';
import type { WeightMap } from '../../src/train/formats/keras/weights.ts';
import { loadStoredModel, readModelDir } from '../../src/train/formats/model-dir.ts';
import { ensureWasmBackend } from '../../src/train/kernels/wasm-backend.ts';
import { predictProbabilities } from '../../src/train/report/evaluation.ts';
import { importKeras, readKerasModel, tfjsModelWith } from '../../src/train/run/keras-import.ts';
import { parseArtifacts } from '../../src/worker/inference/artifacts.ts';
import { DigitClassifier } from '../../src/worker/inference/classifier.ts';
import { sameFloats } from '../support/floats.ts';
import {
  buildFixture,
  committedWeights,
  FIXTURE_LAYOUTS,
  keras2Json,
  kerasNames,
  layerJson,
} from '../support/keras-fixtures.ts';
import { loadMnistTest } from '../support/mnist-files.ts';

let weights: WeightMap;
let digits: DigitSet;
let reference: Float32Array;

async function writeFiles(files: Record<string, Uint8Array | string>): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keras-in-'));
  return Promise.all(
    Object.entries(files).map(async ([name, content]) => {
      await writeFile(path.join(dir, name), content);
      return path.join(dir, name);
    }),
  );
}

beforeAll(async () => {
  await ensureWasmBackend();
  weights = await committedWeights();
  digits = take(loadMnistTest(), 200); // real digits; the CLI measures all 10,000
  const model = await loadStoredModel(await readModelDir(MODEL_DIR));
  reference = await predictProbabilities(model, digits);
  model.dispose();
});

describe('every Keras layout', () => {
  const expected: Record<string, [string, string | null]> = {
    'keras21-list-json': ['keras2-weights', '2.1.6'],
    'keras2-input-layer': ['keras2-weights', '2.15.0'],
    'keras2-full': ['full-model', '2.4.0'],
    'keras3-legacy-h5': ['full-model', '3.3.3'],
    'keras3-weights-h5': ['keras3-weights', null],
    'keras3-archive': ['keras3-archive', '3.4.1'],
  };
  it.each(FIXTURE_LAYOUTS)(
    '%s: weights matched by order and shape, predictions as the committed model',
    async (layout) => {
      const fixture = await buildFixture(layout, weights);
      const keras = await readKerasModel(await writeFiles(fixture.files));
      expect([keras.format, keras.kerasVersion]).toEqual(expected[layout]);
      for (const [name, tensor] of weights)
        expect(sameFloats(keras.weights.get(name)!.values, tensor.values), name).toBe(true);
      const model = tfjsModelWith(keras.weights);
      const probs = await predictProbabilities(model, digits);
      model.dispose();
      expect(sameFloats(probs, reference)).toBe(true);
    },
  );
});

describe('importKeras', () => {
  it('writes a model directory the Worker engine serves, with metadata and the report', async () => {
    const fixture = await buildFixture('keras2-full', weights);
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'keras-out-')), 'model');
    const result = await importKeras(await writeFiles(fixture.files), { outDir: out, testSet: digits });
    expect((await readdir(out)).sort()).toEqual([
      'confusion.png',
      'evaluation.json',
      'metadata.json',
      'mistakes.png',
      'model.json',
      'model_digit.h5',
      'model_digit.json',
      'weights.bin',
    ]);
    const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8'));
    expect(metadata).toMatchObject({
      version: result.version,
      parameters: parameterCount(),
      source: { kind: 'keras', kerasVersion: '2.4.0', files: ['mnist_cnn.h5'] },
      test: { images: 200 },
      quantization: { dtype: 'uint8' },
    });
    expect(metadata.test.accuracy).toBeGreaterThan(0.97);
    expect(Math.abs(metadata.quantization.test.accuracy - metadata.test.accuracy)).toBeLessThan(0.01);
    // The Worker's own parser and engine accept it as they accept the committed model.
    const stored = await readModelDir(out);
    const buffer = stored.weights.buffer.slice(
      stored.weights.byteOffset,
      stored.weights.byteOffset + stored.weights.byteLength,
    ) as ArrayBuffer;
    const classifier = DigitClassifier.load(parseArtifacts(JSON.parse(stored.modelJson), metadata, buffer));
    const predictions = await classifier.classify(Float32Array.from(digits.images.subarray(0, 10 * PIXEL_COUNT)), 10);
    expect(predictions.map((p) => p.digit)).toEqual(Array.from(digits.labels.subarray(0, 10)));
  });

  it('export → import gives back the same stored weights and identical predictions', async () => {
    const exported = path.join(await mkdtemp(path.join(tmpdir(), 'keras-rt-')), 'model');
    await cp(MODEL_DIR, exported, { recursive: true });
    await writeKerasFiles(exported, { keras3: true });
    const original = await readModelDir(exported);
    for (const files of [[KERAS_JSON_FILE, KERAS_H5_FILE], [KERAS_ARCHIVE_FILE]]) {
      const out = `${exported}-${files.length}`;
      await importKeras(
        files.map((f) => path.join(exported, f)),
        { outDir: out, testSet: take(digits, 100) },
      );
      const imported = await readModelDir(out);
      // Dequantized uint8 re-quantizes to the very same bytes: same version, same predictions.
      expect(Buffer.from(imported.weights).equals(Buffer.from(original.weights))).toBe(true);
      const model = await loadStoredModel(imported);
      expect(sameFloats(await predictProbabilities(model, digits), reference)).toBe(true);
      model.dispose();
    }
  });
});

describe('another architecture', () => {
  const names = kerasNames('from-0');
  const variant = (index: number, extra: Record<string, unknown>) =>
    keras2Json(
      names,
      LAYERS.map((s, i) => layerJson(s, names[i], i === index ? extra : {})),
    );

  it.each([
    [
      '5×5 kernels',
      variant(1, { kernel_size: [5, 5] }),
      /layer 2 \(conv2d_1\) is Conv2D 64 filters 5×5.*expected Conv2D 64 filters 3×3/,
    ],
    [
      'same padding',
      variant(0, { padding: 'same' }),
      /layer 1 \(conv2d\) is Conv2D 32 filters 3×3, strides 1×1, padding same/,
    ],
    [
      'a sigmoid hidden layer',
      variant(5, { activation: 'sigmoid' }),
      /layer 6 \(dense\) is Dense 128 units, activation sigmoid, expected Dense 128 units, activation relu/,
    ],
    ['256 hidden units', variant(5, { units: 256 }), /layer 6 \(dense\) is Dense 256 units/],
    ['channels_first', variant(0, { data_format: 'channels_first' }), /layer 1 \(conv2d\) .*channels_first/],
    [
      'no second convolution',
      keras2Json(
        ['conv2d', 'max_pooling2d', 'dropout', 'flatten', 'dense', 'dropout_1', 'dense_1'],
        LAYERS.filter((_, i) => i !== 1).map((s, i) => layerJson(s, `l${i}`)),
      ),
      /layer 2 \(l1\) is MaxPooling2D 2×2.*expected Conv2D 64 filters 3×3/,
    ],
    [
      'an extra layer',
      keras2Json(
        [...names, 'extra'],
        [
          ...LAYERS.map((s, i) => layerJson(s, names[i])),
          { class_name: 'Activation', config: { name: 'extra', activation: 'linear' } },
        ],
      ),
      /layer 9 \(extra, Activation\) comes after the output layer/,
    ],
    [
      'a functional model',
      JSON.stringify({ class_name: 'Functional', config: { layers: [] } }),
      /is a Keras Functional/,
    ],
  ])('%s: refused with the first differing layer, nothing written', async (_, json, message) => {
    const fixture = await buildFixture('keras2-input-layer', weights);
    const [jsonFile, h5File] = await writeFiles({ ...fixture.files, 'model.json': json });
    const parent = await mkdtemp(path.join(tmpdir(), 'keras-refused-'));
    const error = await importKeras([jsonFile, h5File], { outDir: path.join(parent, 'model'), testSet: digits }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ArchitectureError);
    expect(error.message).toMatch(message);
    expect(await readdir(parent)).toEqual([]);
  });

  it('weights of other shapes are refused even with a matching JSON', async () => {
    const fixture = await buildFixture('keras2-input-layer', weights);
    const other = new Map(weights);
    other.set('dense1/kernel', { shape: [9216, 64], values: new Float32Array(9216 * 64) });
    other.set('dense1/bias', { shape: [64], values: new Float32Array(64) });
    const wrong = await buildFixture('keras2-input-layer', other);
    const files = await writeFiles({
      'model.json': fixture.files['model.json'],
      'weights.h5': wrong.files['weights.h5'],
    });
    await expect(readKerasModel(files)).rejects.toThrow(
      /layer dense \(weighted layer 3\) holds \[9216, 64\] and \[64\]; the Keras recipe's dense1 needs kernel \[9216, 128\]/,
    );
  });

  it('the CLI prints the reason without a stack trace, exits 1 and leaves no directory', async () => {
    const fixture = await buildFixture('keras3-archive', weights);
    const { unzipSync, zipSync } = await import('fflate');
    const entries = unzipSync(fixture.files['mnist.keras'] as Uint8Array);
    const config = JSON.parse(new TextDecoder().decode(entries['config.json']));
    config.config.layers[1].config.filters = 16; // the first convolution, after the InputLayer
    entries['config.json'] = new TextEncoder().encode(JSON.stringify(config));
    const [file] = await writeFiles({ 'other.keras': zipSync(entries) });
    const parent = await mkdtemp(path.join(tmpdir(), 'keras-cli-'));
    await mkdir(parent, { recursive: true });
    const failure = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/train/import.ts', file, '--out', path.join(parent, 'model')],
      {
        cwd: path.resolve(__dirname, '../..'),
      },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 1 });
    const stderr = (failure as { stderr: string }).stderr;
    expect(stderr).toMatch(
      /other\.keras: not the Keras recipe's architecture: layer 1 \(conv2d\) is Conv2D 16 filters/,
    );
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(parent)).toEqual([]);
  });

  it('a weights-only file without its JSON asks for the JSON', async () => {
    const fixture = await buildFixture('keras2-input-layer', weights);
    const files = await writeFiles(fixture.files);
    await expect(readKerasModel([files[1]])).rejects.toThrow(/holds only weights .*give the architecture too/);
    const k3 = await writeFiles((await buildFixture('keras3-weights-h5', weights)).files);
    await expect(readKerasModel([k3[1]])).rejects.toThrow(/Keras 3 weights file .* Give the model's JSON too/);
  });
});

// An outside writer: h5py (Debian's python3-h5py, when installed) making the same calls as Keras 2's
// hdf5_format.save_model_to_hdf5: numpy bytes arrays for names, [] for weightless layers.
const python = ['/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import h5py'], { stdio: 'ignore' }).status === 0);
it.skipIf(!python)('reads a full-model .h5 written by h5py the way Keras 2 writes it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keras-h5py-'));
  const exported = path.join(dir, 'model');
  await cp(MODEL_DIR, exported, { recursive: true });
  await writeKerasFiles(exported);
  const script = `
import h5py, json, sys, numpy as np
src = h5py.File(sys.argv[1] + '/model_digit.h5', 'r')
arch = json.load(open(sys.argv[1] + '/model_digit.json'))
ours = [l['config']['name'] for l in arch['config']['layers'][1:]]
theirs = ['conv2d_1', 'conv2d_2', 'max_pooling2d_1', 'dropout_1', 'flatten_1', 'dense_1', 'dropout_2', 'dense_2']
for l, n in zip(arch['config']['layers'][1:], theirs): l['config']['name'] = n
f = h5py.File(sys.argv[2], 'w')
f.attrs['keras_version'] = b'2.2.4'
f.attrs['backend'] = b'tensorflow'
f.attrs['model_config'] = json.dumps(arch).encode('utf8')
g = f.create_group('model_weights')
g.attrs['layer_names'] = np.asarray([n.encode('utf8') for n in theirs])
for o, n in sorted(zip(ours, theirs), key=lambda p: p[1]):
    lg = g.create_group(n)
    names = [w.decode().replace(o + '/', n + '/').encode('utf8') for w in src[o].attrs['weight_names']]
    lg.attrs['weight_names'] = names
    for w, nn in zip(src[o].attrs['weight_names'], names):
        lg.create_dataset(nn.decode(), data=src[o][w.decode()][()].astype('float64'))
f.create_group('optimizer_weights').attrs['weight_names'] = [b'Adadelta/iterations:0']
f.close()`;
  const file = path.join(dir, 'keras2.h5');
  execFileSync(python!, ['-c', script, exported, file]);
  const keras = await readKerasModel([file]);
  expect(keras).toMatchObject({ format: 'full-model', kerasVersion: '2.2.4' });
  const model = tfjsModelWith(keras.weights);
  expect(sameFloats(await predictProbabilities(model, digits), reference)).toBe(true);
  model.dispose();
});

// Keep tfjs's memory in check across the many models built above.
it('disposes what it builds', () => {
  expect(tf.memory().numTensors).toBeLessThan(200);
});

it('a truncated or foreign file gets a one-line reason', async () => {
  const fixture = await buildFixture('keras2-full', weights);
  const whole = fixture.files['mnist_cnn.h5'] as Uint8Array;
  const [truncated, zip, text] = await writeFiles({
    'cut.h5': whole.subarray(0, 100_000),
    'cut.keras': new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]),
    'notes.txt': 'hello',
  });
  await expect(readKerasModel([truncated])).rejects.toThrow(/cut\.h5: not a readable HDF5 file \(truncated file/);
  await expect(readKerasModel([zip])).rejects.toThrow(/cut\.keras: not a readable zip archive/);
  await expect(readKerasModel([text])).rejects.toThrow(/notes\.txt: neither JSON, HDF5 nor a \.keras archive/);
});
