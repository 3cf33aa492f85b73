// Worker entry: the Hono app is the module's fetch handler.
import { app } from './app';

export default app;
