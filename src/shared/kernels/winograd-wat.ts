// The wasm text of the kernel modules: Winograd F(4×4, 3×3)'s tile transforms (straight-line wasm
// SIMD over four channels at a time, unrolled for one layer's sizes) and a register-blocked GEMM
// for its 36 tile products, in two variants: `relaxed` multiplies and adds with one
// `f32x4.relaxed_madd` (one vfmadd on x86 with FMA), `plain` with f32x4.mul then f32x4.add.
// build.ts assembles these texts to the committed .wasm files with wabt; the trainer also
// assembles geometries that are not prebuilt (its tests use small ones) at run time.
//
// Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A (Lavin & Gray 2015), d a 6×6 input tile, g a 3×3 filter; its
// gradient with respect to g, dW = Gᵀ[(A dY Aᵀ) ⊙ (Bᵀ d B)]G, summed over tiles.
import { BLOCK, PLANES, planeBytes, TILE, tilesPerImage, type WinogradGeometry } from './winograd.ts';

/**
 * `relaxed`: f32x4.relaxed_madd; `plain`: f32x4.mul then add; `wide`: relaxed, with the GEMMs'
 * register blocks 16 columns wide (4 vectors a row, 16 accumulators) for engines that revectorize
 * them to 256-bit AVX2 (V8 13 with --experimental-wasm-revectorize: 8 registers of 8 floats) or have
 * 32 vector registers (arm64); on 16 128-bit registers they would spill.
 */
export type SimdVariant = 'relaxed' | 'plain' | 'wide';

/** Vectors of 4 floats per row of the GEMMs' widest register block in `variant`. */
export const gemmVectors = (variant: SimdVariant) => (variant === 'wide' ? 4 : 2);

const get = (name: string) => `(local.get $${name})`;
const set = (name: string, value: string) => `(local.set $${name} ${value})`;
const add = (a: string, b: string) => `(f32x4.add ${a} ${b})`;
const sub = (a: string, b: string) => `(f32x4.sub ${a} ${b})`;
const splat = (k: number) => `(v128.const f32x4 ${k} ${k} ${k} ${k})`;
const times = (k: number, a: string) => `(f32x4.mul ${a} ${splat(k)})`;
const int = (n: number) => `(i32.const ${n})`;
const plus = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
const range = (n: number) => [...Array(n).keys()];
const v128Locals = (names: string[]) => names.map((n) => `(local $${n} v128)`).join(' ');

/**
 * A GEMM's loop over the column blocks of `rows` rows (this file's and train-wat.ts's): blocks
 * `vectors` vectors wide while they fit, then blocks of 2 vectors (8 columns), each `block(rows,
 * width)`; locals bj (B's column) and cp (C's) start at `bStart` and `cStart` and move a block at a
 * time, until bj + the block's bytes would pass bEnd.
 */
export function columnBlocks(
  rows: number,
  vectors: number,
  block: (rows: number, width: number) => string[],
  bStart: string,
  cStart: string,
): string[] {
  const lines = [set('bj', bStart), set('cp', cStart)];
  for (const width of vectors > 2 ? [vectors, 2] : [2]) {
    const label = `${rows}_${width}`;
    lines.push(
      `(block $j_end${label} (loop $j_next${label}`,
      `(br_if $j_end${label} (i32.gt_u ${plus(get('bj'), int(width * 16))} ${get('bEnd')}))`,
      ...block(rows, width),
      set('bj', plus(get('bj'), int(width * 16))),
      set('cp', plus(get('cp'), int(width * 16))),
      `(br $j_next${label})))`,
    );
  }
  return lines;
}

/** The variant's a·b + c. */
export type Madd = (a: string, b: string, c: string) => string;
export const madds: Record<SimdVariant, Madd> = {
  relaxed: (a, b, c) => `(f32x4.relaxed_madd ${a} ${b} ${c})`,
  plain: (a, b, c) => add(`(f32x4.mul ${a} ${b})`, c),
  wide: (a, b, c) => `(f32x4.relaxed_madd ${a} ${b} ${c})`,
};

/** for (name = 0; name < limit; name++) body */
function loop(name: string, limit: string, body: string[], step = 1): string[] {
  return [
    set(name, int(0)),
    `(block $${name}_end (loop $${name}_next`,
    `(br_if $${name}_end (i32.ge_u ${get(name)} ${limit}))`,
    ...body,
    set(name, plus(get(name), int(step))),
    `(br $${name}_next)))`,
  ];
}

type OneD = (madd: Madd, inputs: string[], out: (k: number, value: string) => string) => string[];

/** Bᵀ applied to six vectors (locals `d`), results through `out`; temporaries a…h. */
const inputTransform1D: OneD = (madd, d, out) => {
  const [d0, d1, d2, d3, d4, d5] = d.map(get);
  return [
    set('a', sub(d4, d2)),
    set('b', sub(d3, d1)),
    set('c', add(d1, d2)),
    set('e', add(d3, d4)),
    set('f', sub(d1, d2)),
    set('h', sub(d4, d3)),
    out(0, madd(d0, splat(4), madd(d2, splat(-5), d4))),
    out(1, madd(get('c'), splat(-4), get('e'))),
    out(2, madd(get('f'), splat(4), get('h'))),
    out(3, madd(get('b'), splat(2), get('a'))),
    out(4, madd(get('b'), splat(-2), get('a'))),
    out(5, madd(d1, splat(4), madd(d3, splat(-5), d5))),
  ];
};

