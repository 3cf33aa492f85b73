import './worker-modules.ts';
import { loadMnistTest } from '../test/support/mnist-files.ts';
import { renderPaperDigit } from '../test/support/client-images.ts';
import { median } from './stats.ts';
const { decodeToGray } = await import('../src/worker/input/decode-image.ts');
const { normalizeDigit } = await import('../src/shared/normalize.ts');
const { parsePng } = await import('../src/worker/input/png.ts');
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const mnist = loadMnistTest();
const bytes = renderPaperDigit(mnist.images.subarray(784, 1568), 632, 474, 'png');
const jpg = renderPaperDigit(mnist.images.subarray(784, 1568), 632, 474, 'jpeg');
const t: Record<string, number[]> = { png: [], inflate: [], norm: [], jpeg: [] };
let g: any;
for (let r = 0; r < 30; r++) {
  let s = cpu(); g = await decodeToGray(bytes); t.png.push(cpu() - s);
  s = cpu(); normalizeDigit(g); t.norm.push(cpu() - s);
  s = cpu(); const rd = new Blob(parsePng(bytes).idat as any).stream().pipeThrough(new DecompressionStream('deflate')).getReader(); let n = 0, c = 0; for (;;) { const x = await rd.read(); if (x.done) break; n += x.value.length; c++; } t.inflate.push(cpu() - s);
  s = cpu(); await decodeToGray(jpg); t.jpeg.push(cpu() - s);
}
console.log(Object.entries(t).map(([k, v]) => `${k} ${median(v).toFixed(2)}`).join(', '), g.width, g.height);
