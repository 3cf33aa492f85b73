import { createHash } from 'node:crypto';

/** A model's version: the content hash of its weight file, so the same weights always carry the same name. */
export function modelVersion(weights: Uint8Array): string {
  return createHash('sha256').update(weights).digest('hex').slice(0, 16);
}