/** Aᵀ applied to six vectors (locals `m`), results through `out`; temporaries a…e. */
const outputTransform1D: OneD = (madd, m, out) => {
  const [m0, m1, m2, m3, m4, m5] = m.map(get);
  return [
    set('a', add(m1, m2)),
    set('b', sub(m1, m2)),
    set('c', add(m3, m4)),
    set('e', sub(m3, m4)),
    out(0, add(add(m0, get('a')), get('c'))),
    out(1, madd(get('e'), splat(2), get('b'))),
    out(2, madd(get('c'), splat(4), get('a'))),
    out(3, madd(get('e'), splat(8), add(get('b'), m5))),
  ];
};

/** A applied to four vectors (locals `y`): e = A y, six results through `out`; temporaries a…e. */
const gradientTransform1D: OneD = (madd, d, out) => {
  const [y0, y1, y2, y3] = d.map(get);
  return [
    set('a', add(y0, y2)),
    set('b', add(y1, y3)),
    set('c', madd(y2, splat(4), y0)),
    set('e', madd(y1, splat(2), times(8, y3))),
    out(0, y0),
    out(1, add(get('a'), get('b'))),
    out(2, sub(get('a'), get('b'))),
    out(3, add(get('c'), get('e'))),
    out(4, sub(get('c'), get('e'))),
    out(5, y3),
  ];
};

const SCRATCH = ['a', 'b', 'c', 'e', 'f', 'h', 'd0', 'd1', 'd2', 'd3', 'd4', 'd5'];
const t = (k: number, j: number) => `t${k}${j}`;
const y = (i: number, j: number) => `y${i}${j}`;

/**
 * M X Mᵀ for a 1D transform M (`oneD`, size → outSize): M on each column of X (element (i, j) from the
 * expression `element`, into the locals d0…), then on each row of that (locals t), each result
 * (k, l) through `out`, row by row.
 */
function transform2D(
  oneD: OneD,
  madd: Madd,
  size: number,
  outSize: number,
  element: (i: number, j: number) => string,
  out: (k: number, l: number, value: string) => string,
): string[] {
  const body: string[] = [];
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) body.push(set(`d${i}`, element(i, j)));
    body.push(
      ...oneD(
        madd,
        range(size).map((i) => `d${i}`),
        (k, value) => set(t(k, j), value),
      ),
    );
  }
  for (let k = 0; k < outSize; k++) {
    body.push(
      ...oneD(
        madd,
        range(size).map((j) => t(k, j)),
        (l, value) => out(k, l, value),
      ),
    );
  }
  return body;
}

/**
 * Loops over images, tile rows and tile columns, then `groups` groups of four channels: `tile` runs
 * once per tile, `group` once per group, after which the pointers in `advance` move 16 bytes on.
 */
function overTiles(
  g: WinogradGeometry,
  groups: number,
  tile: string[],
  group: string[],
  advance: string[],
  pair?: string[],
): string {
  // Two groups at a time where `pair` names the group's v128 locals (their copies end in _b).
  const paired = pair !== undefined && groups % 2 === 0;
  // Statement by statement, A's then B's: no other store between the two of a pair.
  const second = paired ? secondGroup(group, pair, advance) : [];
  const body = paired ? group.flatMap((line, i) => [line, second[i]]) : group;
  const bytes = paired ? 32 : 16;
  return loop('img', get('n'), [
    ...loop('ty', int((g.height - 2) / BLOCK), [
      ...loop('tx', int((g.width - 2) / BLOCK), [
        ...tile,
        ...loop('cg', int(paired ? groups / 2 : groups), [
          ...body,
          ...advance.map((p) => set(p, plus(get(p), int(bytes)))),
        ]),
      ]),
    ]),
  ]).join('\n');
}

/**
 * The next group of four channels' copy of `group`: its v128 locals `names` renamed with _b, every
 * vector load or store through one of `pointers` 16 bytes further on. Both copies in one basic
 * block, V8's revectorizer can fuse each pair of operations into one of 8 floats (the wide variant).
 */
function secondGroup(group: string[], names: string[], pointers: string[]): string[] {
  const local = new RegExp(`\\$(${names.join('|')})(?![\\w])`, 'g');
  const access = new RegExp(
    `\\(v128\\.(load|store)(?: offset=(\\d+))? \\(local\\.get \\$(${pointers.join('|')})\\)`,
    'g',
  );
  return group.map((line) =>
    line
      .replace(local, (_, name) => `$${name}_b`)
      .replace(
        access,
        (_, op, offset, pointer) => `(v128.${op} offset=${Number(offset ?? 0) + 16} (local.get $${pointer})`,
      ),
  );
}

