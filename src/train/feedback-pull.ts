// `npm run feedback:pull -- [--local | --remote] [--out data/feedback] [--persist-to DIR]`
// Exports the corrections of the `feedback` environment's D1 through wrangler (`wrangler d1 execute
// --json`, page by page) into MNIST's format: a pair of IDX files, corrections.json (id, time, label,
// predicted digit, model, source per digit) and contact-sheet.png. The directory is replaced
// atomically, so a reader sees the previous pull or this one, never half of it.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { parseArgs, promisify } from 'node:util';
import { PIXEL_COUNT } from '../shared/model-spec.ts';
import { endQuietlyOnClosedPipe } from './cli/cli.ts';
import { CONTACT_SHEET, type CorrectionInfo, FEEDBACK_DIR, FEEDBACK_JSON, feedbackIdxFiles } from './data/feedback.ts';
import { writeDirAtomically } from './formats/tfjs.ts';
import { digitGridPng } from './report/pictures.ts';

endQuietlyOnClosedPipe();

const HELP = `Usage: npm run feedback:pull -- [--local | --remote] [--out DIR] [--persist-to DIR]

  --local            the local D1 of \`npm run start:feedback\` (default)
  --remote           the deployed D1 (needs \`npx wrangler login\`)
  --out DIR          where to write (default ${FEEDBACK_DIR}); replaced as a whole
  --persist-to DIR   local D1 state directory, if \`wrangler dev\` was given one
  --env NAME         wrangler environment with the FEEDBACK_DB binding (default feedback)
`;
const PAGE = 500;
const SHEET_MAX = 400;

interface Row {
  rowid: number;
  id: string;
  created_at: string;
  label: number;
  predicted: number | null;
  model: string | null;
  source: string;
  pixels: string; // hex
}

const { values } = parseArgs({
  options: {
    local: { type: 'boolean' },
    remote: { type: 'boolean' },
    out: { type: 'string', default: FEEDBACK_DIR },
    'persist-to': { type: 'string' },
    env: { type: 'string', default: 'feedback' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (values.local && values.remote) {
  console.error(`--local and --remote exclude each other\n\n${HELP}`);
  process.exit(2);
}
const where = values.remote
  ? ['--remote']
  : ['--local', ...(values['persist-to'] ? ['--persist-to', values['persist-to']] : [])];
const wranglerBin = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');

async function query(sql: string): Promise<Row[]> {
  const args = [wranglerBin, 'd1', 'execute', 'FEEDBACK_DB', '--env', values.env, ...where, '--json', '--command', sql];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, args, {
      maxBuffer: 512 * 1024 * 1024,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    }));
  } catch (error) {
    const { stdout: out = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    let reason = `${String(out)}${String(stderr)}`.trim();
    try {
      reason = (JSON.parse(String(out)) as { error: { text: string } }).error.text; // wrangler --json's error form
    } catch {
      // not JSON: keep wrangler's own output
    }
    const hint = /no such table/.test(reason)
      ? ` (apply the migrations first: npx wrangler d1 migrations apply FEEDBACK_DB ${values.remote ? '--remote' : '--local'} --env ${values.env})`
      : '';
    throw new Error(`wrangler d1 execute failed: ${reason}${hint}`);
  }
  const parsed = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ results: Row[]; success: boolean }>;
  if (!parsed.every((r) => r.success)) throw new Error(`wrangler d1 execute did not succeed: ${stdout.slice(0, 500)}`);
  return parsed.flatMap((r) => r.results);
}

const rows: Row[] = [];
try {
  for (let after = -1; ; ) {
    const page = await query(
      `SELECT rowid, id, created_at, label, predicted, model, source, hex(pixels) AS pixels FROM corrections WHERE rowid > ${after} ORDER BY rowid LIMIT ${PAGE}`,
    );
    rows.push(...page);
    if (page.length < PAGE) break;
    after = page.at(-1)!.rowid;
  }
} catch (error) {
  // Not logged in, no such database or table (migrations not applied), …: wrangler's words, no stack trace.
  console.error((error as Error).message);
  process.exit(1);
}
if (rows.length === 0) {
  console.log(`No corrections in FEEDBACK_DB (${values.remote ? 'remote' : 'local'}); ${values.out} left as it was.`);
  process.exit(0);
}

const images = new Uint8Array(rows.length * PIXEL_COUNT);
const labels = new Uint8Array(rows.length);
rows.forEach((row, i) => {
  if (row.pixels.length !== PIXEL_COUNT * 2)
    throw new Error(`correction ${row.id}: ${row.pixels.length / 2} pixels, expected ${PIXEL_COUNT}`);
  images.set(Buffer.from(row.pixels, 'hex'), i * PIXEL_COUNT);
  labels[i] = row.label;
});
const set = { count: rows.length, images, labels };
const corrections: CorrectionInfo[] = rows.map((row) => ({
  id: row.id,
  createdAt: row.created_at,
  label: row.label,
  predicted: row.predicted,
  model: row.model,
  source: row.source,
}));
const wrong = corrections.filter((c) => c.predicted !== null && c.predicted !== c.label).length;
const sheetCount = Math.min(rows.length, SHEET_MAX);
const sheet = digitGridPng(set, {
  count: sheetCount,
  columns: Math.min(20, Math.max(5, Math.ceil(Math.sqrt(sheetCount)))),
  cell: 56,
  title: (k) =>
    corrections[k].predicted === null
      ? `${corrections[k].label}`
      : `${corrections[k].label} (was ${corrections[k].predicted})`,
});
await writeDirAtomically(values.out, {
  ...feedbackIdxFiles(set),
  [FEEDBACK_JSON]: `${JSON.stringify(
    { pulledAt: new Date().toISOString(), source: values.remote ? 'remote' : 'local', corrections },
    null,
    1,
  )}\n`,
  [CONTACT_SHEET]: sheet,
});
const perLabel = Array.from({ length: 10 }, (_, d) => `${d}:${corrections.filter((c) => c.label === d).length}`).join(
  ' ',
);
console.log(
  `Pulled ${rows.length} corrections (${wrong} where the model had been wrong) into ${values.out}: ${perLabel}`,
);
console.log(`Contact sheet: ${values.out}/${CONTACT_SHEET}${rows.length > SHEET_MAX ? ` (first ${SHEET_MAX})` : ''}`);
