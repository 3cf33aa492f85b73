// The wasm text of the trainer's other kernel module (prebuilt to wasm/train.*.wasm by build.ts;
// the Worker does not use it): a strided register-blocked GEMM for the dense layers' forward pass
// and both their gradients, and conv1's filter and bias gradient. Two variants as for Winograd's
// module: `relaxed` multiplies and adds with one f32x4.relaxed_madd (one vfmadd on x86 with FMA),
// `plain` with f32x4.mul then f32x4.add.
import { columnBlocks, gemmVectors, type Madd, madds, type SimdVariant } from './winograd-wat.ts';

const get = (name: string) => `(local.get $${name})`;
const set = (name: string, value: string) => `(local.set $${name} ${value})`;
const int = (n: number) => `(i32.const ${n})`;
const plus = (a: string, b: string) => `(i32.add ${a} ${b})`;
const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
const range = (n: number) => [...Array(n).keys()];
const v128Locals = (names: string[]) => names.map((n) => `(local $${n} v128)`).join(' ');

/** The sizes conv1's filter gradient kernel is unrolled for: one input channel, a 3×3 filter. */
export interface Conv1Geometry {
  /** The input image (one channel). */
  height: number;
  width: number;
  /** Output channels (a multiple of 4). */
  outChannels: number;
}

/**
 * `gemm(a, b, c, m, k, n, rowA, stepA, rowB, rowC, accumulate)`: C = A·B (or C += A·B with
 * accumulate ≠ 0), A [m × k] with element (i, l) at a + i·rowA + l·stepA bytes (row-major A:
 * rowA = 4k, stepA = 4; A stored transposed: rowA = 4, stepA = its row's bytes), B [k × n] row-major
 * with rowB bytes a row, C [m × n] with rowC bytes a row; n a multiple of 8. Blocks of 4 rows × 8
 * columns, 8 accumulators in registers, one multiply-add per accumulator and step of l; the rows past a
 * multiple of 4 one at a time. The caller blocks k (so that B's rows stay in cache) with accumulate.
 * With pack ≠ 0 (scratch room for 4k floats), each block of 4 rows of A is first copied row-major
 * there: A stored transposed has its 4 values of a step in one cache line, but k lines a whole
 * row of the stored matrix apart, which the cache cannot keep across the column blocks.
 */
