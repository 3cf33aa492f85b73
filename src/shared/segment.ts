// A handwritten number → its digits, left to right. Pure functions on the ink map that /classify
// already computes (ink.ts), so every digit then goes through the very normalisation /classify
// uses (normalize.ts: normalizeInk). The steps follow NIST's segbinblobdigits and Oliveira et al.
// (2002): connected components of the strokes; specks dropped by size relative to the largest mark;
// pieces of one digit merged (blobs stacked over each other, fragments much shorter than the line
// joined to their neighbour); pieces wider than a digit cut where the recogniser is most confident
// about both sides (recognition-based segmentation). docs/worker.md, "Reading a number", has the
// rules and what they measure.

import { BOX_INK_LEVEL, type InkMap } from './ink.ts';
import { normalizeInk } from './normalize.ts';
import type { FloatImage } from './resample.ts';
import { MERGED, VERIFIER_CLASSES, VERIFIER_INPUTS, verifierInput, WHOLE } from './segment-verifier.ts';

/** Inclusive box, in pixels of the ink map. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export interface DigitSegment {
  readonly box: Box;
  /** 784 pixels, MNIST-style, exactly as /classify would normalise this digit's ink. */
  readonly pixels: Uint8Array;
}

/** The recogniser's confidence in each of these normalised digits (classified as one batch). */
export type Recognize = (
  digits: readonly Uint8Array[],
) => Promise<ReadonlyArray<{ digit: number; confidence: number }>>;

/** Raised when a picture holds more digits than the limit in force. */
export class TooManyDigitsError extends Error {
  readonly code = 'too_many_digits';
  constructor(
    readonly found: number,
    readonly limit: number,
  ) {
    super(`The picture holds at least ${found} marks that look like digits; the limit is ${limit}.`);
    this.name = 'TooManyDigitsError';
  }
}

/** Pixels at least this strong are stroke cores: a faint blur halo must not bridge two digits. */
const STROKE_LEVEL = 0.5;
/** The faint fringe around a stroke joins the nearest stroke within this many pixels. */
const FRINGE_REACH = 2;
/** A mark smaller than this fraction of the largest one is a speck… */
const SPECK_AREA = 0.04;
/** …and so is one under this fraction of the line's height across and under SMALL_AREA. */
const SPECK_SIDE = 0.2;
const SMALL_AREA = 0.1;
/** A small mark this close (× line height) to a digit's box is part of that digit, not a speck. */
const SPECK_REACH = 0.08;
/** Blobs whose extents across overlap by this much of the narrower one… */
const OVERLAP_FRACTION = 0.5;
/** …and up and down by no more than this of the shorter one are stacked: one digit broken across. */
const STACK_OVERLAP = 0.25;
/** A piece shorter than this × the line's height is a fragment of a digit, not a digit. */
const FRAGMENT_HEIGHT = 0.7;
/** …and holds less ink than this × the line's typical digit (a flat, wide 5 is a digit). */
const FRAGMENT_AREA = 0.5;
/** A fragment joins a neighbour no farther than this (× line height). */
const MAX_JOIN_GAP = 0.5;
/**
 * Pieces wider than this × the line's height may be two digits touching (a 1 against a 3 is
 * about 0.85); the recogniser decides. Wider than SPLIT_RATIO is more than one digit whatever it
 * thinks: MNIST's digits fit a square with their longer side, so one is at most as wide as high.
 */
const TRY_SPLIT = 0.75;
const SPLIT_RATIO = 1.1;
/** A piece no wider than SPLIT_RATIO that the recogniser reads this confidently is one digit. */
const SURE_WHOLE = 0.99;
/** Below SPLIT_RATIO a cut is kept only when both sides together are this confident… */
const MIN_SPLIT_CONFIDENCE = 0.98;
/** …and the chance that they are wrong is at most this fraction of the whole's. */
const SPLIT_ERROR_RATIO = 0.1;
/** No side of a cut is narrower than this (× the piece's height): a 1 is about 0.15 wide. */
const MIN_SIDE = 0.12;
/** Cut columns tried per wide piece (the lowest minima of its vertical projection; 4 read fewer right). */
const MAX_CUTS = 8;
/** Cutting rounds: each round may split every piece still too wide in two. */
const MAX_SPLIT_ROUNDS = 3;
/**
 * The 95th percentile of width / height of the ink box (ink ≥ 0.2) of MNIST's 60,000 training
 * digits, per class: a piece read as a digit but wider than nearly every such digit (a 9 and a 1
 * pressed together, read as a 9) is tried cut however sure the recogniser is.
 */
