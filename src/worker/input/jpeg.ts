// Baseline JPEG → its luma plane at 1/1, 1/2, 1/4 or 1/8 scale (DCT scaling), in plain TypeScript.
//
// Gray is all the digit pipeline needs, and JPEG stores it: the Y component. So chroma blocks are
// entropy-decoded (they have to be, to find the next block) but never transformed, upsampled or
// colour-converted, and each luma block is transformed straight to the n×n block means the
// reduction needs (n = 8, 4, 2 or 1 per 8×8 block): the inverse DCT is evaluated only at the
// coefficients that are not zero (a few per block on paper and skin), and at 1/8 scale a block
// is just its DC term. Huffman codes are read with 9-bit lookup tables. A 12 MP phone photo thus
// becomes a 500×375 gray picture in one pass, with memory for that picture only.
//
// Baseline (SOF0/SOF1) with one interleaved scan, or one component, 8-bit samples, YCbCr or gray:
// what cameras, phones and canvas.toBlob write. Anything else (progressive, arithmetic, CMYK,
// 12-bit, multi-scan) returns undefined and the caller falls back to jpeg-js.

import type { GrayImage } from '../../shared/normalize.ts';
import { roundHalfUp } from '../../shared/round.ts';
import { ApiError } from '../errors.ts';

const invalid = (message: string) => new ApiError(422, 'invalid_image', `The JPEG could not be decoded: ${message}.`);

/** Zigzag index → natural (row-major) index in the 8×8 block. */
const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
  55, 62, 63,
]);

/**
 * BLOCK_MEANS[n][i·8 + u]: the mean over output cell i (of n across the block) of the 1-D
 * inverse-DCT basis function u, so a block's n×n cell means are Σ F(v,u)·M[i][v]·M[j][u].
 */
const BLOCK_MEANS: Record<number, Float64Array> = {};
for (const n of [1, 2, 4, 8]) {
  const m = new Float64Array(n * 8);
  const size = 8 / n;
  for (let i = 0; i < n; i++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let x = i * size; x < (i + 1) * size; x++)
        sum += ((u === 0 ? Math.SQRT1_2 : 1) / 2) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
      m[i * 8 + u] = sum / size;
    }
  }
  BLOCK_MEANS[n] = m;
}

interface Huffman {
  /** 9-bit lookup: (code length << 8) | value, 0 when the code is longer. */
  lut: Uint16Array;
  maxCode: Int32Array;
  valPtr: Int32Array;
  values: Uint8Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const lut = new Uint16Array(512);
  const maxCode = new Int32Array(18).fill(-1);
  const valPtr = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    valPtr[length] = k - code;
    const count = counts[length - 1];
    for (let i = 0; i < count; i++, k++, code++) {
      if (k >= values.length) throw invalid('a Huffman table is inconsistent');
      if (length <= 9) {
        const shift = 9 - length;
        for (let fill = code << shift, end = (code + 1) << shift; fill < end; fill++)
          lut[fill] = (length << 8) | values[k];
      }
    }
    maxCode[length] = count ? code - 1 : -1;
    if (code > 1 << length) throw invalid('a Huffman table is inconsistent');
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff;
  return { lut, maxCode, valPtr, values };
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  dc?: Huffman;
  ac?: Huffman;
  pred: number;
}

export interface JpegLuma {
  /** Luma at the chosen scale. */
  image: GrayImage;
  /** The file's own size. */
  width: number;
  height: number;
}

/**
 * Decodes the luma of a baseline JPEG at scale 1/`denominator` (1, 2, 4 or 8): each side
 * ceil(side / denominator). Returns undefined for files this decoder does not cover; throws 422
 * `invalid_image` for corrupt ones.
 */