function gemmWat(madd: Madd, vectors: number): string {
  const acc = (r: number, q: number) => `acc${r}${q}`;
  const block = (rows: number, width: number) => {
    const cAt = (r: number) => plus(get('cp'), mul(get('rowC'), int(r)));
    const lines: string[] = [];
    for (let r = 0; r < rows; r++) {
      lines.push(set(`a${r}p`, plus(get('apk'), mul(get('rowAk'), int(r)))), set('cr', cAt(r)));
      for (let q = 0; q < width; q++) {
        // C's values, or zeros (keep all bits zero): no branch, so that V8 can revectorize the block
        // (winograd-wat.ts's gemm).
        lines.push(set(acc(r, q), `(v128.and (v128.load offset=${q * 16} ${get('cr')}) ${get('keep')})`));
      }
    }
    lines.push(set('bq', get('bj')), set('l', int(0)));
    const step = range(width).map((q) => set(`b${q}`, `(v128.load offset=${q * 16} ${get('bq')})`));
    for (let r = 0; r < rows; r++) {
      step.push(set('av', `(v128.load32_splat ${get(`a${r}p`)})`));
      for (let q = 0; q < width; q++) step.push(set(acc(r, q), madd(get('av'), get(`b${q}`), get(acc(r, q)))));
      step.push(set(`a${r}p`, plus(get(`a${r}p`), get('stepAk'))));
    }
    step.push(set('bq', plus(get('bq'), get('rowB'))), set('l', plus(get('l'), int(1))));
    lines.push(
      `(block $l_end (loop $l_next (br_if $l_end (i32.ge_u ${get('l')} ${get('k')}))`,
      ...step,
      '(br $l_next)))',
    );
    for (let r = 0; r < rows; r++) {
      lines.push(set('cr', cAt(r)));
      for (let q = 0; q < width; q++) lines.push(`(v128.store offset=${q * 16} ${get('cr')} ${get(acc(r, q))})`);
    }
    return lines;
  };
  /** Column blocks `vectors` vectors wide while they fit, then of 8 columns (as winograd-wat.ts's gemm). */
  const columns = (rows: number) => columnBlocks(rows, vectors, block, get('b'), get('ci'));
  return `
  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32)
    (param $n i32) (param $rowA i32) (param $stepA i32) (param $rowB i32) (param $rowC i32)
    (param $accumulate i32) (param $pack i32)
    (local $apk i32) (local $rowAk i32) (local $stepAk i32) (local $r i32)
    (local $i i32) (local $l i32) (local $ap i32) (local $ci i32) (local $bj i32) (local $cp i32)
    (local $bq i32) (local $bEnd i32) (local $a0p i32) (local $a1p i32) (local $a2p i32) (local $a3p i32)
    (local $cr i32) (local $keep v128) (local $av v128) ${v128Locals(range(vectors).map((q) => `b${q}`))}
    ${v128Locals(range(4).flatMap((r) => range(vectors).map((q) => acc(r, q))))}
    ${set('keep', `(i32x4.splat (i32.sub ${int(0)} (i32.ne ${get('accumulate')} ${int(0)})))`)}
    ${set('bEnd', plus(get('b'), mul(get('n'), int(4))))}
    ${set('ap', get('a'))}
    ${set('ci', get('c'))}
    ${set('i', int(0))}
    (block $i_end (loop $i_next (br_if $i_end (i32.gt_u (i32.add ${get('i')} ${int(4)}) ${get('m')}))
      ${set('apk', get('ap'))}
      ${set('rowAk', get('rowA'))}
      ${set('stepAk', get('stepA'))}
      (if ${get('pack')} (then
        ;; The block's 4 rows of A, row-major into the scratch at pack: read once, not once per column block.
        ${set('l', int(0))}
        (block $p_end (loop $p_next (br_if $p_end (i32.ge_u ${get('l')} ${get('k')}))
          ${range(4)
            .map(
              (r) =>
                `(f32.store ${plus(get('pack'), mul(plus(mul(get('k'), int(r)), get('l')), int(4)))} (f32.load ${plus(plus(get('ap'), mul(get('rowA'), int(r))), mul(get('l'), get('stepA')))}))`,
            )
            .join(' ')}
          ${set('l', plus(get('l'), int(1)))}
          (br $p_next)))
        ${set('apk', get('pack'))}
        ${set('rowAk', mul(get('k'), int(4)))}
        ${set('stepAk', int(4))}))
      ${columns(4).join('\n')}
      ${set('i', plus(get('i'), int(4)))}
      ${set('ap', plus(get('ap'), mul(get('rowA'), int(4))))}
      ${set('ci', plus(get('ci'), mul(get('rowC'), int(4))))}
      (br $i_next)))
    ${set('apk', get('ap'))}
    ${set('rowAk', get('rowA'))}
    ${set('stepAk', get('stepA'))}
    (block $r_end (loop $r_next (br_if $r_end (i32.ge_u ${get('i')} ${get('m')}))
      ${set('apk', get('ap'))}
      ${columns(1).join('\n')}
      ${set('i', plus(get('i'), int(1)))}
      ${set('ap', plus(get('ap'), get('rowA')))}
      ${set('ci', plus(get('ci'), get('rowC')))}
      (br $r_next)))
  )`;
}

/**
 * `conv1Filter(x, dy, out, n)`: for each of n images, the filter and bias gradients of a 3×3 valid
 * convolution of a one-channel image: out[image] = [dW (9 taps × O), Σ dy (O)] as float32, summed
 * over the image's positions (the caller adds the images up in float64). x [n, height, width, 1];
 * dy [n, height − 2, width, O] at the input's width, as relu's gradient writes it (the last two
 * columns are not read). One tap at a time, O/4 accumulators in registers, over the image's
 * positions: each step one splat of x and O/4 multiply-adds with the position's dy.
 */
