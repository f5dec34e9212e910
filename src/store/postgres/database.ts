import pg from 'pg';
import type { Clock } from '../../domain/clock.js';
import { TetherError } from '../../errors.js';
import type { Driver, Reader, StatementOptions, Tx } from '../sql/transaction.js';
import { pgDialect } from './dialect.js';
import { describeTarget, isRetryable, mapPgError, type PgTarget } from './errors.js';
import { runExclusive } from './exclusive.js';
import { migrate } from './migrations.js';
import { raw, render, sql, type Sql } from '../sql/query.js';
import { DB_NOW_EXPR, DB_NOW_SQL, PgReader, PgTx, type Announcer } from './transaction.js';

export interface PgDatabaseOptions {
  url: string;
  schema: string | undefined;
  clock: Clock | null;
  poolSize: number;
  connectTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** How event appends are announced to the other nodes. */
  announcer: Announcer;
}

/** A connection taken from the pool; `release(err)` discards it instead of pooling it. */
export interface Checkout {
  readonly client: pg.PoolClient;
  release(broken?: Error): void;
}

/** Attempts of one transaction that hits a serialization failure or a deadlock. */
const MAX_ATTEMPTS = 5;

/** BIGINT (and count(*)) as JS numbers: every value Tether stores is far below 2^53. */
const INT8_OID = 20;
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * The pool behind a PostgresStore, as the store's driver: connecting and migrating in the
 * background, one-transaction writes with retries, reads, and every failure mapped to a
 * TetherError.
 *
 * `openStore()` is synchronous, so the connection cannot be made before it returns: the
 * constructor starts connect-and-migrate and every call awaits it. A failure surfaces as
 * STORE_UNAVAILABLE from the call, and the next call tries again (the server may be back).
 */
export class PgDatabase implements Driver {
  readonly dialect = pgDialect;
  readonly target: PgTarget;
  readonly clock: Clock | null;
  /** For connections of its own (LISTEN), configured like the pool's. */
  readonly clientConfig: pg.ClientConfig;
  readonly #pool: pg.Pool;
  /**
   * One connection for urgent statements (lease renewals), opened when first needed: on a node
   * whose pool is busy with many turns' transactions, a renewal waiting for a pooled connection
   * would lose leases of turns that run fine.
   */
  #urgent: pg.Pool | null = null;
  readonly #schema: string | undefined;
  readonly #announcer: Announcer;
  /** Names of the exclusive sections this node runs now. */
  readonly #exclusive = new Set<string>();
  #lockScope = '';
  #ready: Promise<void> | null;
  #closed = false;

  constructor(options: PgDatabaseOptions) {
    this.target = describeTarget(options.url);
    this.clock = options.clock;
    this.#schema = options.schema;
    this.#announcer = options.announcer;
    this.clientConfig = {
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'tether',
      keepAlive: true,
      types: TYPES,
      // A node that hangs mid-transaction (paused, or its network gone) would hold its row locks,
      // and every other node's writes to those sessions would wait for it: the server ends such
      // a session instead. Tether's transactions never idle between statements on their own.
      options: [
        ...(options.schema ? [`-c search_path=${options.schema}`] : []),
        `-c idle_in_transaction_session_timeout=${Math.max(1, Math.trunc(options.idleInTransactionTimeoutMs))}`,
      ].join(' '),
    };
    this.#pool = new pg.Pool({ ...this.clientConfig, max: options.poolSize });
    // An idle connection the server drops emits 'error' on the pool; without a listener that
    // would crash the process. The next query opens a new connection or reports the failure.
    this.#pool.on('error', () => undefined);
    this.#ready = this.#init();
    // A failure is reported by the first call that awaits it, not as an unhandled rejection.
    this.#ready.catch(() => undefined);
  }

  /** The schema the tables live in, which scopes advisory lock names; known once open. */
  get lockScope(): string {
    return this.#lockScope;
  }

  get closed(): boolean {
    return this.#closed;
  }