/** `inputTiles(x, v, n)`: the transformed tiles of images [0, n) at x, into the 36 planes at v. */
function inputTilesWat(g: WinogradGeometry, madd: Madd, pair: boolean): string {
  const plane = planeBytes(g, g.channels);
  // Bᵀ d B, each of the 36 results to its plane.
  const body = transform2D(
    inputTransform1D,
    madd,
    TILE,
    TILE,
    (i, j) => `(v128.load offset=${(i * g.width + j) * g.channels * 4} ${get('s')})`,
    (k, l, value) => `(v128.store offset=${(k * TILE + l) * plane} ${get('o')} ${value})`,
  );
  const names = [...SCRATCH, ...range(PLANES).map((p) => t(Math.floor(p / TILE), p % TILE))];
  const tileCorner = set(
    's',
    plus(
      get('x'),
      mul(
        plus(
          mul(plus(mul(get('img'), int(g.height)), mul(get('ty'), int(BLOCK))), int(g.width)),
          mul(get('tx'), int(BLOCK)),
        ),
        int(g.channels * 4),
      ),
    ),
  );
  return `
  (func (export "inputTiles") (param $x i32) (param $v i32) (param $n i32)
    (local $img i32) (local $ty i32) (local $tx i32) (local $cg i32) (local $s i32) (local $o i32)
    ${v128Locals(names)} ${pair ? v128Locals(names.map((name) => `${name}_b`)) : ''}
    ${set('o', get('v'))}
    ${overTiles(g, g.channels / 4, [tileCorner], body, ['s', 'o'], pair ? names : undefined)}
  )`;
}

/** Aᵀ M A for one tile and four output channels, into locals y00…y33 (after `finish`). */
function outputBlock(g: WinogradGeometry, madd: Madd, finish: (value: string) => string): string[] {
  const plane = planeBytes(g, g.outChannels);
  return transform2D(
    outputTransform1D,
    madd,
    TILE,
    BLOCK,
    (k, l) => `(v128.load offset=${(k * TILE + l) * plane} ${get('s')})`,
    (i, j, value) => set(y(i, j), finish(value)),
  );
}

const outputNames = [
  ...SCRATCH,
  ...range(BLOCK * TILE).map((p) => t(Math.floor(p / TILE), p % TILE)),
  ...range(16).map((p) => y(p >> 2, p & 3)),
];
const outputLocals = v128Locals(outputNames);
/** With `pair`, the output kernels' locals for a second group of channels too (`extra`: their own). */
const pairedLocals = (pair: boolean, extra: string[]) =>
  pair ? v128Locals([...outputNames, ...extra].map((name) => `${name}_b`)) : '';

/** Byte offset of output position (row, column) of image `img` in an [n, rows, columns, O] tensor. */
function position(g: WinogradGeometry, base: string, rows: number, columns: number, row: string, column: string) {
  return plus(
    get(base),
    mul(plus(mul(plus(mul(get('img'), int(rows)), row), int(columns)), column), int(g.outChannels * 4)),
  );
}

/**
 * `outputPooled(m, bias, pooled, n)`: maxPool₂ₓ₂(relu(block + bias)) from the 36 product planes at
 * m, for images [0, n): the forward layer. Max-pooling commutes with nothing here: bias and relu first.
 */
function outputPooledWat(g: WinogradGeometry, madd: Madd, pair: boolean): string {
  const [pooledHeight, pooledWidth] = [g.outHeight / 2, g.outWidth / 2];
  const body = [
    set('bv', `(v128.load ${get('bp')})`),
    ...outputBlock(g, madd, (value) => `(f32x4.max (f32x4.add ${value} ${get('bv')}) ${get('zero')})`),
  ];
  for (let pi = 0; pi < 2; pi++) {
    for (let pj = 0; pj < 2; pj++) {
      const [i, j] = [2 * pi, 2 * pj];
      const max = `(f32x4.max (f32x4.max ${get(y(i, j))} ${get(y(i, j + 1))}) (f32x4.max ${get(y(i + 1, j))} ${get(y(i + 1, j + 1))}))`;
      body.push(`(v128.store offset=${(pi * pooledWidth + pj) * g.outChannels * 4} ${get('p')} ${max})`);
    }
  }
  const tile = [
    set('bp', get('bias')),
    set('p', position(g, 'pooled', pooledHeight, pooledWidth, mul(get('ty'), int(2)), mul(get('tx'), int(2)))),
  ];
  return `
  (func (export "outputPooled") (param $m i32) (param $bias i32) (param $pooled i32) (param $n i32)
    (local $img i32) (local $ty i32) (local $tx i32) (local $cg i32) (local $s i32) (local $bp i32)
    (local $p i32) (local $bv v128) (local $zero v128) ${outputLocals} ${pairedLocals(pair, ['bv'])}
    ${set('s', get('m'))}
    ${overTiles(g, g.outChannels / 4, tile, body, ['s', 'bp', 'p'], pair ? [...outputNames, 'bv'] : undefined)}
  )`;
}

/**
 * `outputCropped(m, out, n)`: the blocks as they are, into [n, outHeight, outWidth, O] at out,
 * leaving out the positions past outHeight or outWidth (the input gradient's last blocks).
 */
