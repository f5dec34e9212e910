/**
 * The PostgreSQL adapter against the machine's PostgreSQL: the shared behaviour suite, in one
 * schema emptied after each test. The adapter's own tests (migration lock, cross-node races, the
 * database clock, errors) are in postgres-adapter.test.ts; the two files run side by side.
 *
 * Without a reachable server the file skips and says why, unless TETHER_REQUIRE_POSTGRES=1 (CI),
 * where it fails.
 */
import { describe } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { closeQuietly } from './fixtures.js';
import { postgresHarness } from './postgres-harness.js';
import { describeStoreBehaviour } from './store-behaviour.js';

const { url: URL, skip, freshSchema, emptySchema } = await postgresHarness('postgres.test');

describe.skipIf(skip)('PostgreSQL store', () => {
  const suiteSchema = freshSchema();
  describeStoreBehaviour('postgres', async (clock) => {
    let store = openPostgresStore({ url: URL, schema: suiteSchema, clock, poolSize: 4 });
    return {
      store,
      reopen: async () => {
        await store.close();
        store = openPostgresStore({ url: URL, schema: suiteSchema, clock, poolSize: 4 });
        return store;
      },
      cleanup: async () => {
        await closeQuietly(store);
        await emptySchema(suiteSchema);
      },
    };
  });
});