const USUAL_WIDTH = [1.25, 0.8, 1.33, 1.11, 1.11, 1.43, 1.0, 1.05, 1.05, 0.95];
/** Below SPLIT_RATIO both sides of a cut are at least this × the whole's height (a 6's loop is not). */
const SIDE_HEIGHT = 0.85;
/**
 * Below SPLIT_RATIO a cut is also kept, whatever the whole's confidence, when both sides are this
 * confident and the cut crosses no more ink than CLEAN_STROKES strokes across (digits that touch;
 * cutting one digit through crosses two strokes or more, a 0 or an 8).
 */
const CLEAN_CONFIDENCE = 0.98;
const CLEAN_STROKES = 1;
/**
 * With the segment verifier: a piece the verifier thinks more than one digit this surely is tried
 * cut (0.5 to 0.98 read the same touching numbers on seeds 5 and 7; never: 2.7 / 1.4 points fewer;
 * 0.5 tried the JPEG "2026"'s 6 at 0.61, four classifications more).
 */
const TRY_MERGED = 0.9;
/** …at up to this many columns at once (the lowest projection minima): 8 read 1–2 points fewer. */
const LATTICE_CUTS = 16;
/** A run between two cuts wider than this × the line's height is not weighed as a digit. */
const SPAN_WIDTH = 1.2;
/** Added to the verifier's P(one whole digit) before its log, so that a sure "no" is costly, not fatal. */
const WHOLE_FLOOR = 0.001;
/** A cut path stays within this × the piece's height of its column… */
const CUT_REACH = 0.1;
/** …a step aside costs as much as a pixel of full ink, and each pixel off the column a tenth of one. */
const CUT_STEP = 1;
const CUT_AWAY = 0.1;

interface Component {
  box: Box;
  area: number;
}

/** A set of components (and, once cut, a column range) that is one digit. */
interface Piece {
  parts: number[];
  /** Per row of the ink map, the columns from[y] ≤ x < to[y] of the parts are this piece's (cut paths bound it). */
  from: Int32Array;
  to: Int32Array;
  box: Box;
}

const widthOf = (b: Box) => b.x1 - b.x0 + 1;
const heightOf = (b: Box) => b.y1 - b.y0 + 1;
const union = (a: Box, b: Box): Box => ({
  x0: Math.min(a.x0, b.x0),
  y0: Math.min(a.y0, b.y0),
  x1: Math.max(a.x1, b.x1),
  y1: Math.max(a.y1, b.y1),
});

/**
 * Labels the 8-connected stroke cores, then lets the faint fringe around them take the label of
 * the nearest core (breadth first, FRINGE_REACH steps). Label 0 is paper or unclaimed fringe.
 */
function labelStrokes(ink: InkMap): { labels: Int32Array; count: number } {
  const { width, height, data } = ink;
  const labels = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  let count = 0;
  for (let seed = 0; seed < data.length; seed++) {
    if (data[seed] < STROKE_LEVEL || labels[seed]) continue;
    const id = ++count;
    let top = 0;
    stack[top++] = seed;
    labels[seed] = id;
    while (top > 0) {
      const p = stack[--top];
      const px = p % width;
      const py = (p - px) / width;
      for (let ny = Math.max(0, py - 1); ny <= Math.min(height - 1, py + 1); ny++) {
        for (let nx = Math.max(0, px - 1); nx <= Math.min(width - 1, px + 1); nx++) {
          const q = ny * width + nx;
          if (data[q] >= STROKE_LEVEL && !labels[q]) {
            labels[q] = id;
            stack[top++] = q;
          }
        }
      }
    }
  }
  let frontier: number[] = [];
  for (let i = 0; i < data.length; i++) if (labels[i]) frontier.push(i);
  for (let step = 0; step < FRINGE_REACH && frontier.length; step++) {
    const next: number[] = [];
    for (const p of frontier) {
      const px = p % width;
      const py = (p - px) / width;
      for (let ny = Math.max(0, py - 1); ny <= Math.min(height - 1, py + 1); ny++) {
        for (let nx = Math.max(0, px - 1); nx <= Math.min(width - 1, px + 1); nx++) {
          const q = ny * width + nx;
          if (data[q] > 0 && !labels[q]) {
            labels[q] = labels[p];
            next.push(q);
          }
        }
      }
    }
    frontier = next;
  }
  return { labels, count };
}

/** Box (of the pixels /classify would box: ink ≥ BOX_INK_LEVEL) and area of every component. */
function measure(ink: InkMap, labels: Int32Array, count: number): Component[] {
  const comps = Array.from({ length: count + 1 }, () => ({
    box: { x0: Infinity, y0: Infinity, x1: -1, y1: -1 },
    area: 0,
  }));
  const { width, height, data } = ink;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const id = labels[i];
      if (!id || data[i] < BOX_INK_LEVEL) continue;
      const c = comps[id];
      c.area++;
      const b = c.box;
      if (x < b.x0) b.x0 = x;
      if (x > b.x1) b.x1 = x;
      if (y < b.y0) b.y0 = y;
      if (y > b.y1) b.y1 = y;
    }
  }
  return comps;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
};