function outputCroppedWat(g: WinogradGeometry, madd: Madd): string {
  const body = outputBlock(g, madd, (value) => value);
  for (let i = 0; i < BLOCK; i++) {
    for (let j = 0; j < BLOCK; j++) {
      const store = `(v128.store offset=${(i * g.outWidth + j) * g.outChannels * 4} ${get('p')} ${get(y(i, j))})`;
      body.push(`(if (i32.and ${get(`row${i}`)} ${get(`column${j}`)}) (then ${store}))`);
    }
  }
  const tile = [
    set('p', position(g, 'out', g.outHeight, g.outWidth, mul(get('ty'), int(BLOCK)), mul(get('tx'), int(BLOCK)))),
    ...range(BLOCK).flatMap((i) => [
      set(`row${i}`, `(i32.lt_u ${plus(mul(get('ty'), int(BLOCK)), int(i))} ${int(g.outHeight)})`),
      set(`column${i}`, `(i32.lt_u ${plus(mul(get('tx'), int(BLOCK)), int(i))} ${int(g.outWidth)})`),
    ]),
  ];
  return `
  (func (export "outputCropped") (param $m i32) (param $out i32) (param $n i32)
    (local $img i32) (local $ty i32) (local $tx i32) (local $cg i32) (local $s i32) (local $p i32)
    ${range(BLOCK)
      .map((i) => `(local $row${i} i32) (local $column${i} i32)`)
      .join(' ')}
    ${outputLocals}
    ${set('s', get('m'))}
    ${overTiles(g, g.outChannels / 4, tile, body, ['s', 'p'])}
  )`;
}

/**
 * `outputBias(m, bias, y, n)`: block + bias from the 36 product planes at m, every position, into
 * [n, outHeight, outWidth, O] at y: the training forward pass before relu (nearTies applies it),
 * whose gradient needs the relu output before pooling. Only where the blocks tile the output exactly.
 */
function outputBiasWat(g: WinogradGeometry, madd: Madd, pair: boolean): string {
  const body = [
    set('bv', `(v128.load ${get('bp')})`),
    ...outputBlock(g, madd, (value) => `(f32x4.add ${value} ${get('bv')})`),
  ];
  for (let i = 0; i < BLOCK; i++) {
    for (let j = 0; j < BLOCK; j++) {
      body.push(`(v128.store offset=${(i * g.outWidth + j) * g.outChannels * 4} ${get('p')} ${get(y(i, j))})`);
    }
  }
  const tile = [
    set('bp', get('bias')),
    set('p', position(g, 'y', g.outHeight, g.outWidth, mul(get('ty'), int(BLOCK)), mul(get('tx'), int(BLOCK)))),
  ];
  return `
  (func (export "outputBias") (param $m i32) (param $bias i32) (param $y i32) (param $n i32)
    (local $img i32) (local $ty i32) (local $tx i32) (local $cg i32) (local $s i32) (local $bp i32)
    (local $p i32) (local $bv v128) ${outputLocals} ${pairedLocals(pair, ['bv'])}
    ${set('s', get('m'))}
    ${overTiles(g, g.outChannels / 4, tile, body, ['s', 'bp', 'p'], pair ? [...outputNames, 'bv'] : undefined)}
  )`;
}

/**
 * `nearTies(y, n, eps, list, mask)`: relu on y (outputBias's, [n, outHeight, outWidth, O]), and the
 * 2×2 pooling windows whose decisions Winograd's rounding could have taken (windows whose four
 * positions constantPatches computed, 1 in `mask`, are exact already): for each window and group of
 * four channels where, in some channel, the maximum m is within eps of 0 without being 0, or m > 0
 * and another value is within eps of m without being equal to it, the index
 * (window·O/4 + group) goes to the i32 list at `list`, and those four channels are left before
 * relu for the caller to decide. Returns how many. Equal values are exact ties (constantPatches
 * makes them), decided as a direct convolution decides them: the first maximum.
 */