function conv1FilterWat(g: Conv1Geometry, madd: Madd): string {
  const groups = g.outChannels / 4;
  const [outHeight, outWidth] = [g.height - 2, g.width - 2];
  const dyRow = g.width * g.outChannels * 4;
  const image = `(i32.mul ${get('img')} ${int(g.height * g.width * 4)})`;
  const tap = (i: number, j: number, bias: boolean) => {
    const id = `${i}${j}${bias ? 'b' : ''}`;
    return [
      ...range(groups).map((q) => set(`s${q}`, get('zero'))),
      set('xp', plus(plus(get('x'), image), int((i * g.width + j) * 4))),
      set('dp', plus(get('dy'), mul(get('img'), int(outHeight * dyRow)))),
      `(block $h_end${id} (loop $h_next${id}`,
      set('end', plus(get('dp'), int(outWidth * g.outChannels * 4))),
      `(block $w_end${id} (loop $w_next${id}`,
      `(br_if $w_end${id} (i32.ge_u ${get('dp')} ${get('end')}))`,
      bias ? '' : set('xv', `(v128.load32_splat ${get('xp')})`),
      ...range(groups).map((q) =>
        set(
          `s${q}`,
          bias
            ? `(f32x4.add (v128.load offset=${q * 16} ${get('dp')}) ${get(`s${q}`)})`
            : madd(get('xv'), `(v128.load offset=${q * 16} ${get('dp')})`, get(`s${q}`)),
        ),
      ),
      set('xp', plus(get('xp'), int(4))),
      set('dp', plus(get('dp'), int(g.outChannels * 4))),
      `(br $w_next${id})))`,
      // The next row: dy skips its two extra columns, x the two positions past the window's reach.
      set('dp', plus(get('dp'), int((g.width - outWidth) * g.outChannels * 4))),
      set('xp', plus(get('xp'), int((g.width - outWidth) * 4))),
      `(br_if $h_next${id} (i32.lt_u ${get('dp')} ${plus(get('dy'), mul(plus(get('img'), int(1)), int(outHeight * dyRow)))}))))`,
      ...range(groups).map(
        (q) =>
          `(v128.store offset=${((bias ? 9 : i * 3 + j) * g.outChannels + q * 4) * 4} ${get('op')} ${get(`s${q}`)})`,
      ),
    ];
  };
  const body = [
    set('op', plus(get('out'), mul(get('img'), int(10 * g.outChannels * 4)))),
    ...range(9).flatMap((t) => tap(Math.floor(t / 3), t % 3, false)),
    ...tap(0, 0, true),
  ];
  return `
  (func (export "conv1Filter") (param $x i32) (param $dy i32) (param $out i32) (param $n i32)
    (local $img i32) (local $xp i32) (local $dp i32) (local $op i32) (local $end i32)
    (local $zero v128) (local $xv v128) ${v128Locals(range(groups).map((q) => `s${q}`))}
    (local.set $img (i32.const 0))
    (block $img_end (loop $img_next
      (br_if $img_end (i32.ge_u ${get('img')} ${get('n')}))
      ${body.join('\n')}
      ${set('img', plus(get('img'), int(1)))}
      (br $img_next)))
  )`;
}

/**
 * `reluGrad(dy, y, out, rows, row, paddedRow)`: out = dy where y > 0, else 0, row by row: `rows`
 * rows of `row` floats in dy and y, written `paddedRow` floats apart with zeros after each (the
 * layout the filter gradient reads); row a multiple of 4. The mask is y > 0 as a comparison, no branch.
 */
const reluGradWat = `
  (func (export "reluGrad") (param $dy i32) (param $y i32) (param $out i32) (param $rows i32) (param $row i32)
    (param $paddedRow i32)
    (local $r i32) (local $end i32) (local $padEnd i32) (local $zero v128)
    ${set('r', int(0))}
    (block $r_end (loop $r_next
      (br_if $r_end (i32.ge_u ${get('r')} ${get('rows')}))
      ${set('end', plus(get('y'), mul(get('row'), int(4))))}
      (block $k_end (loop $k_next
        (br_if $k_end (i32.ge_u ${get('y')} ${get('end')}))
        (v128.store ${get('out')} (v128.and (v128.load ${get('dy')}) (f32x4.gt (v128.load ${get('y')}) ${get('zero')})))
        ${set('y', plus(get('y'), int(16)))}
        ${set('dy', plus(get('dy'), int(16)))}
        ${set('out', plus(get('out'), int(16)))}
        (br $k_next)))
      ${set('padEnd', plus(get('out'), mul(`(i32.sub ${get('paddedRow')} ${get('row')})`, int(4))))}
      (block $z_end (loop $z_next
        (br_if $z_end (i32.ge_u ${get('out')} ${get('padEnd')}))
        (i32.store ${get('out')} (i32.const 0))
        ${set('out', plus(get('out'), int(4)))}
        (br $z_next)))
      ${set('r', plus(get('r'), int(1)))}
      (br $r_next)))
  )`;

