// The tree of docs/layout.md: src holds shared, train and worker only, and the arrows between the
// folders under src/train run one way (no folder imports, even through others, a folder that imports it).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(import.meta.dirname, '../../src');
const TRAIN = path.join(SRC, 'train');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(file);
    return /\.(ts|mts|mjs)$/.test(entry.name) ? [file] : [];
  });
}

/** folder → the other folders under src/train its files import (`.` is src/train's own entries). */
function folderImports(): Map<string, Set<string>> {
  const arrows = new Map<string, Set<string>>();
  for (const file of sources(TRAIN)) {
    const from = path.relative(TRAIN, path.dirname(file)) || '.';
    const specifiers = readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g);
    for (const [, specifier] of specifiers) {
      const target = path.relative(TRAIN, path.dirname(path.resolve(path.dirname(file), specifier))) || '.';
      if (target.startsWith('..') || target === from) continue;
      arrows.set(from, (arrows.get(from) ?? new Set()).add(target));
    }
  }
  return arrows;
}

describe('the layout (docs/layout.md)', () => {
  it('has shared, train and worker at the top of src', () => {
    expect(readdirSync(SRC).sort()).toEqual(['shared', 'train', 'worker']);
  });

  it('has arrows that run one way between the folders under src/train', () => {
    const arrows = folderImports();
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      [...(arrows.get(from) ?? [])].some(
        (next) => next === to || (!seen.has(next) && reaches(next, to, seen.add(next))),
      );
    const backwards = [...arrows].flatMap(([from, targets]) =>
      [...targets].filter((to) => reaches(to, from)).map((to) => `${from} → ${to} → … → ${from}`),
    );
    expect(backwards).toEqual([]);
    expect(arrows.size).toBeGreaterThan(5); // the imports were read at all
  });
});