function nearTiesWat(g: WinogradGeometry): string {
  const [pooledHeight, pooledWidth] = [g.outHeight / 2, g.outWidth / 2];
  const row = g.outWidth * g.outChannels * 4;
  const corners = [0, g.outChannels * 4, row, row + g.outChannels * 4];
  const names = ['va', 'vb', 'vd', 've'];
  const near = (v: string) =>
    `(v128.and (f32x4.lt (f32x4.sub ${get('mx')} ${get(v)}) ${get('eps')}) (f32x4.ne ${get('mx')} ${get(v)}))`;
  const maskCorners = [0, 4, g.outWidth * 4, g.outWidth * 4 + 4];
  const body = [
    ...names.map((v, k) => set(v, `(v128.load offset=${corners[k]} ${get('p')})`)),
    `(if (i32.eqz ${get('exact')}) (then`,
    set('mx', `(f32x4.max (f32x4.max ${get('va')} ${get('vb')}) (f32x4.max ${get('vd')} ${get('ve')}))`),
    set(
      'flag',
      `(v128.or (v128.and (f32x4.lt (f32x4.abs ${get('mx')}) ${get('eps')}) (f32x4.ne ${get('mx')} ${get('zero')})) ` +
        `(v128.and (f32x4.gt ${get('mx')} ${get('zero')}) (v128.or (v128.or ${near('va')} ${near('vb')}) (v128.or ${near('vd')} ${near('ve')}))))`,
    ),
    '))',
    `(if (v128.any_true ${get('flag')}) (then (i32.store ${get('l')} ${get('w')}) ${set('l', plus(get('l'), int(4)))}) (else`,
    ...names.map((v, k) => `(v128.store offset=${corners[k]} ${get('p')} (f32x4.max ${get(v)} ${get('zero')}))`),
    '))',
    set('flag', get('zero')),
    set('p', plus(get('p'), int(16))),
    set('w', plus(get('w'), int(1))),
  ];
  return `
  (func (export "nearTies") (param $y i32) (param $n i32) (param $epsilon f32) (param $list i32) (param $mask i32)
    (result i32) (local $exact i32) (local $img i32) (local $pr i32) (local $pc i32) (local $cg i32) (local $p i32) (local $l i32) (local $w i32)
    (local $eps v128) (local $zero v128) (local $mx v128) (local $flag v128)
    ${v128Locals(names)}
    ${set('eps', `(f32x4.splat ${get('epsilon')})`)}
    ${set('p', get('y'))}
    ${set('l', get('list'))}
    ${loop('img', get('n'), [
      ...loop('pr', int(pooledHeight), [
        ...loop('pc', int(pooledWidth), [
          set(
            'exact',
            maskCorners.map((o) => `(i32.load offset=${o} ${get('mask')})`).reduce((a, b) => `(i32.and ${a} ${b})`),
          ),
          set('mask', plus(get('mask'), int(8))),
          ...loop('cg', int(g.outChannels / 4), body),
          // Past the window's second column: the next window starts two positions on.
          set('p', plus(get('p'), int(g.outChannels * 4))),
        ]),
        // Past the windows' second row.
        set('p', plus(get('p'), int(row))),
        set('mask', plus(get('mask'), int(g.outWidth * 4))),
      ]),
    ]).join('\n')}
    (i32.shr_u (i32.sub ${get('l')} ${get('list')}) (i32.const 2))
  )`;
}

/**
 * `constantPatches(x, s, bias, y, n, mask)`: the training forward pass's rule for exact ties. Every output
 * position whose 3×3 input patch holds one vector u at all nine positions (MNIST's background, and
 * at the first step every zero patch) gets bias + Σ_c u_c·S_c instead of Winograd's value,
 * S = Σ_ij filter[i, j] ([C × O] at s): the same value wherever the patch is the same, exactly the
 * bias where it is zero, as a direct convolution gives, so that relu's and the max-pool's decisions
 * there do not follow Winograd's rounding. Rewrites those positions of y ([n, outHeight, outWidth,
 * O], outputBias's, before relu). The last u's value is kept: a run of background positions
 * computes it once. Writes 1 for those positions, 0 for the others, to the i32 array `mask`
 * ([n, outHeight, outWidth]). Returns max |x| over the patches' first positions, the scale of
 * nearTies' eps.
 */
function constantPatchesWat(g: WinogradGeometry, madd: Madd): string {
  const groups = g.channels / 4;
  const outGroups = g.outChannels / 4;
  const pixel = g.channels * 4;
  const neighbours = range(9)
    .slice(1)
    .map((k) => (Math.floor(k / 3) * g.width + (k % 3)) * pixel);
  const check = neighbours.map((offset) => {
    const eqs = range(groups).map(
      (q) => `(f32x4.eq (v128.load offset=${offset + q * 16} ${get('p')}) ${get(`u${q}`)})`,
    );
    const all = eqs.reduce((acc, e) => `(v128.and ${acc} ${e})`);
    return `(br_if $skip (i32.eqz (i32x4.all_true ${all})))`;
  });
  const same = range(groups)
    .map((q) => `(f32x4.eq ${get(`u${q}`)} ${get(`c${q}`)})`)
    .reduce((acc, e) => `(v128.and ${acc} ${e})`);
  const recompute = [
    ...range(groups).map((q) => set(`c${q}`, get(`u${q}`))),
    ...range(outGroups).map((o) => set(`d${o}`, `(v128.load offset=${o * 16} ${get('bias')})`)),
    ...range(g.channels).flatMap((c) => [
      set('av', `(v128.load32_splat offset=${c * 4} ${get('p')})`),
      ...range(outGroups).map((o) =>
        set(
          `d${o}`,
          madd(get('av'), `(v128.load offset=${(c * g.outChannels + o * 4) * 4} ${get('s')})`, get(`d${o}`)),
        ),
      ),
    ]),
    set('valid', int(1)),
  ];
  const position = [
    ...range(groups).flatMap((q) => [
      set(`u${q}`, `(v128.load offset=${q * 16} ${get('p')})`),
      set('xm', `(f32x4.max ${get('xm')} (f32x4.abs ${get(`u${q}`)}))`),
    ]),
    `(i32.store ${get('mask')} (i32.const 0))`,
    '(block $skip',
    ...check,
    `(i32.store ${get('mask')} (i32.const 1))`,
    `(if (i32.eqz (i32.and ${get('valid')} (i32x4.all_true ${same}))) (then ${recompute.join(' ')}))`,
    ...range(outGroups).map((o) => `(v128.store offset=${o * 16} ${get('q')} ${get(`d${o}`)})`),
    ')',
    set('p', plus(get('p'), int(pixel))),
    set('q', plus(get('q'), int(g.outChannels * 4))),
    set('mask', plus(get('mask'), int(4))),
  ];
  return `
  (func (export "constantPatches") (param $x i32) (param $s i32) (param $bias i32) (param $y i32) (param $n i32)
    (param $mask i32) (result f32)
    (local $img i32) (local $r i32) (local $col i32) (local $p i32) (local $q i32) (local $valid i32)
    (local $av v128) (local $xm v128)
    ${v128Locals([...range(groups).flatMap((q) => [`u${q}`, `c${q}`]), ...range(outGroups).map((o) => `d${o}`)])}
    ${set('p', get('x'))}
    ${set('q', get('y'))}
    ${loop('img', get('n'), [
      ...loop('r', int(g.outHeight), [
        ...loop('col', int(g.outWidth), position),
        set('p', plus(get('p'), int((g.width - g.outWidth) * pixel))),
      ]),
      set('p', plus(get('p'), int((g.height - g.outHeight) * g.width * pixel))),
    ]).join('\n')}
    (f32.max (f32.max (f32x4.extract_lane 0 ${get('xm')}) (f32x4.extract_lane 1 ${get('xm')}))
      (f32.max (f32x4.extract_lane 2 ${get('xm')}) (f32x4.extract_lane 3 ${get('xm')})))
  )`;
}