/**
 * `maxPoolReluGrad(dy, y, out, n, height, width, channels, paddedWidth)`: the gradient of
 * maxPool₂ₓ₂(y) followed by relu's (y = relu(·), [n, height, width, channels], both even), written
 * [n, height, paddedWidth, channels]: each window's pooled gradient (dy, [n, height/2, width/2,
 * channels]) to its first maximum in the order a, b, d, e (≥ against later ones, > against earlier
 * ones, as TensorFlow's MaxPoolGrad) if that maximum is > 0, zeros elsewhere; channels a multiple of 4.
 */
const maxPoolReluGradWat = `
  (func (export "maxPoolReluGrad") (param $dy i32) (param $y i32) (param $out i32) (param $n i32)
    (param $height i32) (param $width i32) (param $channels i32) (param $paddedWidth i32)
    (local $r i32) (local $p i32) (local $end i32) (local $rowY i32) (local $rowOut i32) (local $pad i32)
    (local $zero v128) (local $a v128) (local $b v128) (local $d v128) (local $e v128) (local $g v128)
    (local $ta v128) (local $tb v128) (local $td v128) (local $te v128)
    ${set('rowY', mul(mul(get('width'), get('channels')), int(4)))}
    ${set('rowOut', mul(mul(get('paddedWidth'), get('channels')), int(4)))}
    ${set('pad', mul(mul(`(i32.sub ${get('paddedWidth')} ${get('width')})`, get('channels')), int(4)))}
    ${set('r', int(0))}
    ;; Pairs of rows: y's rows 2i and 2i+1, out's the same at the padded width.
    (block $r_end (loop $r_next
      (br_if $r_end (i32.ge_u ${get('r')} ${mul(get('n'), `(i32.shr_u ${get('height')} (i32.const 1))`)}))
      ${set('end', plus(get('y'), get('rowY')))}
      (block $w_end (loop $w_next
        (br_if $w_end (i32.ge_u ${get('y')} ${get('end')}))
        ${set('p', int(0))}
        (block $c_end (loop $c_next
          (br_if $c_end (i32.ge_u ${get('p')} ${mul(get('channels'), int(4))}))
          ${set('a', `(v128.load ${plus(get('y'), get('p'))})`)}
          ${set('b', `(v128.load ${plus(plus(get('y'), get('p')), mul(get('channels'), int(4)))})`)}
          ${set('d', `(v128.load ${plus(plus(get('y'), get('p')), get('rowY'))})`)}
          ${set('e', `(v128.load ${plus(plus(plus(get('y'), get('p')), get('rowY')), mul(get('channels'), int(4)))})`)}
          ${set('ta', `(v128.and (f32x4.ge ${get('a')} ${get('b')}) (v128.and (f32x4.ge ${get('a')} ${get('d')}) (f32x4.ge ${get('a')} ${get('e')})))`)}
          ${set('tb', `(v128.and (f32x4.gt ${get('b')} ${get('a')}) (v128.and (f32x4.ge ${get('b')} ${get('d')}) (f32x4.ge ${get('b')} ${get('e')})))`)}
          ${set('td', `(v128.and (f32x4.gt ${get('d')} ${get('a')}) (v128.and (f32x4.gt ${get('d')} ${get('b')}) (f32x4.ge ${get('d')} ${get('e')})))`)}
          ${set('te', `(v128.not (v128.or ${get('ta')} (v128.or ${get('tb')} ${get('td')})))`)}
          ;; The pooled gradient where the window's maximum is > 0 (relu's gradient).
          ${set('g', `(v128.and (v128.load ${plus(get('dy'), get('p'))}) (f32x4.gt (f32x4.max (f32x4.max ${get('a')} ${get('b')}) (f32x4.max ${get('d')} ${get('e')})) ${get('zero')}))`)}
          (v128.store ${plus(get('out'), get('p'))} (v128.and ${get('g')} ${get('ta')}))
          (v128.store ${plus(plus(get('out'), get('p')), mul(get('channels'), int(4)))} (v128.and ${get('g')} ${get('tb')}))
          (v128.store ${plus(plus(get('out'), get('p')), get('rowOut'))} (v128.and ${get('g')} ${get('td')}))
          (v128.store ${plus(plus(plus(get('out'), get('p')), get('rowOut')), mul(get('channels'), int(4)))} (v128.and ${get('g')} ${get('te')}))
          ${set('p', plus(get('p'), int(16)))}
          (br $c_next)))
        ${set('y', plus(get('y'), mul(get('channels'), int(8))))}
        ${set('out', plus(get('out'), mul(get('channels'), int(8))))}
        ${set('dy', plus(get('dy'), mul(get('channels'), int(4))))}
        (br $w_next)))
      ;; The padded columns of both rows: zeros.
      (memory.fill ${get('out')} (i32.const 0) ${get('pad')})
      (memory.fill ${plus(get('out'), get('rowOut'))} (i32.const 0) ${get('pad')})
      ${set('y', plus(get('y'), get('rowY')))}
      ${set('out', plus(plus(get('out'), get('pad')), get('rowOut')))}
      ${set('r', plus(get('r'), int(1)))}
      (br $r_next)))
  )`;

