// Worker threads start here, in plain JavaScript: Node 20 does not apply the parent's `--import tsx`
// hooks to a worker's entry file, so the worker registers tsx itself before loading TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./replica-worker.ts');