/** Lanes (l0…l3) of the 8 lanes of a and b: `i8x16.shuffle` on their bytes. */
function shuffle32(a: string, b: string, lanes: number[]): string {
  const bytes = lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  return `(i8x16.shuffle ${bytes.join(' ')} ${a} ${b})`;
}

/** Rows a0…a3 of a 4×4 block of floats into its columns b0…b3 (temporaries a, b, c, e). */
function transpose4(a: string[], b: string[]): string[] {
  const [a0, a1, a2, a3] = a.map(get);
  return [
    set('a', shuffle32(a0, a1, [0, 4, 1, 5])),
    set('b', shuffle32(a0, a1, [2, 6, 3, 7])),
    set('c', shuffle32(a2, a3, [0, 4, 1, 5])),
    set('e', shuffle32(a2, a3, [2, 6, 3, 7])),
    set(b[0], shuffle32(get('a'), get('c'), [0, 1, 4, 5])),
    set(b[1], shuffle32(get('a'), get('c'), [2, 3, 6, 7])),
    set(b[2], shuffle32(get('b'), get('e'), [0, 1, 4, 5])),
    set(b[3], shuffle32(get('b'), get('e'), [2, 3, 6, 7])),
  ];
}

/**
 * `gradientBlocks(dy, dyt, bias, n)`: for the filter gradient, A dY Aᵀ of every 4×4 block of dy
 * (n images, [outHeight, width, O] each: at the input's width, as relu's gradient writes it) into
 * 36 planes of [O × n·tiles] at dyt (planeStride(O·n·tiles) bytes apart), the left operands of the products: transposed, so four
 * consecutive tiles are transformed together, a lane each, after a 4×4 transpose of each loaded
 * position's four channels. Adds each channel's Σ dy to the O floats at `bias`.
 */
