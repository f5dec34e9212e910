export { PostgresStore, openPostgresStore, SWEEP_SQL } from './pg-store.js';
export type { PostgresStoreOptions } from './pg-store.js';
export { MIGRATIONS, LATEST_VERSION, migrate, schemaVersion } from './migrations.js';
export type { Migration } from './migrations.js';
export { mapPgError, describeTarget } from './errors.js';