/** The number's line: its digits' height, and a typical digit's ink (pixels at box level). */
interface Line {
  height: number;
  area: number;
}

function lineOf(comps: Component[], ids: number[]): Line {
  const largest = Math.max(...ids.map((id) => comps[id].area));
  const big = ids.filter((id) => comps[id].area >= 0.2 * largest).map((id) => comps[id]);
  return {
    height: median(big.map((c) => heightOf(c.box))),
    area: median(big.map((c) => c.area)),
  };
}

/** Box distance in both directions (0 when the boxes touch or overlap). */
const distanceBetween = (a: Box, b: Box) =>
  Math.max(0, gapBetween(a, b), Math.max(a.y0, b.y0) - Math.min(a.y1, b.y1) - 1);

/**
 * The marks that are (parts of) digits, each with the small marks that touch its box: a mark too
 * small to be a digit is a piece of the digit it sits against (a 6 whose loop the pen did not
 * close), or a speck of dust when it stands alone.
 */
function dropSpecks(comps: Component[]): number[][] {
  const ids = comps.map((_, id) => id).filter((id) => id > 0 && comps[id].area > 0);
  if (ids.length === 0) return [];
  const largest = Math.max(...ids.map((id) => comps[id].area));
  const { height } = lineOf(comps, ids);
  const isSmall = (id: number) => {
    const { area, box } = comps[id];
    if (area < SPECK_AREA * largest) return true;
    return Math.max(widthOf(box), heightOf(box)) < SPECK_SIDE * height && area < SMALL_AREA * largest;
  };
  const big = ids.filter((id) => !isSmall(id));
  const groups = new Map(big.map((id) => [id, [id]]));
  const reach = Math.max(2, SPECK_REACH * height);
  for (const id of ids) {
    if (!isSmall(id)) continue;
    let nearest = -1;
    let distance = Number.POSITIVE_INFINITY;
    for (const other of big) {
      const d = distanceBetween(comps[id].box, comps[other].box);
      if (d < distance) [nearest, distance] = [other, d];
    }
    if (nearest >= 0 && distance <= reach) groups.get(nearest)?.push(id);
  }
  return [...groups.values()];
}

/** Where a digit stands from left to right (pieces without ink last). */
const centre = (segment: DigitSegment | undefined) =>
  segment ? segment.box.x0 + segment.box.x1 : Number.POSITIVE_INFINITY;

/** Horizontal distance between two boxes (negative when they overlap). */
const gapBetween = (a: Box, b: Box) => Math.max(a.x0, b.x0) - Math.min(a.x1, b.x1) - 1;

/** Vertical overlap of two boxes (negative when one is wholly above the other). */
const verticalOverlap = (a: Box, b: Box) => Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) + 1;

/** Joins pieces j into i (i < j). */
function mergeInto(pieces: Piece[], i: number, j: number): void {
  const [a, b] = [pieces[i], pieces[j]];
  pieces[i] = { ...a, parts: [...a.parts, ...b.parts], box: union(a.box, b.box) };
  pieces.splice(j, 1);
}

/**
 * Stacked blobs are one digit: a stroke broken where the pen lifted leaves a top and a bottom part
 * that overlap across but hardly up and down (NIST's paste_digit_blobs). Digits side by side may
 * overlap across by a few pixels too, but they share most of their height.
 */
function mergeStacked(pieces: Piece[]): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < pieces.length && !changed; i++) {
      for (let j = i + 1; j < pieces.length && !changed; j++) {
        const [a, b] = [pieces[i].box, pieces[j].box];
        const across = -gapBetween(a, b);
        const shorter = Math.min(heightOf(a), heightOf(b));
        if (
          across >= OVERLAP_FRACTION * Math.min(widthOf(a), widthOf(b)) &&
          verticalOverlap(a, b) <= STACK_OVERLAP * shorter
        ) {
          mergeInto(pieces, i, j);
          changed = true;
        }
      }
    }
  }
}

/**
 * A piece much shorter than the line's digits is a fragment of one (a 5's or 7's detached bar, the
 * upper stroke of a 4 written in two, what is left of a broken 0): it joins the neighbour it
 * overlaps most across, or else the nearest one within MAX_JOIN_GAP (Oliveira et al.'s rule for
 * pieces that do not cross the middle line). A fragment with no neighbour near stays a digit.
 */
