// Console reporting: a progress bar per epoch and a summary line per epoch.
import { SingleBar } from 'cli-progress';
import type { EpochRecord } from '../report/pictures.ts';
import type { TrainHooks } from './train.ts';

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** Progress hooks, plus `close()`: a bar left running keeps the process alive (its redraw timer). */
export function consoleProgress(totalEpochs: number): TrainHooks & { close(): void } {
  let bar: SingleBar | undefined;
  return {
    close() {
      bar?.stop();
    },
    onEpochStart(epoch, steps, firstStep) {
      bar = new SingleBar({
        format: `epoch ${epoch}/${totalEpochs} [{bar}] {value}/{total} | loss {loss} acc {acc} | {msPerStep} ms/step | ETA {eta_formatted}`,
        barCompleteChar: '█',
        barIncompleteChar: '░',
        barsize: 24,
        etaBuffer: 50,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 15_000,
      });
      bar.start(steps, firstStep, { loss: '-', acc: '-', msPerStep: '-' });
    },
    onBatchEnd(step, { loss, accuracy, msPerStep }) {
      bar?.update(step, { loss: loss.toFixed(4), acc: accuracy.toFixed(4), msPerStep: msPerStep.toFixed(0) });
    },
    onEpochEnd(record: EpochRecord) {
      bar?.stop();
      console.log(
        `epoch ${record.epoch}/${totalEpochs}: train loss ${record.loss.toFixed(4)} acc ${pct(record.accuracy)}` +
          ` | test loss ${record.testLoss.toFixed(4)} acc ${pct(record.testAccuracy)} | ${record.seconds}s`,
      );
    },
  };
}