function gradientBlocksWat(g: WinogradGeometry, madd: Madd): string {
  const tiles = tilesPerImage(g);
  const tilesAcross = (g.width - 2) / BLOCK;
  const w = (k: number, p: number, q: number) => `w${k}${p}${q}`;
  const body: string[] = [];
  // Load each position of the four tiles (four channels each), sum them, transpose to channels.
  for (let p = 0; p < BLOCK; p++) {
    for (let q = 0; q < BLOCK; q++) {
      const offset = (p * g.width + q) * g.outChannels * 4;
      for (let tile = 0; tile < 4; tile++) {
        body.push(set(`d${tile}`, `(v128.load offset=${offset} ${get(`s${tile}`)})`));
        body.push(set('sum', add(get('sum'), get(`d${tile}`))));
      }
      body.push(
        ...transpose4(
          ['d0', 'd1', 'd2', 'd3'],
          range(4).map((k) => w(k, p, q)),
        ),
      );
    }
  }
  body.push(`(v128.store ${get('bp')} (f32x4.add (v128.load ${get('bp')}) ${get('sum')}))`, set('sum', get('zero')));
  // Each channel k: A dY Aᵀ of its four tiles (a lane each), the 36 results to row k of the planes.
  for (let k = 0; k < 4; k++) {
    body.push(
      set('p', plus(get('o'), mul(get('row'), int(k)))),
      ...transform2D(
        gradientTransform1D,
        madd,
        BLOCK,
        TILE,
        (p, q) => get(w(k, p, q)),
        (_x, _l, value) => `(v128.store ${get('p')} ${value}) ${set('p', plus(get('p'), get('plane')))}`,
      ),
    );
  }
  // Tile r (0 ≤ r < tiles) of image img starts at dy + ((img·outHeight + 4·ty)·width + 4·tx)·O·4.
  const corner = (r: string) =>
    plus(
      get('dy'),
      mul(
        plus(
          mul(
            plus(mul(get('img'), int(g.height - 2)), mul(`(i32.div_u ${r} ${int(tilesAcross)})`, int(BLOCK))),
            int(g.width),
          ),
          mul(`(i32.rem_u ${r} ${int(tilesAcross)})`, int(BLOCK)),
        ),
        int(g.outChannels * 4),
      ),
    );
  const group = [
    ...range(4).map((tile) => set(`s${tile}`, corner(plus(mul(get('quad'), int(4)), int(tile))))),
    set('bp', get('bias')),
    set('o', plus(get('dyt'), mul(plus(mul(get('img'), int(tiles)), mul(get('quad'), int(4))), int(4)))),
    ...loop('cg', int(g.outChannels / 4), [
      ...body,
      ...['s0', 's1', 's2', 's3', 'bp'].map((ptr) => set(ptr, plus(get(ptr), int(16)))),
      // The next four channels' rows.
      set('o', plus(get('o'), mul(get('row'), int(4)))),
    ]),
  ];
  return `
  (func (export "gradientBlocks") (param $dy i32) (param $dyt i32) (param $bias i32) (param $n i32)
    (local $img i32) (local $quad i32) (local $cg i32) (local $s0 i32) (local $s1 i32) (local $s2 i32)
    (local $s3 i32) (local $o i32) (local $p i32) (local $bp i32) (local $row i32) (local $plane i32)
    (local $sum v128) (local $zero v128)
    ${v128Locals([
      ...SCRATCH,
      ...range(TILE * BLOCK).map((i) => t(Math.floor(i / BLOCK), i % BLOCK)),
      ...range(64).map((i) => w(i >> 4, (i >> 2) & 3, i & 3)),
    ])}
    ;; Bytes between rows (channels) of a plane, and between planes (planeStride: an odd number of lines).
    ${set('row', mul(get('n'), int(tiles * 4)))}
    ${set('plane', `(i32.or (i32.and ${plus(mul(get('row'), int(g.outChannels)), int(63))} ${int(-64)}) ${int(64)})`)}
    ${loop('img', get('n'), loop('quad', int(tiles / 4), group)).join('\n')}
  )`;
}

/** `accumulate(from, to, count)`: to[i] += from[i] for count floats, count a multiple of 4. */
const accumulateWat = `
  (func (export "accumulate") (param $from i32) (param $to i32) (param $count i32)
    (local $end i32)
    ${set('end', plus(get('from'), mul(get('count'), int(4))))}
    (block $done (loop $next
      (br_if $done (i32.ge_u ${get('from')} ${get('end')}))
      (v128.store ${get('to')} ${add(`(v128.load ${get('to')})`, `(v128.load ${get('from')})`)})
      ${set('from', plus(get('from'), int(16)))}
      ${set('to', plus(get('to'), int(16)))}
      (br $next)))
  )`;

/** Rows of the GEMM's register block; its columns are two vectors, 8 floats. */
export const GEMM_ROWS = 4;
export const GEMM_COLUMNS = 8;

/**
 * `gemm(a, b, c, m, k, n, aPlane, bPlane, cPlane, planes, accumulate)`: for each of `planes`
 * planes p, C_p = A_p·B_p (or C_p += A_p·B_p with accumulate ≠ 0), A_p [m × k], B_p [k × n],
 * C_p [m × n], row-major, plane p of each at its base + p·(its plane stride, bytes); n a multiple
 * of 8. Blocks of 4 rows × 8 columns, 8 accumulators in registers (x86 has 16 vector registers:
 * 8 + 2 of B + 1 splat of A leave room), each step of k one multiply-add per accumulator; the
 * rows past a multiple of 4 one at a time. In the `wide` variant, blocks of 4 rows × 16 columns
 * first (16 accumulators: 8 AVX2 registers once V8 revectorizes them), then of 8.
 */