function mergeFragments(pieces: Piece[], line: Line, areaOf: (piece: Piece) => number): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < pieces.length && !changed; i++) {
      const { box } = pieces[i];
      if (heightOf(box) >= FRAGMENT_HEIGHT * line.height || areaOf(pieces[i]) >= FRAGMENT_AREA * line.area) continue;
      let best = -1;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < pieces.length; j++) {
        if (j === i || distanceBetween(box, pieces[j].box) > MAX_JOIN_GAP * line.height) continue;
        // Overlap across counts positive, a gap negative: the most overlapped, else the nearest.
        const gap = gapBetween(box, pieces[j].box);
        const score = gap < 0 ? -gap : -distanceBetween(box, pieces[j].box);
        if (score > bestScore) [best, bestScore] = [j, score];
      }
      if (best >= 0) {
        mergeInto(pieces, Math.min(i, best), Math.max(i, best));
        changed = true;
      }
    }
  }
}

/** The line, measured on the pieces with at least a fifth of the largest one's ink (no bars or specks). */
function lineOfPieces(pieces: Piece[], areaOf: (piece: Piece) => number): Line {
  const largest = Math.max(...pieces.map(areaOf));
  const big = pieces.filter((piece) => areaOf(piece) >= 0.2 * largest);
  return {
    height: median(big.map((piece) => heightOf(piece.box))),
    area: median(big.map(areaOf)),
  };
}

/** Which component labels are the piece's, as a lookup table: read for every pixel, cheaper than a Set. */
function partsOf(piece: Piece): Uint8Array {
  const own = new Uint8Array(Math.max(...piece.parts) + 1);
  for (const id of piece.parts) own[id] = 1;
  return own;
}

/** The piece's ink at (x, y) of the ink map: its components', between its cut paths. */
function ownInk(ink: InkMap, labels: Int32Array, own: Uint8Array, piece: Piece, x: number, y: number): number {
  if (x < piece.from[y] || x >= piece.to[y]) return 0;
  const i = y * ink.width + x;
  return own[labels[i]] ? ink.data[i] : 0;
}

/** A piece's own ink, cropped to its box, ready for normalizeInk (and its box, none if empty). */
function pieceImage(ink: InkMap, labels: Int32Array, piece: Piece): { image: FloatImage; box?: Box } {
  const { x0, y0, x1, y1 } = piece.box;
  const width = x1 - x0 + 1;
  const height = y1 - y0 + 1;
  const data = new Float32Array(width * height);
  const own = partsOf(piece);
  let [bx0, by0, bx1, by1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = ownInk(ink, labels, own, piece, x0 + x, y0 + y);
      data[y * width + x] = v;
      if (v < BOX_INK_LEVEL) continue;
      if (x < bx0) bx0 = x;
      if (x > bx1) bx1 = x;
      if (y < by0) by0 = y;
      if (y > by1) by1 = y;
    }
  }
  const box = bx1 < 0 ? undefined : { x0: bx0, y0: by0, x1: bx1, y1: by1 };
  return { image: { width, height, data }, box };
}

/** The piece, normalised as /classify would, with its box in the ink map; undefined when it holds no ink. */
function normalizePiece(ink: InkMap, labels: Int32Array, piece: Piece): DigitSegment | undefined {
  const { image, box } = pieceImage(ink, labels, piece);
  if (!box) return undefined;
  const { x0, y0 } = piece.box;
  const inMap = { x0: x0 + box.x0, y0: y0 + box.y0, x1: x0 + box.x1, y1: y0 + box.y1 };
  return { box: inMap, pixels: normalizeInk(image, box) };
}

/** Columns to try cutting a piece at: the lowest local minima of its vertical ink projection. */
function cutColumns(
  ink: InkMap,
  labels: Int32Array,
  piece: Piece,
  maxCuts = MAX_CUTS,
): { columns: number[]; strokeWidth: number } {
  const { x0, y0, x1, y1 } = piece.box;
  const own = partsOf(piece);
  const columns = new Float64Array(x1 - x0 + 1);
  // The stroke's width across: core pixels per run of them along a row.
  let [core, runs] = [0, 0];
  for (let y = y0; y <= y1; y++) {
    let inRun = false;
    for (let x = x0; x <= x1; x++) {
      const v = ownInk(ink, labels, own, piece, x, y);
      const isCore = v >= STROKE_LEVEL;
      columns[x - x0] += v;
      if (isCore) core++;
      if (isCore && !inRun) runs++;
      inRun = isCore;
    }
  }
  const strokeWidth = Math.max(1, core / Math.max(1, runs));
  const margin = Math.max(2, Math.round(MIN_SIDE * heightOf(piece.box)));
  const candidates: Array<{ at: number; mass: number }> = [];
  // A cut at column c leaves columns < c on the left; a column's mass counts with its neighbours'.
  const around = (c: number) => columns[c - 1] + 2 * columns[c] + (columns[c + 1] ?? 0);
  for (let c = margin; c <= columns.length - margin; c++) {
    const mass = around(c);
    const isMinimum =
      (c - 1 < margin || mass <= around(c - 1)) && (c + 1 > columns.length - margin || mass <= around(c + 1));
    if (isMinimum) candidates.push({ at: x0 + c, mass });
  }
  candidates.sort((a, b) => a.mass - b.mass);
  const chosen: number[] = [];
  for (const { at } of candidates) {
    if (chosen.every((c) => Math.abs(c - at) > 2)) chosen.push(at);
    if (chosen.length === maxCuts) break;
  }
  return { columns: chosen, strokeWidth };
}

