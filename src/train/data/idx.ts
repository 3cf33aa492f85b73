// Reader for the IDX files MNIST ships in (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS").

export const IDX_IMAGES_MAGIC = 0x00000803; // unsigned byte, 3 dimensions
export const IDX_LABELS_MAGIC = 0x00000801; // unsigned byte, 1 dimension

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

/** Parses an unsigned-byte IDX file, checking its magic number, dimensions and length. */
export function parseIdx(bytes: Uint8Array, expectedMagic: number, source = 'IDX file'): IdxArray {
  const fail = (why: string): never => {
    throw new IdxFormatError(`${source}: ${why}`);
  };
  if (bytes.byteLength < 4) fail(`too short for an IDX header (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== expectedMagic) {
    fail(`magic number 0x${hex(magic)}, expected 0x${hex(expectedMagic)} (wrong or compressed file?)`);
  }
  const rank = magic & 0xff;
  const headerLength = 4 + 4 * rank;
  if (bytes.byteLength < headerLength) fail(`truncated header: ${bytes.byteLength} of ${headerLength} bytes`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  if (dims.some((d) => d === 0)) fail(`empty dimension in [${dims.join(', ')}]`);
  const expectedLength = headerLength + dims.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== expectedLength) {
    const what = bytes.byteLength < expectedLength ? 'truncated' : 'trailing bytes';
    fail(`${what}: ${bytes.byteLength} bytes, expected ${expectedLength} for dimensions [${dims.join(', ')}]`);
  }
  return { dims, data: bytes.subarray(headerLength) };
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** An unsigned-byte IDX file (the inverse of parseIdx): big-endian magic and dimensions, then the bytes. */
export function encodeIdx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const rank = magic & 0xff;
  if (dims.length !== rank)
    throw new IdxFormatError(`magic 0x${hex(magic)} has ${rank} dimensions, got [${dims.join(', ')}]`);
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size)
    throw new IdxFormatError(`dimensions [${dims.join(', ')}] need ${size} bytes, got ${data.length}`);
  const out = new Uint8Array(4 + 4 * rank + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d);
  });
  out.set(data, 4 + 4 * rank);
  return out;
}