export function decodeJpegLuma(data: Uint8Array, denominator: 1 | 2 | 4 | 8): JpegLuma | undefined {
  const quant: Array<Uint16Array | undefined> = [];
  const dcTables: Array<Huffman | undefined> = [];
  const acTables: Array<Huffman | undefined> = [];
  let frame: { width: number; height: number; components: Component[]; maxH: number; maxV: number } | undefined;
  let restartInterval = 0;
  let adobeTransform = -1;
  let pos = 2;
  const u16 = (i: number) => (data[i] << 8) | data[i + 1];

  for (;;) {
    if (pos + 4 > data.length) throw invalid('no scan before the end of the file');
    if (data[pos] !== 0xff) throw invalid('bad segment marker');
    const marker = data[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const length = u16(pos + 2);
    const start = pos + 4;
    const end = pos + 2 + length;
    if (end > data.length) throw invalid('a segment runs past the end of the file');
    switch (marker) {
      case 0xdb: // DQT
        for (let i = start; i < end; ) {
          const precision = data[i] >> 4;
          const id = data[i] & 15;
          const table = new Uint16Array(64);
          for (let k = 0; k < 64; k++) table[k] = precision ? u16(i + 1 + 2 * k) : data[i + 1 + k];
          quant[id] = table;
          i += 1 + 64 * (precision ? 2 : 1);
        }
        break;
      case 0xc4: // DHT
        for (let i = start; i < end; ) {
          const tableClass = data[i] >> 4;
          const id = data[i] & 15;
          const counts = data.subarray(i + 1, i + 17);
          const total = counts.reduce((a, b) => a + b, 0);
          const table = buildHuffman(counts, data.subarray(i + 17, i + 17 + total));
          (tableClass ? acTables : dcTables)[id] = table;
          i += 17 + total;
        }
        break;
      case 0xdd: // DRI
        restartInterval = u16(start);
        break;
      case 0xee: // APP14 Adobe: colour transform flag
        if (length >= 14 && String.fromCharCode(...data.subarray(start, start + 5)) === 'Adobe')
          adobeTransform = data[start + 11];
        break;
      case 0xc0: // SOF0 baseline
      case 0xc1: {
        // SOF1 extended sequential, Huffman
        if (data[start] !== 8) return undefined; // 12-bit samples
        const height = u16(start + 1);
        const width = u16(start + 3);
        const count = data[start + 5];
        if (!width || !height || !(count === 1 || count === 3)) return undefined;
        const components: Component[] = [];
        for (let c = 0; c < count; c++) {
          const o = start + 6 + 3 * c;
          components.push({ id: data[o], h: data[o + 1] >> 4, v: data[o + 1] & 15, tq: data[o + 2], pred: 0 });
        }
        if (components.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) throw invalid('bad sampling factors');
        frame = {
          width,
          height,
          components,
          maxH: Math.max(...components.map((c) => c.h)),
          maxV: Math.max(...components.map((c) => c.v)),
        };
        // Luma must be the full-resolution component.
        if (components[0].h !== frame.maxH || components[0].v !== frame.maxV) return undefined;
        if (count === 3 && adobeTransform === 0) return undefined; // RGB, not YCbCr
        break;
      }
      case 0xc2:
      case 0xc3:
      case 0xc5:
      case 0xc6:
      case 0xc7:
      case 0xc9:
      case 0xca:
      case 0xcb:
      case 0xcd:
      case 0xce:
      case 0xcf:
        return undefined; // progressive, lossless, arithmetic
      case 0xda: {
        // SOS
        if (!frame) throw invalid('a scan before the frame header');
        const count = data[start];
        if (count !== frame.components.length) return undefined; // non-interleaved multi-scan
        const scan: Component[] = [];
        for (let c = 0; c < count; c++) {
          const id = data[start + 1 + 2 * c];
          const tables = data[start + 2 + 2 * c];
          const component = frame.components.find((x) => x.id === id);
          if (!component) throw invalid('a scan names an unknown component');
          component.dc = dcTables[tables >> 4];
          component.ac = acTables[tables & 15];
          if (!component.dc || !component.ac) throw invalid('a scan uses an undefined Huffman table');
          scan.push(component);
        }
        const luma = quant[frame.components[0].tq];
        if (!luma) throw invalid('the luma quantisation table is missing');
        return {
          image: decodeScan(data, end, frame, scan, luma, restartInterval, denominator),
          width: frame.width,
          height: frame.height,
        };
      }
      case 0xd9:
        throw invalid('the file ends before its scan');
      default:
        break; // APPn, COM, …
    }
    pos = end;
  }
}

function decodeScan(
  data: Uint8Array,
  start: number,
  frame: { width: number; height: number; components: Component[]; maxH: number; maxV: number },
  scan: Component[],
  lumaQuant: Uint16Array,
  restartInterval: number,
  denominator: number,
): GrayImage {
  const n = 8 / denominator;
  const means = BLOCK_MEANS[n];
  const outWidth = Math.ceil(frame.width / denominator);
  const outHeight = Math.ceil(frame.height / denominator);
  const out = new Uint8Array(outWidth * outHeight);
  const single = scan.length === 1;
  const luma = frame.components[0];
  const mcusX = single ? Math.ceil(frame.width / 8) : Math.ceil(frame.width / (8 * frame.maxH));
  const mcusY = single ? Math.ceil(frame.height / 8) : Math.ceil(frame.height / (8 * frame.maxV));
  const totalMcus = mcusX * mcusY;

  // Bit reader over the entropy-coded data (0xFF00 unstuffed; at a marker, zeros are fed).
  let pos = start;
  let bits = 0;
  let count = 0;
  let zerosFed = 0;
  const fill = () => {
    while (count <= 24) {
      let byte = 0;
      if (pos < data.length) {
        byte = data[pos];
        if (byte === 0xff) {
          const next = data[pos + 1];
          if (next === 0) pos += 2;
          else {
            byte = 0; // a marker: stay on it
            zerosFed++;
          }
        } else pos++;
      } else zerosFed++;
      bits = (bits << 8) | byte;
      count += 8;
    }
    if (zerosFed > 64) throw invalid('the scan ends early');
  };
  const decode = (table: Huffman): number => {
    if (count < 16) fill();
    const entry = table.lut[(bits >>> (count - 9)) & 511];
    if (entry) {
      count -= entry >> 8;
      return entry & 255;
    }
    for (let length = 10; length <= 16; length++) {
      const code = (bits >>> (count - length)) & ((1 << length) - 1);
      if (code <= table.maxCode[length]) {
        count -= length;
        return table.values[table.valPtr[length] + code];
      }
    }
    throw invalid('bad Huffman code');
  };
  const receive = (size: number): number => {
    if (count < size) fill();
    const value = (bits >>> (count - size)) & ((1 << size) - 1);
    count -= size;
    return value < 1 << (size - 1) ? value - (1 << size) + 1 : value;
  };

  const nonzeroAt = new Int32Array(64);
  const nonzeroValue = new Float64Array(64);
  const cell = new Float64Array(n * n);
  const coefficients = new Float64Array(64);
  const lastColumn = new Int8Array(8).fill(-1);

  /** Decodes one block; for luma, writes its n×n cell means at block (bx, by). */
  const block = (component: Component, isLuma: boolean, bx: number, by: number) => {
    const dcSize = decode(component.dc!);
    if (dcSize > 11) throw invalid('bad DC coefficient');
    component.pred += dcSize ? receive(dcSize) : 0;
    const ac = component.ac!;
    let nonzero = 0;
    if (isLuma) {
      nonzeroAt[0] = 0;
      nonzeroValue[0] = component.pred * lumaQuant[0];
      nonzero = 1;
    }
    for (let k = 1; k < 64; ) {
      const rs = decode(ac);
      const size = rs & 15;
      const run = rs >> 4;
      if (!size) {
        if (run !== 15) break; // end of block
        k += 16;
        continue;
      }
      k += run;
      if (k > 63) throw invalid('bad AC coefficient run');
      const value = receive(size);
      if (isLuma && n > 1) {
        nonzeroAt[nonzero] = ZIGZAG[k];
        nonzeroValue[nonzero++] = value * lumaQuant[k];
      }
      k++;
    }
    if (!isLuma) return;
    const x0 = bx * n;
    const y0 = by * n;
    if (x0 >= outWidth || y0 >= outHeight) return; // padding blocks past the picture's edge
    // Separable and sparse: rows of coefficients that are all zero are skipped, and each row is
    // read only up to its last non-zero column.
    for (let z = 0; z < nonzero; z++) {
      const p = nonzeroAt[z];
      coefficients[p] = nonzeroValue[z];
      const row = p >> 3;
      if ((p & 7) > lastColumn[row]) lastColumn[row] = p & 7;
    }
    cell.fill(0);
    for (let row = 0; row < 8; row++) {
      const last = lastColumn[row];
      if (last < 0) continue;
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let col = 0; col <= last; col++) sum += coefficients[row * 8 + col] * means[j * 8 + col];
        for (let i = 0; i < n; i++) cell[i * n + j] += means[i * 8 + row] * sum;
      }
      lastColumn[row] = -1;
    }
    for (let z = 0; z < nonzero; z++) coefficients[nonzeroAt[z]] = 0;
    const rows = Math.min(n, outHeight - y0);
    const cols = Math.min(n, outWidth - x0);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const v = roundHalfUp(128 + cell[i * n + j]);
        out[(y0 + i) * outWidth + x0 + j] = v < 0 ? 0 : Math.min(v, 255);
      }
    }
  };

  for (let mcu = 0; mcu < totalMcus; mcu++) {
    if (restartInterval && mcu > 0 && mcu % restartInterval === 0) {
      // Byte-align, expect RSTn, reset the DC predictions.
      count = 0;
      zerosFed = 0;
      while (pos + 1 < data.length && data[pos] === 0xff && data[pos + 1] === 0xff) pos++;
      if (!(data[pos] === 0xff && data[pos + 1] >= 0xd0 && data[pos + 1] <= 0xd7))
        throw invalid('a restart marker is missing');
      pos += 2;
      for (const c of scan) c.pred = 0;
    }
    const mx = mcu % mcusX;
    const my = (mcu / mcusX) | 0;
    if (single) {
      block(scan[0], scan[0] === luma, mx, my);
      continue;
    }
    for (const component of scan) {
      const isLuma = component === luma;
      for (let v = 0; v < component.v; v++) {
        for (let h = 0; h < component.h; h++) block(component, isLuma, mx * component.h + h, my * component.v + v);
      }
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}