/** A side of a cut that is neither a digit's height nor a flat digit's width is not a digit. */
const isSliver = (box: Box, lineHeight: number) =>
  heightOf(box) < FRAGMENT_HEIGHT * lineHeight && widthOf(box) < 0.5 * lineHeight;

/**
 * The two sides of `piece` cut near column `at`, along the path from top to bottom through the
 * least ink within CUT_REACH × its height of that column (a step aside costing CUT_STEP): digits
 * that overlap are parted round their strokes, where a straight cut would slice one of them. Also
 * the ink the path crosses.
 */
function cut(ink: InkMap, labels: Int32Array, piece: Piece, at: number): { sides: [Piece, Piece]; crossed: number } {
  const { y0, y1 } = piece.box;
  const height = y1 - y0 + 1;
  const reach = Math.round(CUT_REACH * height);
  const lo = Math.max(piece.box.x0 + 1, at - reach);
  const hi = Math.min(piece.box.x1, at + reach);
  const span = hi - lo + 1;
  const own = partsOf(piece);
  const cost = new Float64Array(span * height);
  const move = new Int8Array(span * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < span; x++) {
      // Cutting before column lo + x: the ink of the pixel the path runs through.
      const here = ownInk(ink, labels, own, piece, lo + x, y0 + y);
      // A path drawn off the candidate column costs a little, so that it stays straight in paper.
      const aside = CUT_AWAY * Math.abs(lo + x - at);
      if (y === 0) {
        cost[x] = here + aside;
        continue;
      }
      const above = (y - 1) * span;
      let [best, step] = [cost[above + x], 0];
      if (x > 0 && cost[above + x - 1] + CUT_STEP < best) [best, step] = [cost[above + x - 1] + CUT_STEP, -1];
      if (x < span - 1 && cost[above + x + 1] + CUT_STEP < best) [best, step] = [cost[above + x + 1] + CUT_STEP, 1];
      cost[y * span + x] = here + best + aside;
      move[y * span + x] = step;
    }
  }
  let end = 0;
  for (let x = 1; x < span; x++) if (cost[(height - 1) * span + x] < cost[(height - 1) * span + end]) end = x;
  const from = piece.from.slice();
  const to = piece.to.slice();
  let crossed = 0;
  for (let y = height - 1, x = end; y >= 0; y--) {
    crossed += ownInk(ink, labels, own, piece, lo + x, y0 + y);
    to[y0 + y] = Math.min(to[y0 + y], lo + x);
    from[y0 + y] = Math.max(from[y0 + y], lo + x);
    x += move[y * span + x];
  }
  const left = { ...piece, to };
  const right = { ...piece, from };
  return { sides: [left, right], crossed };
}

/**
 * Splits pieces that may be touching digits (recognition-based segmentation). Every piece wider
 * than TRY_SPLIT × the line's height is normalised whole and cut at each candidate column, and
 * everything is classified in one batch per round. A piece is cut where the two sides' joint
 * confidence is highest, if that beats the whole's confidence (a wide 0 or 2 stays whole) or if
 * the piece is too wide to be one digit at all (SPLIT_RATIO).
 */
