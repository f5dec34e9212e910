import { COUNTER_COLUMNS, type CounterColumn, type CounterDelta } from '../rules/index.js';
import type { Dialect } from './dialect.js';
import { ident, join, raw, sql, type Sql } from './query.js';

/** What reads and transactions share: statements in the adapter's dialect. */
export interface Queries {
  readonly dialect: Dialect;
  rows<R>(query: Sql): Promise<R[]>;
  /** The first row, or undefined. */
  row<R>(query: Sql): Promise<R | undefined>;
}

/** Reads outside a transaction (each statement sees what was committed when it ran). */
export interface Reader extends Queries {
  /** The store's clock. */
  now(): Promise<number>;
}

/**
 * One write transaction, as every store operation sees it whatever the database: it happens
 * whole or not at all.
 */
export interface Tx extends Queries {
  /** Runs a statement; how many rows it touched. */
  exec(query: Sql): Promise<number>;

  /**
   * The transaction's time, read once. Callers take their locks first, so that a transaction
   * that waited for a lock does not write a time older than the one written before it.
   */
  now(): Promise<number>;

  /**
   * A lock on a name until the transaction ends (PostgreSQL: an advisory lock within the store's
   * schema; SQLite: nothing to do, BEGIN IMMEDIATE already holds the only write lock).
   */
  lock(...name: string[]): Promise<void>;

  /** Adds to a tenant's running totals; written once, just before COMMIT (see `SqlTx.flush`). */
  bump(tenant: string, delta: CounterDelta): void;

  /** This transaction's not yet written change of a counter, over all tenants. */
  pending(column: CounterColumn): number;

  /** Says, at commit, that events were appended (PostgreSQL: NOTIFY the other nodes; SQLite: nothing). */
  eventsAppended(): Promise<void>;
}

/** How `Driver.statement` queues: `urgent` goes ahead of the driver's other work. */
export interface StatementOptions {
  urgent?: boolean;
}

/** How a store gets at its database: the adapter. */
export interface Driver {
  readonly dialect: Dialect;
  /** The store's clock (the database clock where there is one). */
  now(): Promise<number>;
  read<T>(fn: (reader: Reader) => Promise<T>): Promise<T>;
  /**
   * One transaction: `fn`'s writes commit together when it resolves, and none do when it throws.
   * `fn` awaits nothing but its own statements (and synchronous callbacks): SQLite holds its
   * connection, and the file's write lock, across those awaits. PostgreSQL may run `fn` again
   * after a serialization failure or a deadlock.
   */
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * One statement on its own, committed as it runs (no BEGIN / COMMIT around it): a change that
   * is a single statement is atomic by itself, and on a busy node every round trip saved counts
   * (a lease renewal). `now` stands for the store's clock as the statement reads it. An `urgent`
   * statement does not wait behind the driver's other work (a lease renewal on a node busy with
   * hundreds of turns): SQLite runs it next, PostgreSQL on a connection kept for it.
   */
  statement<R>(build: (now: Sql) => Sql, options?: StatementOptions): Promise<R[]>;
  /** See `NodeRegistry.runExclusive`. */
  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null>;
  close(): Promise<void>;
}

const COUNTERS = join(COUNTER_COLUMNS.map(ident));
const ADD_COUNTERS = raw(COUNTER_COLUMNS.map((c) => `${c} = counters.${c} + excluded.${c}`).join(', '));

/**
 * Counter deltas gathered in memory, for `Tx.bump` and `Tx.pending`, and written by `flush()` just
 * before COMMIT, tenants in sorted order, one upsert each. A counters row is the hottest row
 * there is (every turn of a tenant touches it); writing it last and once keeps concurrent
 * transactions from queueing behind it, and keeps the lock order "sessions, then turns, then
 * counters" that makes deadlocks unlikely.
 */
class CounterDeltas {
  readonly #byTenant = new Map<string, CounterDelta>();

  bump(tenant: string, delta: CounterDelta): void {
    const into = this.#byTenant.get(tenant) ?? {};
    for (const [column, value] of Object.entries(delta) as Array<[CounterColumn, number]>) into[column] = (into[column] ?? 0) + value;
    this.#byTenant.set(tenant, into);
  }

  pending(column: CounterColumn): number {
    let sum = 0;
    for (const delta of this.#byTenant.values()) sum += delta[column] ?? 0;
    return sum;
  }

  /** The upserts that write the deltas, then forgets them. */
  flush(): Sql[] {
    const statements: Sql[] = [];
    for (const tenant of [...this.#byTenant.keys()].sort()) {
      const delta = this.#byTenant.get(tenant) ?? {};
      if (COUNTER_COLUMNS.every((c) => !delta[c])) continue;
      statements.push(
        sql`INSERT INTO counters (tenant, ${COUNTERS}) VALUES (${tenant}, ${join(COUNTER_COLUMNS.map((c) => delta[c] ?? 0))})
          ON CONFLICT (tenant) DO UPDATE SET ${ADD_COUNTERS}`,
      );
    }
    this.#byTenant.clear();
    return statements;
  }
}

/**
 * The part of a transaction written once for every adapter: reads go through the adapter's
 * reader on the transaction's connection, and the counters are gathered here.
 */
export abstract class SqlTx implements Tx {
  readonly dialect: Dialect;
  readonly #reader: Queries;
  readonly #counters = new CounterDeltas();

  constructor(reader: Queries) {
    this.dialect = reader.dialect;
    this.#reader = reader;
  }

  rows<R>(query: Sql): Promise<R[]> {
    return this.#reader.rows<R>(query);
  }

  row<R>(query: Sql): Promise<R | undefined> {
    return this.#reader.row<R>(query);
  }

  abstract exec(query: Sql): Promise<number>;
  abstract now(): Promise<number>;
  abstract lock(...name: string[]): Promise<void>;
  abstract eventsAppended(): Promise<void>;

  bump(tenant: string, delta: CounterDelta): void {
    this.#counters.bump(tenant, delta);
  }

  pending(column: CounterColumn): number {
    return this.#counters.pending(column);
  }

  /** Writes the counters; the adapter calls it just before COMMIT. */
  async flush(): Promise<void> {
    for (const statement of this.#counters.flush()) await this.exec(statement);
  }
}
