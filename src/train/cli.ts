// `npm run train`: a fine-tune (`--fine-tune MODEL_DIR --extra FEEDBACK_DIR`, src/train/fine-tune.ts)
// or a training run from scratch (src/train/main.ts, which reads process.argv itself).

import { fineTuneMain, wantsFineTune } from './fine-tune.ts';
import { mark } from './timings.ts';

mark('cli modules loaded (tfjs, fine-tune)');

const argv = process.argv.slice(2);
if (wantsFineTune(argv)) {
  process.exitCode = await fineTuneMain(argv);
} else {
  await import('./main.ts');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      '  --fine-tune DIR     fine-tune DIR on corrections instead (--extra DIR): npm run train -- --fine-tune models/mnist-cnn --help\n',
    );
  }
}
