// Corrections in D1 (binding FEEDBACK_DB, table from migrations/0001_feedback.sql). One INSERT per
// correction, so a row is stored whole or not at all.
import { NUM_CLASSES, PIXEL_COUNT } from '../../shared/model-spec';
import type { FeedbackStats } from './schemas';

export type CorrectionSource = 'image' | 'pixels' | 'pixels-normalized';

export interface Correction {
  /** The 28×28 digit as the model saw it, 0–255, white ink on black. */
  pixels: Uint8Array;
  label: number;
  predicted?: number;
  model?: string;
  source: CorrectionSource;
}

/** 784 pixels as bytes: the model's float input rounded to the nearest level, as IDX files store it. */
export function toBytes(pixels: ArrayLike<number>): Uint8Array {
  if (pixels.length !== PIXEL_COUNT) throw new Error(`A digit is ${PIXEL_COUNT} pixels, not ${pixels.length}`);
  return Uint8Array.from(pixels, (p) => Math.min(255, Math.max(0, Math.round(p))));
}

const WRONG = 'SUM(CASE WHEN predicted IS NOT NULL AND predicted <> label THEN 1 ELSE 0 END)';

export class FeedbackStore {
  constructor(private readonly db: D1Database) {}

  /** Stores one correction and returns its id. */
  async add(correction: Correction, now = new Date()): Promise<string> {
    const id = crypto.randomUUID();
    const { pixels } = correction;
    const blob = pixels.buffer.slice(pixels.byteOffset, pixels.byteOffset + pixels.byteLength);
    await this.db
      .prepare(
        'INSERT INTO corrections (id, created_at, label, predicted, model, source, pixels) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
      )
      .bind(
        id,
        now.toISOString(),
        correction.label,
        correction.predicted ?? null,
        correction.model ?? null,
        correction.source,
        blob,
      )
      .run();
    return id;
  }

  async stats(): Promise<FeedbackStats> {
    type Row = { count: number; wrong: number | null; predicted: number | null };
    // One batch: both groupings read the same snapshot.
    const [byLabel, byModel] = await this.db.batch<Row & { label?: number; model?: string | null }>([
      this.db.prepare(
        `SELECT label, COUNT(*) AS count, ${WRONG} AS wrong, COUNT(predicted) AS predicted FROM corrections GROUP BY label`,
      ),
      this.db.prepare(
        `SELECT model, COUNT(*) AS count, ${WRONG} AS wrong, COUNT(predicted) AS predicted FROM corrections GROUP BY model ORDER BY count DESC, model`,
      ),
    ]);
    const labels = Array.from({ length: NUM_CLASSES }, (_, label) => ({ label, count: 0, wrong: 0 }));
    let total = 0;
    let wrong = 0;
    let withPrediction = 0;
    for (const row of byLabel.results) {
      const entry = labels[row.label!];
      entry.count = row.count;
      entry.wrong = row.wrong ?? 0;
      total += row.count;
      wrong += entry.wrong;
      withPrediction += row.predicted ?? 0;
    }
    const models = byModel.results.map((row) => ({
      model: row.model ?? null,
      count: row.count,
      wrong: row.wrong ?? 0,
    }));
    return { total, withPrediction, wrong, labels, models };
  }
}
