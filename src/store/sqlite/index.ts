export { SqliteStore, openSqliteStore, mapSqliteError, SWEEP_SQL } from './sqlite-store.js';
export type { SqliteStoreOptions, SqliteSynchronous } from './sqlite-store.js';
export { MIGRATIONS, LATEST_VERSION, migrate, schemaVersion } from './migrations.js';
export type { Migration } from './migrations.js';
