// experiment: write a feedback dir of 40 odd sevens from MNIST train
import { loadSplitSync } from './src/train/data.ts';
import { writeDirAtomically } from './src/train/export.ts';
import { feedbackIdxFiles } from './src/train/feedback-data.ts';
import { oddSevens } from './test/support/odd-sevens.ts';
const set = oddSevens(loadSplitSync('train'), 40);
await writeDirAtomically('/tmp/fb-odd', { ...feedbackIdxFiles(set), 'corrections.json': JSON.stringify({ corrections: Array.from({ length: set.count }, (_, i) => ({ id: String(i), createdAt: '', label: 7, predicted: 2, model: null, source: 'pixels' })) }) });
