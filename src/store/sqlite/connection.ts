import { statSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import type { Clock } from '../../domain/clock.js';
import { TetherError } from '../../errors.js';
import { render, sql, type Sql } from '../sql/query.js';
import { SqlTx, type Driver, type Reader, type Tx } from '../sql/transaction.js';
import { sqliteDialect } from './dialect.js';
import { mapSqliteError } from './errors.js';
import { fileMutex, type Mutex } from './mutex.js';

/** Prepared statements kept at most; bulk inserts of every row count would otherwise pile up. */
const STATEMENT_CACHE = 500;

/** Statements by their text, prepared once (the oldest dropped past the cap: a hit stays cheap). */
class Statements {
  readonly #db: BetterSqlite3.Database;
  readonly #cache = new Map<string, BetterSqlite3.Statement<unknown[], unknown>>();

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  all<R>(query: Sql): R[] {
    const { text, params } = render(query, 'question');
    return this.prepared(text).all(...params) as R[];
  }

  get<R>(query: Sql): R | undefined {
    const { text, params } = render(query, 'question');
    return this.prepared(text).get(...params) as R | undefined;
  }

  run(query: Sql): number {
    const { text, params } = render(query, 'question');
    return this.prepared(text).run(...params).changes;
  }

  prepared(text: string): BetterSqlite3.Statement<unknown[], unknown> {
    let statement = this.#cache.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      if (this.#cache.size >= STATEMENT_CACHE) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(text, statement);
    }
    return statement;
  }

  clear(): void {
    this.#cache.clear();
  }
}

class SqliteReader implements Reader {
  readonly dialect = sqliteDialect;
  readonly #statements: Statements;
  readonly #clock: Clock;

  constructor(statements: Statements, clock: Clock) {
    this.#statements = statements;
    this.#clock = clock;
  }

  async rows<R>(query: Sql): Promise<R[]> {
    return this.#statements.all<R>(query);
  }

  async row<R>(query: Sql): Promise<R | undefined> {
    return this.#statements.get<R>(query);
  }

  async now(): Promise<number> {
    return this.#clock.now();
  }
}

/** A BEGIN IMMEDIATE transaction: it holds SQLite's one write lock, so there is nothing to lock or tell. */
class SqliteTx extends SqlTx {
  readonly #statements: Statements;
  readonly #now: number;

  constructor(statements: Statements, clock: Clock) {
    super(new SqliteReader(statements, clock));
    this.#statements = statements;
    this.#now = clock.now();
  }

  async exec(query: Sql): Promise<number> {
    return this.#statements.run(query);
  }

  async now(): Promise<number> {
    return this.#now;
  }

  async lock(): Promise<void> {}

  async eventsAppended(): Promise<void> {}
}

/**
 * One better-sqlite3 connection as the store's driver. Every write is one `BEGIN IMMEDIATE`
 * transaction, so writers in other processes sharing the file serialize on SQLite's write lock
 * (waiting up to busyTimeoutMs). Inside this process the transaction scripts are async, and one
 * connection has one transaction at a time: every transaction and every read runs through one
 * mutex, or two calls would interleave their statements between awaits, and a read could see
 * another call's uncommitted rows. The mutex is the file's, shared with the process's other
 * connections to it (see `fileMutex`). Nothing a transaction awaits does I/O but its own
 * statements, so holding the mutex across awaits costs no waiting on anything else.
 */
export class SqliteConnection implements Driver {
  readonly dialect = sqliteDialect;
  /** The database file, or `:memory:`. */
  readonly path: string;
  readonly #db: BetterSqlite3.Database;
  readonly #clock: Clock;
  readonly #busyTimeoutMs: number;
  readonly #statements: Statements;
  readonly #mutex: Mutex;
  readonly #releaseMutex: () => void;
  readonly #exclusive = new Set<string>();

  constructor(db: BetterSqlite3.Database, options: { path: string; clock: Clock; busyTimeoutMs: number }) {
    this.#db = db;
    this.path = options.path;
    this.#clock = options.clock;
    this.#busyTimeoutMs = options.busyTimeoutMs;
    this.#statements = new Statements(db);
    ({ mutex: this.#mutex, release: this.#releaseMutex } = fileMutex(fileIdentity(options.path)));
  }

  /** The better-sqlite3 handle, for diagnostics and tests (pragmas, EXPLAIN). */
  get handle(): BetterSqlite3.Database {
    this.#assertOpen();
    return this.#db;
  }

  async now(): Promise<number> {
    this.#assertOpen();
    return this.#clock.now();
  }

  read<T>(fn: (reader: Reader) => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      this.#assertOpen();
      try {
        return await fn(new SqliteReader(this.#statements, this.#clock));
      } catch (err) {
        throw mapSqliteError(err, this.path, this.#busyTimeoutMs);
      }
    });
  }

  /** Without BEGIN: the statement is its own transaction, as SQLite runs any statement outside one. */
  statement<R>(build: (now: Sql) => Sql): Promise<R[]> {
    return this.#mutex.run(async () => {
      this.#assertOpen();
      try {
        return this.#statements.all<R>(build(sql`${this.#clock.now()}`));
      } catch (err) {
        throw mapSqliteError(err, this.path, this.#busyTimeoutMs);
      }
    });
  }

  /** One BEGIN IMMEDIATE transaction; `now` is read once the write lock is held. */
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      this.#assertOpen();
      const statements = this.#statements;
      try {
        statements.prepared('BEGIN IMMEDIATE').run();
        try {
          const tx = new SqliteTx(statements, this.#clock);
          const result = await fn(tx);
          await tx.flush();
          statements.prepared('COMMIT').run();
          return result;
        } catch (err) {
          // Some errors (a full disk, an I/O error) have already rolled the transaction back.
          if (this.#db.inTransaction) {
            try {
              statements.prepared('ROLLBACK').run();
            } catch {
              // The error that got here says more than the failed rollback would.
            }
          }
          throw err;
        }
      } catch (err) {
        throw mapSqliteError(err, this.path, this.#busyTimeoutMs);
      }
    });
  }

  /**
   * Within one process the section is exclusive by a flag; across processes on one file the
   * sweeps are single transactions already, so running them twice is harmless, only wasted.
   */
  async runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
    this.#assertOpen();
    if (this.#exclusive.has(name)) return null;
    this.#exclusive.add(name);
    try {
      return await fn();
    } finally {
      this.#exclusive.delete(name);
    }
  }

  /** After the transactions and reads already asked for; those asked for later find it closed. */
  close(): Promise<void> {
    if (!this.#db.open) return Promise.resolve();
    return this.#mutex.run(async () => {
      if (!this.#db.open) return;
      this.#statements.clear();
      this.#db.close();
      this.#releaseMutex();
    });
  }

  #assertOpen(): void {
    if (!this.#db.open) throw new TetherError('STORE_UNAVAILABLE', `the store (${this.path}) is closed`);
  }
}

/** Which file a path opens, whatever path leads to it (device and inode); null for a private database. */
function fileIdentity(path: string): string | null {
  if (path === ':memory:' || path === '') return null;
  try {
    const { dev, ino } = statSync(path);
    return `${dev}:${ino}`;
  } catch {
    return null;
  }
}
