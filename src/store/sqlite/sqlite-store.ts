import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { systemClock, type Clock } from '../../domain/clock.js';
import { TetherError } from '../../errors.js';
import { SqlStore } from '../sql/sql-store.js';
import { SqliteConnection } from './connection.js';
import { mapSqliteError } from './errors.js';
import { migrate } from './migrations.js';

export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteStoreOptions {
  /** A file path (its directory is created) or `:memory:`. */
  path: string;
  /** Defaults to the system clock; tests inject a ManualClock. */
  clock?: Clock;
  /** `PRAGMA synchronous`; FULL (the default) makes every commit durable across power loss. */
  synchronous?: SqliteSynchronous;
  /** How long a write waits for another process's write lock before STORE_UNAVAILABLE. Default 5000. */
  busyTimeoutMs?: number;
}

const SYNCHRONOUS_MODES: readonly SqliteSynchronous[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

/** The Store on SQLite through better-sqlite3 (see SqliteConnection for how it transacts). */
export class SqliteStore extends SqlStore {
  /** The database file, or `:memory:`. */
  readonly path: string;
  readonly #connection: SqliteConnection;

  /** Use `openSqliteStore`, which configures and migrates the connection first. */
  constructor(connection: SqliteConnection) {
    super(connection.path === ':memory:' ? 'memory' : 'sqlite', connection);
    this.path = connection.path;
    this.#connection = connection;
  }

  /** The underlying connection, for diagnostics and tests (pragmas, EXPLAIN). */
  get connection(): BetterSqlite3.Database {
    return this.#connection.handle;
  }
}

/**
 * Opens (creating if needed) a SQLite store: makes the file's directory, sets WAL (files only),
 * busy_timeout, synchronous and foreign_keys, then migrates the schema.
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const path = options.path;
  const memory = path === ':memory:';
  const synchronous = options.synchronous ?? 'FULL';
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!SYNCHRONOUS_MODES.includes(synchronous)) {
    throw new TetherError('INVALID_INPUT', `synchronous must be one of ${SYNCHRONOUS_MODES.join(', ')}, not "${String(synchronous)}"`);
  }
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new TetherError('INVALID_INPUT', `busyTimeoutMs must be a whole number of milliseconds >= 0, not ${busyTimeoutMs}`);
  }

  let db: BetterSqlite3.Database;
  try {
    if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path, { timeout: busyTimeoutMs });
  } catch (err) {
    throw mapSqliteError(err, path, busyTimeoutMs);
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // WAL lets readers run beside the one writer; it is meaningless for a memory database.
    if (!memory) db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma('foreign_keys = ON');
    migrate(db, path);
  } catch (err) {
    db.close();
    throw mapSqliteError(err, path, busyTimeoutMs);
  }
  return new SqliteStore(new SqliteConnection(db, { path, clock: options.clock ?? systemClock, busyTimeoutMs }));
}
