// Winograd F(4×4, 3×3) for the model's second convolution (85% of its multiplications): the forward
// pass outside gradients, the input gradient and the filter gradient. Each 4×4 block of outputs
// comes from a 6×6 tile of the input: per tile and channel pair 36 multiplications instead of 144.
// Summed over channels they are 36 matrix products, which XNNPACK runs at full speed; the transforms
// around them are straight-line wasm SIMD over four channels at a time, generated here for the
// layer's sizes and compiled with wabt (kernels.ts runs them on the wasm backend's heap).
//
// Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A (Lavin & Gray 2015), d a 6×6 input tile, g a 3×3 filter; its
// gradient with respect to g, dW = Gᵀ[(A dY Aᵀ) ⊙ (Bᵀ d B)]G, summed over tiles.
import wabtInit from 'wabt';

/** The sizes one compiled module is specialised for. */
export interface WinogradGeometry {
  /** Input planes; (height − 2) and (width − 2) are multiples of 4 (pad the input to make them so). */
  height: number;
  width: number;
  channels: number;
  outChannels: number;
  /** Output positions written per image, ≤ (height − 2) × (width − 2); the rest is cropped. */
  outHeight: number;
  outWidth: number;
  /** Images whose tiles go through the 36 products together. */
  chunk: number;
}

/** A 6×6 input tile makes a 4×4 output block; 36 products per tile. */
const TILE = 6;
export const BLOCK = 4;
export const PLANES = TILE * TILE;

/** Whether a valid 3×3 convolution of this size needs no padding here. */
export function winogradFits(height: number, width: number, channels: number, outChannels: number): boolean {
  return (
    height > 2 &&
    width > 2 &&
    (height - 2) % BLOCK === 0 &&
    (width - 2) % BLOCK === 0 &&
    channels % 4 === 0 &&
    outChannels % 4 === 0
  );
}

export function tilesPerImage(g: Pick<WinogradGeometry, 'height' | 'width'>): number {
  return ((g.height - 2) / BLOCK) * ((g.width - 2) / BLOCK);
}

const G = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];

/**
 * U = G g Gᵀ for every (input, output) channel pair of a [3, 3, C, O] filter, as 36 planes of
 * [C × O] (plane k·6 + l holds element (k, l)): the right operands of the 36 products. With
 * `rotated`, the filter of the input gradient instead: g turned 180° and its channel axes swapped,
 * so the planes are [O × C].
 */
export function transformFilter(
  filter: Float32Array,
  channels: number,
  outChannels: number,
  out: Float32Array,
  rotated = false,
): void {
  const pairs = channels * outChannels;
  const g = new Float64Array(9);
  const gg = new Float64Array(TILE * 3);
  for (let c = 0; c < channels; c++) {
    for (let o = 0; o < outChannels; o++) {
      const from = c * outChannels + o;
      for (let a = 0; a < 9; a++) g[a] = filter[(rotated ? 8 - a : a) * pairs + from];
      for (let k = 0; k < TILE; k++) {
        for (let b = 0; b < 3; b++) gg[k * 3 + b] = G[k][0] * g[b] + G[k][1] * g[3 + b] + G[k][2] * g[6 + b];
      }
      const to = rotated ? o * channels + c : from;
      for (let k = 0; k < TILE; k++) {
        for (let l = 0; l < TILE; l++) {
          out[(k * TILE + l) * pairs + to] = gg[k * 3] * G[l][0] + gg[k * 3 + 1] * G[l][1] + gg[k * 3 + 2] * G[l][2];
        }
      }
    }
  }
}

/**
 * The filter gradient's last step, dW = Gᵀ P G for every channel pair, into `dW` ([3, 3, C, O]):
 * P holds the 36 planes of products [O × C] (plane k·6 + l is element (k, l)) summed over tiles.
 */
export function filterFromProducts(
  products: Float32Array,
  channels: number,
  outChannels: number,
  dW: Float32Array,
): void {
  const pairs = channels * outChannels;
  const gp = new Float64Array(3 * TILE);
  for (let o = 0; o < outChannels; o++) {
    for (let c = 0; c < channels; c++) {
      const from = o * channels + c;
      // Gᵀ P: 3 × 6
      for (let i = 0; i < 3; i++) {
        for (let l = 0; l < TILE; l++) {
          let v = 0;
          for (let k = 0; k < TILE; k++) v += G[k][i] * products[(k * TILE + l) * pairs + from];
          gp[i * TILE + l] = v;
        }
      }
      // (Gᵀ P) G: 3 × 3
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          let v = 0;
          for (let l = 0; l < TILE; l++) v += gp[i * TILE + l] * G[l][j];
          dW[(i * 3 + j) * pairs + c * outChannels + o] = v;
        }
      }
    }
  }
}

// ---- wasm text ---------------------------------------------------------------------------------