  assertOpen(): void {
    if (this.#closed) throw new TetherError('STORE_UNAVAILABLE', `the store (PostgreSQL at ${this.target.where}) is closed`);
  }

  /** Waits for connect-and-migrate; after a failure, the next call tries again. */
  async open(): Promise<void> {
    this.assertOpen();
    this.#ready ??= this.#init();
    const ready = this.#ready;
    try {
      await ready;
    } catch (err) {
      if (this.#ready === ready) this.#ready = null;
      throw err;
    }
    this.assertOpen();
  }

  /**
   * A pooled connection for the caller to release, failures mapped. pg's pool listens for errors
   * only on idle connections: one checked out whose server goes away between queries emits
   * 'error' with no listener, which would crash the process. The checkout listens for it
   * instead, and releasing it drops such a connection rather than pooling it again.
   */
  async connect(pool: pg.Pool = this.#pool): Promise<Checkout> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw mapPgError(err, this.target);
    }
    let lost: Error | undefined;
    const onError = (err: Error): void => {
      lost ??= err;
    };
    client.on('error', onError);
    return {
      client,
      release(broken?: Error): void {
        client.removeListener('error', onError);
        client.release(broken ?? lost);
      },
    };
  }

  /** Runs `fn` on a pooled connection, mapping failures; a broken connection is discarded. */
  async query<T>(fn: (client: pg.PoolClient) => Promise<T>, pool: pg.Pool = this.#pool): Promise<T> {
    const checkout = await this.connect(pool);
    let broken: Error | undefined;
    try {
      return await fn(checkout.client);
    } catch (err) {
      if (isConnectionFailure(err)) broken = err as Error;
      throw mapPgError(err, this.target);
    } finally {
      checkout.release(broken);
    }
  }

  /** The database clock unless a clock was injected, so nodes with skewed clocks agree. */
  async now(): Promise<number> {
    this.assertOpen();
    if (this.clock) return this.clock.now();
    await this.open();
    return this.query(async (client) => Number((await client.query<{ now: number }>(DB_NOW_SQL)).rows[0]?.now));
  }

  /** Reads on one pooled connection. */
  async read<T>(fn: (reader: Reader) => Promise<T>): Promise<T> {
    await this.open();
    return this.query((client) => fn(new PgReader(client, this.clock)));
  }

  /** Autocommit, on a pooled connection; `now` is the injected clock or the database's, inline. */
  async statement<R>(build: (now: Sql) => Sql, options: StatementOptions = {}): Promise<R[]> {
    await this.open();
    const now = this.clock ? sql`CAST(${this.clock.now()} AS BIGINT)` : raw(DB_NOW_EXPR);
    return this.query(
      async (client) => {
        const { text, params } = render(build(now), 'numbered');
        return (await client.query(text, params)).rows as R[];
      },
      options.urgent ? this.#urgentPool() : this.#pool,
    );
  }

  #urgentPool(): pg.Pool {
    if (!this.#urgent) {
      this.#urgent = new pg.Pool({ ...this.clientConfig, max: 1 });
      this.#urgent.on('error', () => undefined);
    }
    return this.#urgent;
  }

  /**
   * One transaction. A serialization failure or deadlock runs `fn` again from the start (so
   * callbacks it makes, such as `rotate` or `isOwnerAlive`, may be asked again), a few times.
   */
  async write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    await this.open();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.query(async (client) => {
          await client.query('BEGIN');
          try {
            const tx = new PgTx(client, this.clock, this.#lockScope, this.#announcer);
            const result = await fn(tx);
            await tx.flush();
            await client.query('COMMIT');
            return result;
          } catch (err) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
        });
      } catch (err) {
        const cause = err instanceof TetherError ? err.cause : err;
        if (attempt < MAX_ATTEMPTS && isRetryable(cause)) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * 2 ** attempt));
          continue;
        }
        throw err;
      }
    }
  }

  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
    return runExclusive(this, this.#exclusive, name, fn);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Let a connection being opened finish, so that ending the pool leaves no socket behind.
    await this.#ready?.catch(() => undefined);
    await Promise.all([this.#pool.end(), this.#urgent?.end()]);
  }

  async #init(): Promise<void> {
    await this.query(async (client) => {
      let schema = this.#schema;
      if (!schema) {
        const { rows } = await client.query<{ s: string | null }>(`SELECT current_schema() AS s`);
        schema = rows[0]?.s ?? undefined;
        if (!schema) {
          throw new TetherError(
            'STORE_UNAVAILABLE',
            `PostgreSQL at ${this.target.where}: no schema on the search_path exists; create one or give the store a schema`,
          );
        }
      }
      await migrate(client, schema, this.target.where);
      this.#lockScope = schema;
    });
  }
}

/** A failure after which the connection cannot be trusted and must not go back to the pool. */
function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code.startsWith('08') || code.startsWith('57P') || /^E[A-Z]+$/.test(code);
  return err instanceof Error && /Connection terminated|connection error|not queryable/i.test(err.message);
}
