import type pg from 'pg';
import { TetherError } from '../../errors.js';

/** One schema step; `version` is recorded in `tether_migrations` in the same transaction. */
export interface Migration {
  version: number;
  up: string;
}

/**
 * The schema, as an append-only list: never edit a released migration, add the next one.
 *
 * Same shape as the SQLite schema, with these differences (the why):
 * - `live` is a generated column, so the "one live session per (tenant, key)" partial UNIQUE
 *   index can never disagree with `status`.
 * - `row_no` stands in for SQLite's rowid: a stable tie-break for listing and LRU order.
 * - times, token sums and micro-dollar costs are BIGINT: they outgrow 2^31.
 * - config, labels and metadata are JSONB (labels and metadata are filtered with `@>`); transcript entries stay TEXT,
 *   because JSONB cannot hold a `\u0000` escape and reorders keys.
 * - every sweep has a partial index holding only the rows it can touch.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up: `
CREATE TABLE sessions (
  id                 TEXT PRIMARY KEY,
  row_no             BIGINT GENERATED ALWAYS AS IDENTITY,
  tenant             TEXT NOT NULL,
  key                TEXT NOT NULL,
  backend            TEXT NOT NULL,
  agent_session_id   TEXT,
  status             TEXT NOT NULL CHECK (status IN ('idle', 'running', 'expired', 'closed', 'error')),
  live               BOOLEAN GENERATED ALWAYS AS (status IN ('idle', 'running')) STORED,
  latest             BOOLEAN NOT NULL,
  generation         INTEGER NOT NULL CHECK (generation >= 1),
  config             JSONB NOT NULL,
  labels             JSONB NOT NULL,
  turns              INTEGER NOT NULL DEFAULT 0,
  turn_seq           INTEGER NOT NULL DEFAULT 0,
  queued             INTEGER NOT NULL DEFAULT 0 CHECK (queued >= 0),
  input_tokens       BIGINT NOT NULL DEFAULT 0,
  output_tokens      BIGINT NOT NULL DEFAULT 0,
  cache_read_tokens  BIGINT NOT NULL DEFAULT 0,
  cache_write_tokens BIGINT NOT NULL DEFAULT 0,
  cost_micros        BIGINT NOT NULL DEFAULT 0,
  context_tokens     BIGINT NOT NULL DEFAULT 0,
  context_window     BIGINT NOT NULL DEFAULT 0,
  context_ratio      DOUBLE PRECISION NOT NULL DEFAULT 0,
  created_at         BIGINT NOT NULL,
  last_active_at     BIGINT NOT NULL,
  expires_at         BIGINT,
  closed_at          BIGINT,
  close_reason       TEXT,
  lease_owner        TEXT,
  lease_token        TEXT,
  lease_epoch        BIGINT NOT NULL DEFAULT 0,
  lease_expires_at   BIGINT,
  CHECK ((lease_token IS NULL) = (lease_owner IS NULL) AND (lease_token IS NULL) = (lease_expires_at IS NULL))
);

CREATE UNIQUE INDEX sessions_one_live ON sessions (tenant, key) WHERE live;
CREATE UNIQUE INDEX sessions_generation ON sessions (tenant, key, generation);
-- Sweeps: only live sessions with nothing queued can be expired or evicted.
CREATE INDEX sessions_expiry ON sessions (expires_at, row_no) WHERE live AND queued = 0 AND expires_at IS NOT NULL;
CREATE INDEX sessions_lru ON sessions (last_active_at, row_no) WHERE live AND queued = 0;
-- Recovery: held leases only.
CREATE INDEX sessions_leases ON sessions (lease_expires_at) WHERE lease_token IS NOT NULL;
-- Listing: the latest generation of each key, most recently active first.
CREATE INDEX sessions_list_tenant ON sessions (tenant, last_active_at, row_no) WHERE latest;
CREATE INDEX sessions_list_tenant_status ON sessions (tenant, status, last_active_at, row_no) WHERE latest;
-- stats().sessions.byStatus.
CREATE INDEX sessions_status ON sessions (tenant, status);

CREATE TABLE turns (
  id                 TEXT PRIMARY KEY,
  session_id         TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  tenant             TEXT NOT NULL,
  key                TEXT NOT NULL,
  seq                INTEGER NOT NULL,
  prompt             TEXT NOT NULL,
  status             TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
  owner              TEXT NOT NULL,
  epoch              BIGINT,
  text               TEXT,
  error_code         TEXT,
  error_message      TEXT,
  -- Usage columns are all NULL when the turn reported no usage.
  input_tokens       BIGINT,
  output_tokens      BIGINT,
  cache_read_tokens  BIGINT,
  cache_write_tokens BIGINT,
  cost_micros        BIGINT,
  context_tokens     BIGINT,
  context_window     BIGINT,
  context_ratio      DOUBLE PRECISION,
  created_at         BIGINT NOT NULL,
  started_at         BIGINT,
  ended_at           BIGINT
);

-- Also the index the foreign key needs, and the queue head: (session_id, 'queued', min seq).
CREATE INDEX turns_session ON turns (session_id, status, seq);
CREATE UNIQUE INDEX turns_key_seq ON turns (tenant, key, seq);
-- Recovery: unfinished turns only.
CREATE INDEX turns_active ON turns (status) WHERE status IN ('queued', 'running');

-- Running totals per tenant, so stats() and the cap check never count sessions.
CREATE TABLE counters (
  tenant             TEXT PRIMARY KEY,
  live               BIGINT NOT NULL DEFAULT 0,
  created            BIGINT NOT NULL DEFAULT 0,
  expired            BIGINT NOT NULL DEFAULT 0,
  evicted            BIGINT NOT NULL DEFAULT 0,
  reset              BIGINT NOT NULL DEFAULT 0,
  turns_queued       BIGINT NOT NULL DEFAULT 0,
  turns_running      BIGINT NOT NULL DEFAULT 0,
  turns_succeeded    BIGINT NOT NULL DEFAULT 0,
  turns_failed       BIGINT NOT NULL DEFAULT 0,
  turns_interrupted  BIGINT NOT NULL DEFAULT 0,
  input_tokens       BIGINT NOT NULL DEFAULT 0,
  output_tokens      BIGINT NOT NULL DEFAULT 0,
  cache_read_tokens  BIGINT NOT NULL DEFAULT 0,
  cache_write_tokens BIGINT NOT NULL DEFAULT 0,
  cost_micros        BIGINT NOT NULL DEFAULT 0
);
`,
  },
  {
    // The transcript mirror (see the SQLite v2 migration for why it is keyed by conversation id).
    version: 2,
    up: `
CREATE TABLE transcripts (
  agent_session_id TEXT NOT NULL,
  subpath          TEXT NOT NULL DEFAULT '',
  project_key      TEXT NOT NULL,
  entries          INTEGER NOT NULL DEFAULT 0,
  updated_at       BIGINT NOT NULL,
  PRIMARY KEY (agent_session_id, subpath)
);
CREATE INDEX transcripts_project ON transcripts (project_key) WHERE subpath = '';

CREATE TABLE transcript_entries (
  agent_session_id TEXT NOT NULL,
  subpath          TEXT NOT NULL,
  seq              INTEGER NOT NULL,
  uuid             TEXT,
  entry            TEXT NOT NULL,
  PRIMARY KEY (agent_session_id, subpath, seq)
);
-- The SDK's idempotency key: a retried or replayed batch adds nothing.
CREATE UNIQUE INDEX transcript_entries_uuid ON transcript_entries (agent_session_id, subpath, uuid) WHERE uuid IS NOT NULL;
`,
  },
  {
    // Broker processes sharing the database, with heartbeats (see Store.heartbeat).
    version: 3,
    up: `
CREATE TABLE nodes (
  owner      TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
`,
  },
  {
    // The shared event journal (Store.appendEvents): short-lived, pruned by the janitor. Events
    // are TEXT for the same reason as transcript entries.
    version: 4,
    up: `
CREATE TABLE events (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant     TEXT NOT NULL,
  turn_id    TEXT,
  origin     TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  event      TEXT NOT NULL
);
CREATE INDEX events_turn ON events (turn_id, id) WHERE turn_id IS NOT NULL;
CREATE INDEX events_age ON events (created_at);
`,
  },
  {
    // Session metadata (links such as taskId, mcpSessionId), and turn time for statistics.
    // Metadata is JSONB like labels: searched by top-level value with \`@>\`, where a JSON
    // number is compared as a number (3 never matches 3.5) and false never matches a missing
    // name. JSONB reorders keys, which a deep-equal round trip does not see.
    version: 5,
    up: `
ALTER TABLE sessions ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}';
ALTER TABLE counters ADD COLUMN duration_ms BIGINT NOT NULL DEFAULT 0,
                     ADD COLUMN turns_timed BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    // A regenerated reply names the turn it replaces, so forks and exports can leave that out.
    // An interrupt asked for in one process reaches the turn running in another through the row.
    version: 6,
    up: `
ALTER TABLE turns ADD COLUMN regenerates TEXT;
ALTER TABLE turns ADD COLUMN interrupt_requested BOOLEAN NOT NULL DEFAULT false;
-- The agent account's usage limit, learned by one node from a refused turn, seen by all.
CREATE TABLE usage_limits (
  backend TEXT PRIMARY KEY,
  until   BIGINT NOT NULL,
  reason  TEXT NOT NULL
);
`,
  },
  {
    // Turn events carry their number in the turn's stream (see the SQLite v7 migration).
    version: 7,
    up: `
ALTER TABLE events ADD COLUMN seq INTEGER;
DROP INDEX events_turn;
CREATE UNIQUE INDEX events_turn_seq ON events (turn_id, seq) WHERE turn_id IS NOT NULL AND seq IS NOT NULL;
`,
  },
  {
    // Approvals (see the SQLite v8 migration).
    version: 8,
    up: `
CREATE TABLE approvals (
  id           TEXT PRIMARY KEY,
  tenant       TEXT NOT NULL,
  key          TEXT NOT NULL,
  session_id   TEXT NOT NULL,
  turn_id      TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('tool', 'question')),
  tool_use_id  TEXT NOT NULL,
  tool         TEXT NOT NULL,
  request      JSONB NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'allowed', 'denied', 'expired')),
  decided_by   TEXT,
  message      TEXT,
  remember     TEXT,
  answers      JSONB,
  requested_at BIGINT NOT NULL,
  decided_at   BIGINT,
  expires_at   BIGINT NOT NULL,
  answered_at  BIGINT
);
CREATE UNIQUE INDEX approvals_call ON approvals (turn_id, tool_use_id);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE status = 'pending';
CREATE INDEX approvals_unanswered ON approvals (turn_id) WHERE answered_at IS NULL;
CREATE INDEX approvals_tenant ON approvals (tenant, requested_at);
`,
  },
  {
    // Usage over time (see the SQLite v9 migration).
    version: 9,
    up: `CREATE INDEX turns_ended ON turns (tenant, ended_at) WHERE ended_at IS NOT NULL;`,
  },
];

/** The schema version this code writes. */
export const LATEST_VERSION: number = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS tether_migrations (
  version    INTEGER PRIMARY KEY,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
)`;

/** The highest version recorded in `tether_migrations` of the current schema; 0 when none. */
export async function schemaVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('tether_migrations')::text AS t`);
  if (!exists.rows[0]?.t) return 0;
  const { rows } = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM tether_migrations`);
  return rows[0]?.v ?? 0;
}

/**
 * Brings `schema` (created if missing, and first on the connection's search_path) up to the
 * latest version. Everything runs in one transaction under a transaction-scoped advisory lock
 * keyed on the schema, and the version is read once that lock is held, so several nodes
 * starting at once migrate once and the others find the work done. PostgreSQL DDL is
 * transactional: a failing step leaves nothing behind. Refuses a schema written by a newer
 * Tether rather than guess at it.
 */
export async function migrate(
  client: pg.ClientBase,
  schema: string,
  where: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  // Generated columns (12) and hashtextextended (11) are what the schema and the locks need.
  const server = Number((await client.query<{ server_version_num: string }>('SHOW server_version_num')).rows[0]?.server_version_num);
  if (server < 120000) {
    throw new TetherError('STORE_UNAVAILABLE', `PostgreSQL at ${where} is version ${server}; Tether needs PostgreSQL 12 or later`, {
      details: { serverVersion: server },
    });
  }
  await client.query('BEGIN');
  try {
    // The two-int4 form lives in a key space apart from the int8 keys the store locks keys with.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('tether:migrate'), hashtext($1))`, [schema]);
    const found = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
    if (found.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    // A schema created just now may not be on this connection's resolved search_path yet.
    await client.query(`SELECT set_config('search_path', $1, true)`, [quoteIdent(schema)]);
    await client.query(MIGRATIONS_TABLE);
    const from = await schemaVersion(client);
    if (from > latest) {
      throw new TetherError(
        'STORE_UNAVAILABLE',
        `PostgreSQL schema "${schema}" at ${where} has schema version ${from}, but this Tether only knows versions up to ${latest}; ` +
          'upgrade Tether, or point it at another database or schema',
        { details: { schema, version: from, latest } },
      );
    }
    for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
      if (step.version <= from) continue;
      await client.query(step.up);
      await client.query(`INSERT INTO tether_migrations (version) VALUES ($1)`, [step.version]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return latest;
}

/** Schema names are validated to plain identifiers before they get here; quoting keeps case. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
