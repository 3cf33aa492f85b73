// The robustness report: MNIST's test digits under one kind of distortion at a time, each sent as
// a picture (PNG or JPEG bytes) through the Worker's own decoding and normalisation
// (`imageToDigit`), then classified by the stored model with stock tfjs. MNIST accuracy says how
// well a model reads MNIST; these rows say how well it reads what people send.
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { type DigitSet, NUM_CLASSES, PIXEL_COUNT } from '../../shared/model-spec.ts';
import type { GrayImage } from '../../shared/normalize.ts';
import { seededRandom } from '../../shared/random.ts';
import { resample } from '../../shared/resample.ts';
import { imageToDigit } from '../../worker/input/decode-image.ts';
import { type Distortion, elasticField, NO_DISTORTION, renderDistorted } from '../data/augment.ts';

export interface RobustnessKind {
  name: string;
  description: string;
  /** The picture of test digit `pixels`, as a client would send it. */
  picture(pixels: Uint8Array, random: () => number): { bytes: Uint8Array; mediaType: 'image/png' | 'image/jpeg' };
}

const sign = (random: () => number) => (random() < 0.5 ? -1 : 1);

/** A distorted digit as a dark-on-white PNG, enlarged `scale`× as a drawing or a scan would be. */
function distortedPng(pixels: Uint8Array, distortion: Partial<Distortion>, scale = 4) {
  const picture = enlarge(renderDistorted(pixels, { ...NO_DISTORTION, inverted: true, ...distortion }), scale);
  return { bytes: encodeGray(picture), mediaType: 'image/png' as const };
}

function enlarge(image: GrayImage, scale: number): GrayImage {
  if (scale === 1) return image;
  const float = { width: image.width, height: image.height, data: Float32Array.from(image.data) };
  const big = resample(float, image.width * scale, image.height * scale);
  const data = new Uint8Array(big.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(big.data[i]);
  return { width: big.width, height: big.height, data };
}

function encodeGray(image: GrayImage): Uint8Array {
  return encodePng({ width: image.width, height: image.height, data: image.data, channels: 1, depth: 8 });
}

function encodeJpeg(image: GrayImage, quality: number): Uint8Array {
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let i = 0; i < image.width * image.height; i++) {
    rgba.fill(image.data[i], 4 * i, 4 * i + 3);
    rgba[4 * i + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width: image.width, height: image.height, data: rgba }, quality).data);
}

/** Pastes `image` onto white paper of `width`×`height` at (x, y). */
function onPaper(image: GrayImage, width: number, height: number, x: number, y: number): GrayImage {
  const data = new Uint8Array(width * height).fill(255);
  for (let row = 0; row < image.height; row++) {
    data.set(image.data.subarray(row * image.width, (row + 1) * image.width), (y + row) * width + x);
  }
  return { width, height, data };
}

export const ROBUSTNESS_KINDS: readonly RobustnessKind[] = [
  {
    name: 'rotated',
    description: 'rotated by 20° either way',
    picture: (pixels, random) => distortedPng(pixels, { rotation: 20 * sign(random) }),
  },
  {
    name: 'slanted',
    description: 'slanted by a shear of 0.4 either way',
    picture: (pixels, random) => distortedPng(pixels, { shear: 0.4 * sign(random) }),
  },
  {
    name: 'stretched',
    description: 'stretched to fill a 20×32 box (aspect ratio not kept)',
    picture: (pixels) => distortedPng(pixels, { box: 'fill' }),
  },
  {
    name: 'thick',
    description: 'strokes 2 px wider (at 28×28)',
    picture: (pixels) => distortedPng(pixels, { thickness: 2 }),
  },
  {
    name: 'thin',
    description: 'strokes 1 px narrower (at 28×28)',
    picture: (pixels) => distortedPng(pixels, { thickness: -1 }),
  },
  {
    name: 'blurred',
    description: 'Gaussian blur, σ 1.5 px (at 28×28)',
    picture: (pixels) => distortedPng(pixels, { blur: 1.5 }),
  },
  {
    name: 'elastic',
    description: 'elastic distortion (displacements of 1.5 px std on a 5-px grid)',
    picture: (pixels, random) =>
      distortedPng(pixels, { elastic: elasticField({ share: 1, displacement: 1.5, spacing: 5 }, random) }),
  },
  {
    name: 'nist-8x8',
    description: "NIST's 8×8 thumbnails: binary, filling a 20×32 box, 4×4 ink counts, sent as 64×64 PNG",
    picture: (pixels) => distortedPng(pixels, { box: 'nist' }, 1),
  },
  {
    name: 'low-resolution',
    description: 'the ink 10 px tall, enlarged 6× as blocks would be',
    picture: (pixels) => distortedPng(pixels, { lowResolution: 10 }, 6),
  },
  {
    name: 'off-centre',
    description: 'a 60-px digit anywhere on a 640×480 page',
    picture: (pixels, random) => {
      const digit = enlarge(renderDistorted(pixels, { ...NO_DISTORTION, inverted: true }), 2);
      const [width, height] = [640, 480];
      const x = Math.floor(random() * (width - digit.width));
      const y = Math.floor(random() * (height - digit.height));
      return { bytes: encodeGray(onPaper(digit, width, height, x, y)), mediaType: 'image/png' };
    },
  },
  {
    name: 'jpeg-q15',
    description: 'a 112-px picture saved as JPEG at quality 15',
    picture: (pixels) => {
      const picture = enlarge(renderDistorted(pixels, { ...NO_DISTORTION, inverted: true }), 3);
      return { bytes: encodeJpeg(picture, 15), mediaType: 'image/jpeg' };
    },
  },
];

/** The digits a model sees for one kind: each test picture decoded and normalised by the Worker's code. */
export async function distortedSet(test: DigitSet, kind: RobustnessKind, seed = 1): Promise<DigitSet> {
  const images = new Uint8Array(test.count * PIXEL_COUNT);
  for (let i = 0; i < test.count; i++) {
    const random = seededRandom(seed * 100_003 + i);
    const { bytes, mediaType } = kind.picture(test.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT), random);
    images.set(await imageToDigit(bytes, mediaType), i * PIXEL_COUNT);
  }
  return { count: test.count, images, labels: test.labels };
}

export interface RobustnessRow {
  kind: string;
  description: string;
  count: number;
  accuracy: number;
}

/** Accuracy of `predict` (softmax outputs per digit) on every kind. */
export async function robustnessRows(
  test: DigitSet,
  predict: (set: DigitSet) => Promise<Float32Array>,
  kinds: readonly RobustnessKind[] = ROBUSTNESS_KINDS,
): Promise<RobustnessRow[]> {
  const rows: RobustnessRow[] = [];
  for (const kind of kinds) {
    const set = await distortedSet(test, kind);
    const probabilities = await predict(set);
    rows.push({
      kind: kind.name,
      description: kind.description,
      count: set.count,
      accuracy: accuracy(probabilities, set.labels),
    });
  }
  return rows;
}

function accuracy(probabilities: Float32Array, labels: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < NUM_CLASSES; c++)
      if (probabilities[i * NUM_CLASSES + c] > probabilities[i * NUM_CLASSES + best]) best = c;
    if (best === labels[i]) correct++;
  }
  return correct / labels.length;
}
