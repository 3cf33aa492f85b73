// Worker entry: the Hono app is the module's fetch handler, warmed up while the Worker starts.
import { app } from './app';
import { warmUp } from './warm-up';

await warmUp(app);

export default app;
