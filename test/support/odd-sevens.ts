// A systematic kind of digit the committed model gets wrong: MNIST 7s with the stroke thickened
// (two 3×3-cross dilations) and pushed 5 px right and 5 px up, as 784 raw pixels (sent without
// ?normalize, so the model sees them off-centre). The model reads ~95% of them as something else,
// mostly 2. Corrections of this kind are what a fine-tune should learn from.
import { type DigitSet, IMAGE_SIZE, PIXEL_COUNT } from '../../src/shared/model-spec.ts';

export const ODD_SEVEN = { label: 7, shift: { x: 5, y: -5 }, dilations: 2 } as const;

function dilate(image: Uint8Array): Uint8Array {
  const out = new Uint8Array(PIXEL_COUNT);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      let max = image[y * IMAGE_SIZE + x];
      if (x > 0) max = Math.max(max, image[y * IMAGE_SIZE + x - 1]);
      if (x < IMAGE_SIZE - 1) max = Math.max(max, image[y * IMAGE_SIZE + x + 1]);
      if (y > 0) max = Math.max(max, image[(y - 1) * IMAGE_SIZE + x]);
      if (y < IMAGE_SIZE - 1) max = Math.max(max, image[(y + 1) * IMAGE_SIZE + x]);
      out[y * IMAGE_SIZE + x] = max;
    }
  }
  return out;
}

/** The odd version of one MNIST digit. */
export function oddSeven(digit: Uint8Array): Uint8Array {
  let image: Uint8Array = Uint8Array.from(digit);
  for (let i = 0; i < ODD_SEVEN.dilations; i++) image = dilate(image);
  const out = new Uint8Array(PIXEL_COUNT);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const sx = x - ODD_SEVEN.shift.x;
      const sy = y - ODD_SEVEN.shift.y;
      if (sx >= 0 && sx < IMAGE_SIZE && sy >= 0 && sy < IMAGE_SIZE)
        out[y * IMAGE_SIZE + x] = image[sy * IMAGE_SIZE + sx];
    }
  }
  return out;
}

/** Odd versions of the 7s of `set`, skipping the first `skip` of them, at most `count`. */
export function oddSevens(set: DigitSet, count: number, skip = 0): DigitSet {
  const images: Uint8Array[] = [];
  let seen = 0;
  for (let i = 0; i < set.count && images.length < count; i++) {
    if (set.labels[i] !== ODD_SEVEN.label || seen++ < skip) continue;
    images.push(oddSeven(set.images.subarray(i * PIXEL_COUNT, (i + 1) * PIXEL_COUNT)));
  }
  const out = new Uint8Array(images.length * PIXEL_COUNT);
  images.forEach((image, k) => {
    out.set(image, k * PIXEL_COUNT);
  });
  return { count: images.length, images: out, labels: new Uint8Array(images.length).fill(ODD_SEVEN.label) };
}