function gemmWat(madd: Madd, vectors: number): string {
  const acc = (r: number, q: number) => `acc${r}${q}`;
  /** One register block of `rows` rows starting at row i, columns j…j+4·width−1. */
  const block = (rows: number, width: number) => {
    const rowPointer = (r: number) => plus(get('ap'), mul(get('rowA'), int(r)));
    const cAt = (r: number) => plus(get('cp'), mul(get('rowC'), int(r)));
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) {
      lines.push(set(`a${r}p`, rowPointer(r)), set('cr', cAt(r)));
      for (let q = 0; q < width; q++) {
        // C's values, or zeros (keep all bits zero): no branch, so the block stays one basic block.
        lines.push(set(acc(r, q), `(v128.and (v128.load offset=${q * 16} ${get('cr')}) ${get('keep')})`));
      }
    }
    lines.push(set('bq', get('bj')), set('end', plus(get('a0p'), get('rowA'))));
    const step = range(width).map((q) => set(`b${q}`, `(v128.load offset=${q * 16} ${get('bq')})`));
    for (let r = 0; r < rows; r++) {
      step.push(set('av', `(v128.load32_splat ${get(`a${r}p`)})`));
      for (let q = 0; q < width; q++) step.push(set(acc(r, q), madd(get('av'), get(`b${q}`), get(acc(r, q)))));
      step.push(set(`a${r}p`, plus(get(`a${r}p`), int(4))));
    }
    step.push(set('bq', plus(get('bq'), get('rowB'))));
    lines.push(
      `(block $k_end (loop $k_next (br_if $k_end (i32.ge_u ${get('a0p')} ${get('end')}))`,
      ...step,
      '(br $k_next)))',
    );
    for (let r = 0; r < rows; r++) {
      lines.push(set('cr', cAt(r)));
      for (let q = 0; q < width; q++) lines.push(`(v128.store offset=${q * 16} ${get('cr')} ${get(acc(r, q))})`);
    }
    return lines;
  };
  /** Over the column blocks of `rows` rows from row i (ap, cp at row i). */
  const columns = (rows: number) => columnBlocks(rows, vectors, block, get('bp'), plus(get('ci'), int(0)));
  return `
  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32)
    (param $n i32) (param $aPlane i32) (param $bPlane i32) (param $cPlane i32) (param $planes i32)
    (param $accumulate i32)
    (local $p i32) (local $i i32) (local $ap i32) (local $bp i32) (local $ci i32) (local $bj i32)
    (local $cp i32) (local $bq i32) (local $end i32) (local $bEnd i32) (local $rowA i32) (local $rowB i32)
    (local $rowC i32) (local $cr i32) (local $a0p i32) (local $a1p i32) (local $a2p i32) (local $a3p i32)
    (local $keep v128) (local $av v128) ${v128Locals(range(vectors).map((q) => `b${q}`))}
    ${v128Locals(range(GEMM_ROWS).flatMap((r) => range(vectors).map((q) => acc(r, q))))}
    ${set('keep', `(i32x4.splat (i32.sub ${int(0)} (i32.ne ${get('accumulate')} ${int(0)})))`)}
    ${set('rowA', mul(get('k'), int(4)))}
    ${set('rowB', mul(get('n'), int(4)))}
    ${set('rowC', mul(get('n'), int(4)))}
    ${loop('p', get('planes'), [
      set('ap', plus(get('a'), mul(get('p'), get('aPlane')))),
      set('bp', plus(get('b'), mul(get('p'), get('bPlane')))),
      set('ci', plus(get('c'), mul(get('p'), get('cPlane')))),
      set('bEnd', plus(get('bp'), get('rowB'))),
      set('i', int(0)),
      `(block $i_end (loop $i_next (br_if $i_end (i32.gt_u (i32.add ${get('i')} ${int(GEMM_ROWS)}) ${get('m')}))`,
      ...columns(GEMM_ROWS),
      set('i', plus(get('i'), int(GEMM_ROWS))),
      set('ap', plus(get('ap'), mul(get('rowA'), int(GEMM_ROWS)))),
      set('ci', plus(get('ci'), mul(get('rowC'), int(GEMM_ROWS)))),
      '(br $i_next)))',
      `(block $r_end (loop $r_next (br_if $r_end (i32.ge_u ${get('i')} ${get('m')}))`,
      ...columns(1),
      set('i', plus(get('i'), int(1))),
      set('ap', plus(get('ap'), get('rowA'))),
      set('ci', plus(get('ci'), get('rowC'))),
      '(br $r_next)))',
    ]).join('\n')}
  )`;
}

/** Whether the blocks tile the output exactly (no cropping): the training forward pass's kernels. */
const exactBlocks = (g: WinogradGeometry) => g.outHeight === g.height - 2 && g.outWidth === g.width - 2;

/** The module's text for geometry `g` in `variant`. */
export function winogradWat(g: WinogradGeometry, variant: SimdVariant): string {
  const madd = madds[variant];
  // The wide variant's tile transforms two groups of four channels at a time (overTiles).
  const pair = variant === 'wide';
  return `(module
  (memory (import "env" "memory") 1)
  ${inputTilesWat(g, madd, pair)}
  ${g.outHeight % 2 === 0 && g.outWidth % 2 === 0 ? outputPooledWat(g, madd, pair) : ''}
  ${outputCroppedWat(g, madd)}
  ${exactBlocks(g) && g.outHeight % 2 === 0 && g.outWidth % 2 === 0 ? outputBiasWat(g, madd, pair) + constantPatchesWat(g, madd) + nearTiesWat(g) : ''}
  ${tilesPerImage(g) % 4 === 0 ? gradientBlocksWat(g, madd) : ''}
  ${accumulateWat}
  ${gemmWat(madd, gemmVectors(variant))}
)`;
}

/** wabt's features for `variant`. */
export const watFeatures = (variant: SimdVariant) => ({ simd: true, relaxed_simd: variant !== 'plain' });
