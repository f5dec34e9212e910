import type { Clock } from '../domain/clock.js';
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
}

/**
 * Picks the store adapter from settings: in-memory SQLite when persistence is off or the path
 * is `:memory:`, otherwise a SQLite file. (PostgreSQL joins here when its adapter exists.)
 */
export function openStore(options: OpenStoreOptions = {}): Store {
  const path = options.persistence === false ? ':memory:' : (options.db ?? DEFAULT_DB_PATH);
  return openSqliteStore({
    path,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.synchronous ? { synchronous: options.synchronous } : {}),
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
  });
}