async function splitWide(
  ink: InkMap,
  labels: Int32Array,
  segments: DigitSegment[],
  pieces: Piece[],
  recognize: Recognize,
  maxDigits: number,
  lineHeight: number,
  verify?: Verify,
): Promise<void> {
  // Every digit is classified once, in one batch; the cuts tried and kept add their own answers.
  const answers = new Map<Uint8Array, { digit: number; confidence: number }>();
  const verdicts = new Map<Uint8Array, Float32Array>();
  const ask = async (digits: DigitSegment[]) => {
    const inputs = verify ? new Float32Array(digits.length * VERIFIER_INPUTS) : undefined;
    if (inputs) {
      digits.forEach(({ box, pixels }, i) => {
        verifierInput(pixels, { width: widthOf(box), height: heightOf(box) }, lineHeight, inputs, i * VERIFIER_INPUTS);
      });
    }
    const [read, judged] = await Promise.all([
      recognize(digits.map((digit) => digit.pixels)),
      inputs && verify ? verify(inputs, digits.length) : undefined,
    ]);
    digits.forEach((digit, i) => {
      answers.set(digit.pixels, read[i]);
      if (judged)
        verdicts.set(digit.pixels, judged.subarray(i * VERIFIER_CLASSES.length, (i + 1) * VERIFIER_CLASSES.length));
    });
  };
  await ask(segments);
  const sure = (digit: Uint8Array) => answers.get(digit)?.confidence ?? 0;
  const verdict = (digit: Uint8Array, k: number) => verdicts.get(digit)?.[k] ?? (k === WHOLE ? 1 : 0);
  // Wider for its height than nearly every MNIST digit of the class it is read as.
  const unusual = ({ box, pixels }: DigitSegment) => {
    const read = answers.get(pixels);
    return read !== undefined && widthOf(box) > USUAL_WIDTH[read.digit] * Math.max(lineHeight, heightOf(box));
  };
  // More than one digit whatever the recogniser thinks.
  const tooWide = (box: Box) => widthOf(box) > SPLIT_RATIO * Math.max(lineHeight, heightOf(box));
  if (verify) {
    await splitByLattice();
    return;
  }
  /**
   * With the segment verifier: every piece that may be more than one digit (too wide to be one, or
   * wider than TRY_SPLIT and either doubted by the recogniser as now or judged more than one digit
   * by the verifier) is cut at up to LATTICE_CUTS candidate columns at once, every run between two
   * of them (no wider than SPAN_WIDTH) classified and verified in one batch, and the piece parted
   * along the runs whose digits are jointly most likely: log P(digit) + log P(one whole digit), a
   * Viterbi search over the cuts. The verifier is what the lattice lacked without it (docs/worker.md):
   * the network is as sure of half a digit, or of two digits pressed together, as of one.
   */
  async function splitByLattice(): Promise<void> {
    const tried = pieces.flatMap((_, index) => {
      const { box, pixels } = segments[index];
      const height = Math.max(lineHeight, heightOf(box));
      const doubted = widthOf(box) > TRY_SPLIT * height && (sure(pixels) < SURE_WHOLE || unusual(segments[index]));
      const merged = widthOf(box) > TRY_SPLIT * height && verdict(pixels, MERGED) >= TRY_MERGED;
      return tooWide(box) || doubted || merged ? [index] : [];
    });
    if (tried.length === 0) return;
    // A run from cut i to cut j (0 is the piece's left edge, n its right edge).
    type Span = { i: number; j: number; piece: Piece; segment: DigitSegment };
    const lattices = tried.map((index) => {
      const piece = pieces[index];
      const { box } = segments[index];
      const tight = { ...piece, box };
      const columns = cutColumns(ink, labels, tight, LATTICE_CUTS).columns.sort((a, b) => a - b);
      const paths = columns.map((at) => cut(ink, labels, tight, at).sides);
      const n = columns.length + 1;
      const spans: Span[] = [];
      const widest = SPAN_WIDTH * Math.max(lineHeight, heightOf(box));
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j <= n; j++) {
          if (i === 0 && j === n) {
            // The piece uncut, unless it is too wide to be one digit.
            if (!tooWide(box)) spans.push({ i, j, piece, segment: segments[index] });
            continue;
          }
          // Between the right side of cut i and the left side of cut j.
          const from = i === 0 ? tight.from : paths[i - 1][1].from;
          const to = j === n ? tight.to : paths[j - 1][0].to;
          const part = { ...tight, from, to };
          const segment = normalizePiece(ink, labels, part);
          if (!segment || isSliver(segment.box, lineHeight) || widthOf(segment.box) > widest) continue;
          spans.push({ i, j, piece: part, segment });
        }
      }
      return { index, n, spans };
    });
    await ask(
      lattices.flatMap(({ spans }) =>
        spans.filter((span) => !answers.has(span.segment.pixels)).map((span) => span.segment),
      ),
    );
    const score = ({ pixels }: DigitSegment) =>
      Math.log(Math.max(1e-9, sure(pixels))) + Math.log(verdict(pixels, WHOLE) + WHOLE_FLOOR);
    const parted: Array<{ index: number; spans: Span[] }> = [];
    for (const { index, n, spans } of lattices) {
      const best = new Float64Array(n + 1).fill(Number.NEGATIVE_INFINITY);
      const last: Array<Span | undefined> = new Array(n + 1);
      best[0] = 0;
      for (const span of [...spans].sort((a, b) => a.j - b.j)) {
        const total = best[span.i] + score(span.segment);
        if (total > best[span.j]) {
          best[span.j] = total;
          last[span.j] = span;
        }
      }
      const path: Span[] = [];
      for (let at = n; at > 0 && last[at]; at = (last[at] as Span).i) path.unshift(last[at] as Span);
      if (path.length > 1 && path[0].i === 0) parted.push({ index, spans: path });
    }
    // Replace from the right so that earlier indices stay valid.
    for (const { index, spans } of parted.sort((a, b) => b.index - a.index)) {
      pieces.splice(index, 1, ...spans.map((span) => span.piece));
      segments.splice(index, 1, ...spans.map((span) => span.segment));
    }
    if (segments.length > maxDigits) throw new TooManyDigitsError(segments.length, maxDigits);
  }
  for (let round = 0; round < MAX_SPLIT_ROUNDS; round++) {
    type Trial = { index: number; sides: [DigitSegment, DigitSegment]; pieces: [Piece, Piece]; strokes: number };
    const trials: Trial[] = [];
    pieces.forEach((piece, index) => {
      const { box, pixels } = segments[index];
      const height = Math.max(lineHeight, heightOf(box));
      // A piece too wide to be one digit is always tried; one a digit could be, only when the
      // recogniser is unsure of it (most digits are nearly as wide as high: a 0, a 2, a 5).
      const wide = tooWide(box);
      if (!wide && (widthOf(box) <= TRY_SPLIT * height || (sure(pixels) >= SURE_WHOLE && !unusual(segments[index]))))
        return;
      const tight = { ...piece, box };
      const { columns, strokeWidth } = cutColumns(ink, labels, tight);
      for (const at of columns) {
        const { sides, crossed } = cut(ink, labels, tight, at);
        const strokes = crossed / strokeWidth;
        const left = normalizePiece(ink, labels, sides[0]);
        const right = normalizePiece(ink, labels, sides[1]);
        // Each side must be a whole digit's height: a cut that leaves a fragment is not two digits.
        if (!left || !right || isSliver(left.box, lineHeight) || isSliver(right.box, lineHeight)) continue;
        // Below SPLIT_RATIO only a cut leaving two sides of nearly the whole's height may be kept:
        // the others are not worth classifying.
        if (!wide && [left, right].some((side) => heightOf(side.box) < SIDE_HEIGHT * heightOf(box))) continue;
        trials.push({ index, sides: [left, right], pieces: sides, strokes });
      }
    });
    if (trials.length === 0) return;
    await ask(trials.flatMap((trial) => trial.sides));
    // The network is sure of itself on fragments too: below SPLIT_RATIO a cut must leave two
    // sides of nearly the whole's height (side-by-side digits, not a 6's stem and loop: the only
    // cuts classified), be nearly
    // certain on both, and either cross no more than a stroke (digits that touch, not one digit
    // cut through) or make far fewer errors than the whole (odds, not a bare comparison).
    const acceptable = (trial: Trial, score: number) => {
      const { box, pixels } = segments[trial.index];
      if (tooWide(box)) return true;
      if (score >= CLEAN_CONFIDENCE && trial.strokes <= CLEAN_STROKES) return true;
      // A width unusual for the digit read stands for the whole's odds of an error.
      const wholeError = unusual(segments[trial.index]) ? 1 : 1 - sure(pixels);
      return score >= MIN_SPLIT_CONFIDENCE && 1 - score <= SPLIT_ERROR_RATIO * wholeError;
    };
    // A side itself too wide to be one digit is cut again in the next round: how sure the network
    // is of it as one digit says nothing, so a cut of a piece too wide is judged by its other side
    // (the two digits of "02" read as a 2 at 0.6 must not outweigh a clean 0 beside them).
    const sideScore = (trial: Trial, side: DigitSegment) =>
      tooWide(segments[trial.index].box) && tooWide(side.box) ? 1 : sure(side.pixels);
    const best = new Map<number, { score: number; trial: Trial }>();
    for (const trial of trials) {
      const score = sideScore(trial, trial.sides[0]) * sideScore(trial, trial.sides[1]);
      const current = best.get(trial.index);
      if (!current || score > current.score) best.set(trial.index, { score, trial });
    }
    for (const [index, { score, trial }] of best) if (!acceptable(trial, score)) best.delete(index);
    if (best.size === 0) return;
    // Replace from the right so that earlier indices stay valid.
    for (const { trial } of [...best.values()].sort((a, b) => b.trial.index - a.trial.index)) {
      pieces.splice(trial.index, 1, ...trial.pieces);
      segments.splice(trial.index, 1, ...trial.sides);
    }
    if (segments.length > maxDigits) throw new TooManyDigitsError(segments.length, maxDigits);
  }
}

