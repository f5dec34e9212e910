import { randomUUID } from 'node:crypto';
import type { Clock } from '../../domain/clock.js';
import { TetherError } from '../../errors.js';
import { SqlStore } from '../sql/sql-store.js';
import { PgDatabase } from './database.js';
import { NotifyListener } from './listener.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`; the password never appears in a message. */
  url: string;
  /** Schema for Tether's tables (created if missing); default: the first schema on the search_path. */
  schema?: string;
  /** Defaults to the database clock, so nodes with skewed clocks agree; tests inject a ManualClock. */
  clock?: Clock;
  /** Connections this node keeps at most. Default 10. */
  poolSize?: number;
  /** How long opening a connection may take before STORE_UNAVAILABLE. Default 10000 ms. */
  connectTimeoutMs?: number;
  /**
   * The server ends a connection idle inside a transaction this long (a hung node), releasing
   * its locks. Keep it below the lease TTL. Default 5000 ms.
   */
  idleInTransactionTimeoutMs?: number;
}

/** The NOTIFY channel of event appends; the payload says which schema and which store instance. */
const EVENTS_CHANNEL = 'tether_events';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The Store on PostgreSQL through a pg pool, for several Tether nodes sharing one database.
 *
 * Every write is one READ COMMITTED transaction that locks what it reads before deciding:
 * - a key's advisory lock (transaction-scoped, on a hash of schema, tenant and key) serializes
 *   everything that opens, closes or deletes a key's sessions, so two first messages racing on
 *   two nodes still make one session; the partial UNIQUE index is the backstop;
 * - `SELECT … FOR UPDATE` on the session row fences lease writes and turn changes;
 * - session creation under a cap takes one cap lock, so the cap holds across nodes;
 * - sweeps and recovery skip rows other transactions hold (SKIP LOCKED) instead of waiting;
 * - serialization failures and deadlocks run the transaction again, a few times.
 * Without an injected clock, time is the database's, read once per transaction after its locks.
 *
 * Connecting and migrating happen in the background from the constructor; every method awaits
 * them, so a store can be opened synchronously and a failure surfaces on the first call.
 */
export class PostgresStore extends SqlStore {
  readonly #db: PgDatabase;
  readonly #wakeups: NotifyListener;

  /** Use `openPostgresStore`, which validates the options. */
  constructor(options: PostgresStoreOptions) {
    /** Tells this store's own NOTIFYs from other nodes'. */
    const instance = randomUUID();
    const payload = (): string => `${db.lockScope}\n${instance}`;
    const db = new PgDatabase({
      url: options.url,
      schema: options.schema,
      clock: options.clock ?? null,
      poolSize: options.poolSize ?? 10,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? 5_000,
      announcer: { channel: EVENTS_CHANNEL, payload },
    });
    super('postgres', db);
    this.#db = db;
    this.#wakeups = new NotifyListener({
      config: db.clientConfig,
      channel: EVENTS_CHANNEL,
      ready: () => db.open(),
      accept: (text) => text.startsWith(`${db.lockScope}\n`) && text !== payload(),
    });
  }

  /** Where the store connects (`host:port/database`), for logs. Never holds the password. */
  get where(): string {
    return this.#db.target.where;
  }

  /**
   * LISTEN on a connection of its own (outside the pool, which would hand it to queries). A lost
   * connection is opened again, and listeners are called once then, since appends may have
   * passed unheard meanwhile.
   */
  onEventsAppended(listener: () => void): () => void {
    this.#db.assertOpen();
    return this.#wakeups.add(listener);
  }

  override async close(): Promise<void> {
    if (this.#db.closed) return;
    this.#wakeups.close();
    await super.close();
  }
}

/**
 * Opens a PostgreSQL store. Returns at once: connecting and migrating run in the background and
 * every call waits for them; a failure surfaces as STORE_UNAVAILABLE from the first call (and
 * the next call tries again).
 */
export function openPostgresStore(options: PostgresStoreOptions): PostgresStore {
  if (typeof options.url !== 'string' || options.url.trim() === '') {
    throw new TetherError('INVALID_INPUT', 'the PostgreSQL URL is empty; set it like postgres://user:password@host:5432/database');
  }
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new TetherError(
      'INVALID_INPUT',
      `schema must be a lower-case PostgreSQL identifier (letters, digits, _; at most 63), not "${options.schema}"`,
    );
  }
  const poolSize = options.poolSize ?? 10;
  // Two at least: runExclusive holds one connection while its section runs on another.
  if (!Number.isInteger(poolSize) || poolSize < 2 || poolSize > 1000) {
    throw new TetherError('INVALID_INPUT', `poolSize must be a whole number from 2 to 1000, not ${poolSize}`);
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
    throw new TetherError('INVALID_INPUT', `connectTimeoutMs must be a whole number of milliseconds >= 1, not ${connectTimeoutMs}`);
  }
  return new PostgresStore({ ...options, poolSize, connectTimeoutMs });
}
