// Inside workerd, before the test file: the local D1 gets the schema from migrations/ (read in Node
// by vitest.feedback.config.ts), exactly as `wrangler d1 migrations apply` would create it.
import { applyD1Migrations, type D1Migration } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

const { FEEDBACK_DB, TEST_MIGRATIONS } = env as unknown as { FEEDBACK_DB: D1Database; TEST_MIGRATIONS: D1Migration[] };
await applyD1Migrations(FEEDBACK_DB, TEST_MIGRATIONS);
