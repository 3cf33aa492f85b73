// Accuracy, loss, per-class precision/recall/F1 and the confusion matrix from predicted probabilities.
import { NUM_CLASSES } from '../../shared/model-spec.ts';

export interface ClassStats {
  digit: number;
  precision: number;
  recall: number;
  f1: number;
  /** Test digits of this class. */
  support: number;
}

export interface Mistake {
  /** Position in the test set. */
  index: number;
  label: number;
  predicted: number;
  confidence: number;
}

export interface Metrics {
  count: number;
  accuracy: number;
  /** Categorical cross-entropy, probabilities clipped to [1e-7, 1 − 1e-7] as Keras and tfjs do. */
  loss: number;
  perClass: ClassStats[];
  macroF1: number;
  /** confusion[true][predicted]. */
  confusion: number[][];
  /** Every misclassified digit, most confident first. */
  mistakes: Mistake[];
}

const EPSILON = 1e-7;
const round = (v: number, digits = 6) => Math.round(v * 10 ** digits) / 10 ** digits;

export function computeMetrics(probabilities: Float32Array, labels: ArrayLike<number>): Metrics {
  const count = labels.length;
  if (probabilities.length !== count * NUM_CLASSES) throw new Error('probabilities do not match the labels');
  const confusion = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
  const mistakes: Mistake[] = [];
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const row = probabilities.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    let predicted = 0;
    for (let d = 1; d < NUM_CLASSES; d++) if (row[d] > row[predicted]) predicted = d;
    const label = labels[i];
    confusion[label][predicted]++;
    lossSum -= Math.log(Math.min(Math.max(row[label], EPSILON), 1 - EPSILON));
    if (predicted === label) correct++;
    else mistakes.push({ index: i, label, predicted, confidence: round(row[predicted], 4) });
  }
  mistakes.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  const perClass = confusion.map((row, digit) => {
    const hits = row[digit];
    const support = row.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((sum, r) => sum + r[digit], 0);
    const precision = predictedAs ? hits / predictedAs : 0;
    const recall = support ? hits / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { digit, precision: round(precision), recall: round(recall), f1: round(f1), support };
  });
  return {
    count,
    accuracy: correct / count,
    loss: round(lossSum / count),
    perClass,
    macroF1: round(perClass.reduce((s, c) => s + c.f1, 0) / NUM_CLASSES),
    confusion,
    mistakes,
  };
}