const get = (name: string) => `(local.get $${name})`;
const set = (name: string, value: string) => `(local.set $${name} ${value})`;
const add = (a: string, b: string) => `(f32x4.add ${a} ${b})`;
const sub = (a: string, b: string) => `(f32x4.sub ${a} ${b})`;
const times = (k: number, a: string) => `(f32x4.mul ${a} (v128.const f32x4 ${k} ${k} ${k} ${k}))`;
const int = (n: number) => `(i32.const ${n})`;
const plus = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
const range = (n: number) => [...Array(n).keys()];
const v128Locals = (names: string[]) => names.map((n) => `(local $${n} v128)`).join(' ');

/** for (name = 0; name < limit; name++) body */
function loop(name: string, limit: string, body: string[]): string[] {
  return [
    set(name, int(0)),
    `(block $${name}_end (loop $${name}_next`,
    `(br_if $${name}_end (i32.ge_u ${get(name)} ${limit}))`,
    ...body,
    set(name, plus(get(name), int(1))),
    `(br $${name}_next)))`,
  ];
}

/** Bᵀ applied to six vectors (locals `d`), results through `out`; temporaries a…h. */
function inputTransform1D(d: string[], out: (k: number, value: string) => string): string[] {
  const [d0, d1, d2, d3, d4, d5] = d.map(get);
  return [
    set('a', sub(d4, d2)),
    set('b', sub(d3, d1)),
    set('c', add(d1, d2)),
    set('e', add(d3, d4)),
    set('f', sub(d1, d2)),
    set('h', sub(d4, d3)),
    out(0, add(sub(times(4, d0), times(5, d2)), d4)),
    out(1, sub(get('e'), times(4, get('c')))),
    out(2, add(get('h'), times(4, get('f')))),
    out(3, add(get('a'), times(2, get('b')))),
    out(4, sub(get('a'), times(2, get('b')))),
    out(5, add(sub(times(4, d1), times(5, d3)), d5)),
  ];
}

/** Aᵀ applied to six vectors (locals `m`), results through `out`; temporaries a…e. */
function outputTransform1D(m: string[], out: (i: number, value: string) => string): string[] {
  const [m0, m1, m2, m3, m4, m5] = m.map(get);
  return [
    set('a', add(m1, m2)),
    set('b', sub(m1, m2)),
    set('c', add(m3, m4)),
    set('e', sub(m3, m4)),
    out(0, add(add(m0, get('a')), get('c'))),
    out(1, add(get('b'), times(2, get('e')))),
    out(2, add(get('a'), times(4, get('c')))),
    out(3, add(add(get('b'), times(8, get('e'))), m5)),
  ];
}

const SCRATCH = ['a', 'b', 'c', 'e', 'f', 'h', 'd0', 'd1', 'd2', 'd3', 'd4', 'd5'];
const t = (k: number, j: number) => `t${k}${j}`;
const y = (i: number, j: number) => `y${i}${j}`;

type OneD = (inputs: string[], out: (k: number, value: string) => string) => string[];

/**
 * M X Mᵀ for a 1D transform M (`oneD`, size → outSize): M on each column of X (element (i, j) from the
 * expression `element`, into the locals d0…), then on each row of that (locals t), each result
 * (k, l) through `out`, row by row.
 */
