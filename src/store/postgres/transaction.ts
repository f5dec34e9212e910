import type pg from 'pg';
import type { Clock } from '../../domain/clock.js';
import { COUNTER_COLUMNS, type CounterColumn, type CounterDelta } from '../rules/index.js';

/** The database clock in epoch ms; `clock_timestamp()` is the time of the call, not of BEGIN. */
export const DB_NOW_EXPR = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;
export const DB_NOW_SQL = `SELECT ${DB_NOW_EXPR} AS now`;

const FLUSH_COUNTERS_SQL = `INSERT INTO counters (tenant, ${COUNTER_COLUMNS.join(', ')})
  VALUES ($1, ${COUNTER_COLUMNS.map((_, i) => `$${i + 2}`).join(', ')})
  ON CONFLICT (tenant) DO UPDATE SET ${COUNTER_COLUMNS.map((c) => `${c} = counters.${c} + excluded.${c}`).join(', ')}`;

/**
 * One transaction on one pooled connection: queries, the transaction's single `now`, advisory
 * locks, and counter deltas.
 *
 * Counter deltas are gathered in memory and written by `flush()` just before COMMIT, tenants in
 * sorted order. A counters row is the hottest row there is (every turn of a tenant touches it);
 * locking it last and briefly keeps concurrent transactions from queueing behind it, and keeps
 * the lock order "sessions, then turns, then counters" that makes deadlocks unlikely.
 */
export class Tx {
  readonly #client: pg.ClientBase;
  readonly #clock: Clock | null;
  readonly #lockScope: string;
  readonly #counters = new Map<string, CounterDelta>();
  #now: number | undefined;

  constructor(client: pg.ClientBase, clock: Clock | null, lockScope: string) {
    this.#client = client;
    this.#clock = clock;
    this.#lockScope = lockScope;
  }

  async rows<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.#client.query<R>(sql, params)).rows;
  }

  async row<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await this.#client.query<R>(sql, params)).rows[0];
  }

  /** Runs a statement; how many rows it touched. */
  async exec(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.#client.query(sql, params)).rowCount ?? 0;
  }

  /**
   * The transaction's time, read once. Callers take their locks first, so that a transaction
   * that waited for a lock does not write a time older than the one written before it.
   */
  async now(): Promise<number> {
    if (this.#now === undefined) {
      this.#now = this.#clock ? this.#clock.now() : Number((await this.row<{ now: number }>(DB_NOW_SQL))?.now);
    }
    return this.#now;
  }

  /**
   * A transaction-scoped advisory lock on a name within this store's schema (int8 key space;
   * the migration lock uses the int4-pair space). Hash collisions only serialize two names.
   */
  async lock(...name: string[]): Promise<void> {
    await this.#client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [JSON.stringify([this.#lockScope, ...name])]);
  }

  bump(tenant: string, delta: CounterDelta): void {
    const into = this.#counters.get(tenant) ?? {};
    for (const [column, value] of Object.entries(delta) as Array<[CounterColumn, number]>) into[column] = (into[column] ?? 0) + value;
    this.#counters.set(tenant, into);
  }

  /** This transaction's not yet flushed change of a counter, over all tenants. */
  pending(column: CounterColumn): number {
    let sum = 0;
    for (const delta of this.#counters.values()) sum += delta[column] ?? 0;
    return sum;
  }

  async flush(): Promise<void> {
    for (const tenant of [...this.#counters.keys()].sort()) {
      const delta = this.#counters.get(tenant) ?? {};
      if (COUNTER_COLUMNS.every((c) => !delta[c])) continue;
      await this.#client.query(FLUSH_COUNTERS_SQL, [tenant, ...COUNTER_COLUMNS.map((c) => delta[c] ?? 0)]);
    }
    this.#counters.clear();
  }
}
