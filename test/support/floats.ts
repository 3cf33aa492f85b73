// Bit-for-bit comparison of float arrays (vitest's toEqual walks a million floats one by one).
export function sameFloats(a: unknown, b: ArrayLike<number>): boolean {
  if (!(a instanceof Float32Array) || !(b instanceof Float32Array) || a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
