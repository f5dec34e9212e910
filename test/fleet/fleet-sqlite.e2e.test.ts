import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { describeFleet } from './describe-fleet.js';

// Three processes on one host sharing a SQLite file: the same guarantees, at a smaller scale
// (the PostgreSQL fleet in fleet-postgres.e2e.test.ts runs the 100 keys × 15 turns).
describeFleet({
  name: 'one SQLite file',
  env: async (dir) => ({ TETHER_DB: join(dir, 'fleet.db'), TETHER_SHARE_EVENTS: 'true' }),
  inspect: (dir) => openSqliteStore({ path: join(dir, 'fleet.db') }),
  keys: 8,
  turnsPerKey: 6,
});