/**
 * The segment verifier (shared/segment-verifier.ts) on `count` candidates' inputs (verifierInput,
 * one after another): for each, the probabilities of VERIFIER_CLASSES, one after another.
 */
export type Verify = (inputs: Float32Array, count: number) => Promise<Float32Array>;

export interface SegmentOptions {
  /** More digits than this is a TooManyDigitsError, raised before any classification it would cost. */
  maxDigits: number;
  /** Scores candidate cuts of touching digits; without it wide blobs are left whole. */
  recognize?: Recognize;
  /** Whether a piece is one whole digit, asked with every batch `recognize` is; without it, the rules alone. */
  verify?: Verify;
}

/**
 * The digits of a handwritten number in `ink` (extractInk's map of the whole picture), left to
 * right, each with its box and its 784 MNIST-style pixels. May return none (all specks).
 */
export async function segmentDigits(ink: InkMap, options: SegmentOptions): Promise<DigitSegment[]> {
  const found = findPieces(ink, options.maxDigits);
  if (!found) return [];
  const { labels, line, segments, pieces } = found;
  if (options.recognize) {
    await splitWide(ink, labels, segments, pieces, options.recognize, options.maxDigits, line.height, options.verify);
  }
  return segments.sort((a, b) => centre(a) - centre(b));
}