function transform2D(
  oneD: OneD,
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
        range(size).map((i) => `d${i}`),
        (k, value) => set(t(k, j), value),
      ),
    );
  }
  for (let k = 0; k < outSize; k++) {
    body.push(
      ...oneD(
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
function overTiles(g: WinogradGeometry, groups: number, tile: string[], group: string[], advance: string[]): string {
  return loop('img', get('n'), [
    ...loop('ty', int((g.height - 2) / BLOCK), [
      ...loop('tx', int((g.width - 2) / BLOCK), [
        ...tile,
        ...loop('cg', int(groups), [...group, ...advance.map((p) => set(p, plus(get(p), int(16))))]),
      ]),
    ]),
  ]).join('\n');
}

/** Bytes from one plane of the products' left operands (or results) to the next. */
function planeBytes(g: WinogradGeometry, channels: number): number {
  return g.chunk * tilesPerImage(g) * channels * 4;
}

/** `inputTiles(x, v, n)`: the transformed tiles of images [0, n) at x, into the 36 planes at v. */
function inputTilesWat(g: WinogradGeometry): string {
  const plane = planeBytes(g, g.channels);
  // Bᵀ d B, each of the 36 results to its plane.
  const body = transform2D(
    inputTransform1D,
    TILE,
    TILE,
    (i, j) => `(v128.load offset=${(i * g.width + j) * g.channels * 4} ${get('s')})`,
    (k, l, value) => `(v128.store offset=${(k * TILE + l) * plane} ${get('o')} ${value})`,
  );
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
    ${v128Locals([...SCRATCH, ...range(PLANES).map((p) => t(Math.floor(p / TILE), p % TILE))])}
    ${set('o', get('v'))}
    ${overTiles(g, g.channels / 4, [tileCorner], body, ['s', 'o'])}
  )`;
}

/** Aᵀ M A for one tile and four output channels, into locals y00…y33 (after `finish`). */
function outputBlock(g: WinogradGeometry, finish: (value: string) => string): string[] {
  const plane = planeBytes(g, g.outChannels);
  return transform2D(
    outputTransform1D,
    TILE,
    BLOCK,
    (k, l) => `(v128.load offset=${(k * TILE + l) * plane} ${get('s')})`,
    (i, j, value) => set(y(i, j), finish(value)),
  );
}

const outputLocals = v128Locals([
  ...SCRATCH,
  ...range(BLOCK * TILE).map((p) => t(Math.floor(p / TILE), p % TILE)),
  ...range(16).map((p) => y(p >> 2, p & 3)),
]);

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
function outputPooledWat(g: WinogradGeometry): string {
  const [pooledHeight, pooledWidth] = [g.outHeight / 2, g.outWidth / 2];
  const body = [
    set('bv', `(v128.load ${get('bp')})`),
    ...outputBlock(g, (value) => `(f32x4.max (f32x4.add ${value} ${get('bv')}) ${get('zero')})`),
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
    (local $p i32) (local $bv v128) (local $zero v128) ${outputLocals}
    ${set('s', get('m'))}
    ${overTiles(g, g.outChannels / 4, tile, body, ['s', 'bp', 'p'])}
  )`;
}

/**
 * `outputCropped(m, out, n)`: the blocks as they are, into [n, outHeight, outWidth, O] at out,
 * leaving out the positions past outHeight or outWidth (the input gradient's last blocks).
 */
function outputCroppedWat(g: WinogradGeometry): string {
  const body = outputBlock(g, (value) => value);
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

/** A applied to four vectors (locals `y`): e = A y, six results through `out`; temporaries a…e. */
function gradientTransform1D(d: string[], out: (k: number, value: string) => string): string[] {
  const [y0, y1, y2, y3] = d.map(get);
  return [
    set('a', add(y0, y2)),
    set('b', add(y1, y3)),
    set('c', add(y0, times(4, y2))),
    set('e', add(times(2, y1), times(8, y3))),
    out(0, y0),
    out(1, add(get('a'), get('b'))),
    out(2, sub(get('a'), get('b'))),
    out(3, add(get('c'), get('e'))),
    out(4, sub(get('c'), get('e'))),
    out(5, y3),
  ];
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
 * 36 planes of [O × n·tiles] at dyt, the left operands of the products: transposed, so four
 * consecutive tiles are transformed together, a lane each, after a 4×4 transpose of each loaded
 * position's four channels. Adds each channel's Σ dy to the O floats at `bias`.
 */
function gradientBlocksWat(g: WinogradGeometry): string {
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
    ;; Bytes between rows (channels) of a plane, and between planes.
    ${set('row', mul(get('n'), int(tiles * 4)))}
    ${set('plane', mul(get('row'), int(g.outChannels)))}
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

/** The module's text for geometry `g`. */
function winogradWat(g: WinogradGeometry): string {
  return `(module
  (memory (import "env" "memory") 1)
  ${inputTilesWat(g)}
  ${g.outHeight % 2 === 0 && g.outWidth % 2 === 0 ? outputPooledWat(g) : ''}
  ${outputCroppedWat(g)}
  ${tilesPerImage(g) % 4 === 0 ? gradientBlocksWat(g) : ''}
  ${accumulateWat}
)`;
}

export interface WinogradKernels {
  inputTiles(x: number, v: number, n: number): void;
  outputPooled(m: number, bias: number, pooled: number, n: number): void;
  outputCropped(m: number, out: number, n: number): void;
  gradientBlocks(dy: number, dyt: number, bias: number, n: number): void;
  accumulate(from: number, to: number, count: number): void;
}

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Wabt | undefined;

/** Loads the wat compiler (~40 ms); once, before the first kernel needs a module. */
export async function loadWinogradCompiler(): Promise<void> {
  wabt ??= await wabtInit();
}

/** Compiled modules by the heap they work in (one per wasm backend), then by geometry. */
const compiled = new WeakMap<WebAssembly.Memory, Map<string, WinogradKernels>>();

/** The kernels for geometry `g`, working in `memory` (the wasm backend's heap). */
export function winogradKernels(g: WinogradGeometry, memory: WebAssembly.Memory): WinogradKernels {
  const key = JSON.stringify(g);
  const byGeometry = compiled.get(memory) ?? new Map<string, WinogradKernels>();
  compiled.set(memory, byGeometry);
  let kernels = byGeometry.get(key);
  if (kernels) return kernels;
  if (!wabt) throw new Error('loadWinogradCompiler() must finish before the first Winograd convolution');
  const text = wabt.parseWat('winograd.wat', winogradWat(g), { simd: true });
  try {
    const { buffer } = text.toBinary({});
    kernels = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(buffer)), { env: { memory } })
      .exports as unknown as WinogradKernels;
  } finally {
    text.destroy();
  }
  byGeometry.set(key, kernels);
  return kernels;
}
