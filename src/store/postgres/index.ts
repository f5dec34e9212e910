export { PostgresStore, openPostgresStore } from './pg-store.js';
export type { PostgresStoreOptions } from './pg-store.js';
export { pgDialect } from './dialect.js';
export { MIGRATIONS, LATEST_VERSION, migrate, schemaVersion } from './migrations.js';
export type { Migration } from './migrations.js';
export { mapPgError, describeTarget } from './errors.js';