/** The pieces of the picture before any cut: components, specks dropped, pieces of one digit merged. */
function findPieces(
  ink: InkMap,
  maxDigits: number,
): { labels: Int32Array; line: Line; segments: DigitSegment[]; pieces: Piece[] } | undefined {
  const { labels, count } = labelStrokes(ink);
  const comps = measure(ink, labels, count);
  const kept = dropSpecks(comps);
  // Detached bars and broken strokes may merge, but not so many that merging them is the cost.
  if (kept.length > 4 * maxDigits) throw new TooManyDigitsError(kept.length, maxDigits);
  if (kept.length === 0) return undefined;
  const areaOf = (piece: Piece) => piece.parts.reduce((sum, id) => sum + comps[id].area, 0);
  // Uncut pieces own every column of every row.
  const from = new Int32Array(ink.height);
  const to = new Int32Array(ink.height).fill(ink.width);
  const pieces: Piece[] = kept.map((parts) => ({
    parts,
    from,
    to,
    box: parts.map((id) => comps[id].box).reduce(union),
  }));
  // Broken strokes first, so that the line's height is measured on whole digits.
  mergeStacked(pieces);
  const line = lineOfPieces(pieces, areaOf);
  mergeFragments(pieces, line, areaOf);
  if (pieces.length > maxDigits) throw new TooManyDigitsError(pieces.length, maxDigits);
  const found = pieces
    .map((piece) => ({ piece, segment: normalizePiece(ink, labels, piece) }))
    .sort((a, b) => centre(a.segment) - centre(b.segment));
  const present = found.filter((f): f is { piece: Piece; segment: DigitSegment } => f.segment !== undefined);
  return { labels, line, segments: present.map((f) => f.segment), pieces: present.map((f) => f.piece) };
}

/** A piece the segmentation may weigh as a digit: its normalised pixels and its own ink (for training the verifier). */
export interface Candidate {
  segment: DigitSegment;
  lineHeight: number;
  /** The piece's own ink, cropped to `segment.box` (inclusive, ink-map pixels). */
  ink: Float32Array;
}

/**
 * Every piece the segmentation could weigh in `ink`, without a recogniser: the pieces before any
 * cut, and the two sides of every cut it could try (at its candidate columns, along the same cut
 * paths) of the pieces wider than `tryWidth` × the line's height, again for sides too wide to be
 * one digit, up to `depth` cuts deep. What the segment verifier is trained on
 * (src/train/data/segment-pieces.ts), so that it sees the pieces /read will show it.
 */
export function candidatePieces(ink: InkMap, options: { tryWidth?: number; depth?: number } = {}): Candidate[] {
  const { tryWidth = 0.6, depth = 2 } = options;
  const found = findPieces(ink, Number.POSITIVE_INFINITY);
  if (!found) return [];
  const { labels, line } = found;
  const out: Candidate[] = [];
  const emit = (piece: Piece, segment: DigitSegment) => {
    const { x0, y0, x1, y1 } = segment.box;
    const own = partsOf(piece);
    const w = x1 - x0 + 1;
    const data = new Float32Array(w * (y1 - y0 + 1));
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) data[(y - y0) * w + x - x0] = ownInk(ink, labels, own, piece, x, y);
    out.push({ segment, lineHeight: line.height, ink: data });
  };
  const visit = (piece: Piece, segment: DigitSegment, level: number) => {
    emit(piece, segment);
    const { box } = segment;
    const height = Math.max(line.height, heightOf(box));
    if (level >= depth || widthOf(box) <= tryWidth * height) return;
    const tight = { ...piece, box };
    for (const at of cutColumns(ink, labels, tight).columns) {
      const { sides } = cut(ink, labels, tight, at);
      const left = normalizePiece(ink, labels, sides[0]);
      const right = normalizePiece(ink, labels, sides[1]);
      if (!left || !right || isSliver(left.box, line.height) || isSliver(right.box, line.height)) continue;
      // Deeper only on a side still too wide to be one digit, as splitWide's later rounds do.
      for (const [side, seg] of [
        [sides[0], left],
        [sides[1], right],
      ] as const) {
        if (widthOf(seg.box) > SPLIT_RATIO * Math.max(line.height, heightOf(seg.box))) visit(side, seg, level + 1);
        else emit(side, seg);
      }
    }
  };
  found.pieces.forEach((piece, i) => {
    visit(piece, found.segments[i], 0);
  });
  return out;
}
