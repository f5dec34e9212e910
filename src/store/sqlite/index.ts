export { SqliteStore, openSqliteStore } from './sqlite-store.js';
export type { SqliteStoreOptions, SqliteSynchronous } from './sqlite-store.js';
export { mapSqliteError } from './errors.js';
export { sqliteDialect } from './dialect.js';
export { MIGRATIONS, LATEST_VERSION, migrate, schemaVersion } from './migrations.js';
export type { Migration } from './migrations.js';
