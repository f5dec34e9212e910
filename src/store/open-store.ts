import { systemClock, type Clock } from '../domain/clock.js';
import { openPostgresStore } from './postgres/index.js';
import { openSqliteStore, type SqliteSynchronous } from './sqlite/index.js';
import type { Store } from './store.js';

/** Where the embedded database lives when nothing says otherwise (`TETHER_DB`). */
export const DEFAULT_DB_PATH = './data/tether.db';

export interface OpenStoreOptions {
  /** SQLite file path, or `:memory:`. Default `./data/tether.db`. */
  db?: string;
  /** False keeps everything in memory (`ENABLE_PERSISTENCE=false`). Default true. */
  persistence?: boolean;
  clock?: Clock;
  /** SQLite `PRAGMA synchronous`; default FULL. */
  synchronous?: SqliteSynchronous;
  /** How long a write waits for another process's lock; default 5000 ms. */
  busyTimeoutMs?: number;
  /** PostgreSQL URL (`TETHER_DATABASE_URL`). When set, PostgreSQL is the store and `db` is ignored. */
  databaseUrl?: string;
  /** PostgreSQL schema for Tether's tables; default: the first schema on the search_path. */
  databaseSchema?: string;
  /** PostgreSQL connections per node; default 10. */
  poolSize?: number;
  /** PostgreSQL: a connection idle inside a transaction this long is ended by the server. */
  idleInTransactionTimeoutMs?: number;
}

/**
 * Picks the store adapter from settings: PostgreSQL when `databaseUrl` is set, in-memory SQLite
 * when persistence is off or the path is `:memory:`, otherwise a SQLite file. Synchronous for
 * every adapter: PostgreSQL connects and migrates in the background (its first call waits).
 */
export function openStore(options: OpenStoreOptions = {}): Store {
  if (options.databaseUrl) {
    return openPostgresStore({
      url: options.databaseUrl,
      ...(options.databaseSchema ? { schema: options.databaseSchema } : {}),
      // The process clock passed along by default would defeat the point of the database clock:
      // nodes with skewed clocks must agree on lease expiry. Only a test clock replaces it.
      ...(options.clock && options.clock !== systemClock ? { clock: options.clock } : {}),
      ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
      ...(options.idleInTransactionTimeoutMs !== undefined ? { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs } : {}),
    });
  }
  const path = options.persistence === false ? ':memory:' : (options.db ?? DEFAULT_DB_PATH);
  return openSqliteStore({
    path,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.synchronous ? { synchronous: options.synchronous } : {}),
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
  });
}