/**
 * `dropoutMask(out, seeds, n, perExample, threshold, keep)`: Keras's inverted dropout mask for n
 * examples of perExample units (a multiple of 4), each example's units from Mulberry32 seeded with
 * its i32 at `seeds` (src/shared/random.ts's stream, network.ts's exampleSeed): unit i of an
 * example draws u from state₀ + (i + 1)·0x6d2b79f5, and is `keep` (the f32 1/(1 − rate)) where
 * u ≥ threshold (unsigned: ⌈rate·2³²⌉), else 0. The states of four units are independent, so four
 * lanes draw at once, the same numbers as one at a time.
 */
const dropoutMaskWat = `
  (func (export "dropoutMask") (param $out i32) (param $seeds i32) (param $n i32) (param $perExample i32)
    (param $threshold i32) (param $keep f32)
    (local $e i32) (local $end i32) (local $s v128) (local $t v128) (local $th v128) (local $kv v128)
    (local $step v128)
    ${set('th', `(i32x4.splat ${get('threshold')})`)}
    ${set('kv', `(f32x4.splat ${get('keep')})`)}
    ${set('step', '(v128.const i32x4 0xb4ade7d4 0xb4ade7d4 0xb4ade7d4 0xb4ade7d4)')}
    ${set('e', int(0))}
    (block $e_end (loop $e_next
      (br_if $e_end (i32.ge_u ${get('e')} ${get('n')}))
      ${set('s', `(i32x4.add (i32x4.splat (i32.load ${get('seeds')})) (v128.const i32x4 0x6d2b79f5 0xda56f3ea 0x47826ddf 0xb4ade7d4))`)}
      ${set('end', plus(get('out'), mul(get('perExample'), int(4))))}
      (block $i_end (loop $i_next
        (br_if $i_end (i32.ge_u ${get('out')} ${get('end')}))
        ;; t = imul(s ^ (s >>> 15), s | 1); t ^= t + imul(t ^ (t >>> 7), t | 61); u = t ^ (t >>> 14)
        ${set('t', `(i32x4.mul (v128.xor ${get('s')} (i32x4.shr_u ${get('s')} (i32.const 15))) (v128.or ${get('s')} (v128.const i32x4 1 1 1 1)))`)}
        ${set('t', `(v128.xor ${get('t')} (i32x4.add ${get('t')} (i32x4.mul (v128.xor ${get('t')} (i32x4.shr_u ${get('t')} (i32.const 7))) (v128.or ${get('t')} (v128.const i32x4 61 61 61 61)))))`)}
        ${set('t', `(v128.xor ${get('t')} (i32x4.shr_u ${get('t')} (i32.const 14)))`)}
        (v128.store ${get('out')} (v128.and (i32x4.ge_u ${get('t')} ${get('th')}) ${get('kv')}))
        ${set('s', `(i32x4.add ${get('s')} ${get('step')})`)}
        ${set('out', plus(get('out'), int(16)))}
        (br $i_next)))
      ${set('seeds', plus(get('seeds'), int(4)))}
      ${set('e', plus(get('e'), int(1)))}
      (br $e_next)))
  )`;

/** The module's text in `variant`, its conv1 kernel for geometry `conv1`. */
export function trainWat(conv1: Conv1Geometry, variant: SimdVariant): string {
  const madd = madds[variant];
  return `(module
  (memory (import "env" "memory") 1)
  ${gemmWat(madd, gemmVectors(variant))}
  ${conv1FilterWat(conv1, madd)}
  ${reluGradWat}
  ${maxPoolReluGradWat}
  ${dropoutMaskWat}
)`;
}
