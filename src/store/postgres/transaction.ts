import type pg from 'pg';
import type { Clock } from '../../domain/clock.js';
import { render, type Sql } from '../sql/query.js';
import { SqlTx, type Reader } from '../sql/transaction.js';
import { pgDialect } from './dialect.js';

/** The database clock in epoch ms; `clock_timestamp()` is the time of the call, not of BEGIN. */
export const DB_NOW_EXPR = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;
export const DB_NOW_SQL = `SELECT ${DB_NOW_EXPR} AS now`;

/** Where event appends are announced: a NOTIFY channel and this store's payload on it. */
export interface Announcer {
  channel: string;
  payload(): string;
}

async function query<R>(client: pg.ClientBase, q: Sql): Promise<pg.QueryResult & { rows: R[] }> {
  const { text, params } = render(q, 'numbered');
  return (await client.query(text, params)) as pg.QueryResult & { rows: R[] };
}

async function clockOrDatabase(client: pg.ClientBase, clock: Clock | null): Promise<number> {
  return clock ? clock.now() : Number((await client.query<{ now: number }>(DB_NOW_SQL)).rows[0]?.now);
}

/** Reads on one pooled connection, outside a transaction. */
export class PgReader implements Reader {
  readonly dialect = pgDialect;
  readonly #client: pg.ClientBase;
  readonly #clock: Clock | null;

  constructor(client: pg.ClientBase, clock: Clock | null) {
    this.#client = client;
    this.#clock = clock;
  }

  async rows<R>(q: Sql): Promise<R[]> {
    return (await query<R>(this.#client, q)).rows;
  }

  async row<R>(q: Sql): Promise<R | undefined> {
    return (await query<R>(this.#client, q)).rows[0];
  }

  now(): Promise<number> {
    return clockOrDatabase(this.#client, this.#clock);
  }
}

/** One READ COMMITTED transaction on one pooled connection. */
export class PgTx extends SqlTx {
  readonly #client: pg.ClientBase;
  readonly #clock: Clock | null;
  readonly #lockScope: string;
  readonly #announcer: Announcer;
  #now: number | undefined;

  constructor(client: pg.ClientBase, clock: Clock | null, lockScope: string, announcer: Announcer) {
    super(new PgReader(client, clock));
    this.#client = client;
    this.#clock = clock;
    this.#lockScope = lockScope;
    this.#announcer = announcer;
  }

  async exec(q: Sql): Promise<number> {
    return (await query(this.#client, q)).rowCount ?? 0;
  }

  /** Read once, from the database clock unless a clock was injected (see Tx.now). */
  async now(): Promise<number> {
    this.#now ??= await clockOrDatabase(this.#client, this.#clock);
    return this.#now;
  }

  /**
   * A transaction-scoped advisory lock on a name within this store's schema (int8 key space;
   * the migration lock uses the int4-pair space). Hash collisions only serialize two names.
   */
  async lock(...name: string[]): Promise<void> {
    await this.#client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [JSON.stringify([this.#lockScope, ...name])]);
  }

  /** Delivered at commit, to every node listening (see PostgresStore.onEventsAppended). */
  async eventsAppended(): Promise<void> {
    await this.#client.query(`SELECT pg_notify($1, $2)`, [this.#announcer.channel, this.#announcer.payload()]);
  }
}
