import type BetterSqlite3 from 'better-sqlite3';
import { TetherError } from '../../errors.js';

/** One schema step. `version` is what `PRAGMA user_version` reads once `up` has run. */
export interface Migration {
  version: number;
  up: string;
}

/**
 * The schema, as an append-only list: never edit a released migration, add the next one.
 *
 * Notes on the shape (the why; the store port is the what):
 * - `live` mirrors "status is idle or running" (a CHECK keeps them in step) so that a UNIQUE
 *   partial index can make "one live session per (tenant, key)" a database rule.
 * - `latest` marks each key's newest generation, so listing is an index range, not a GROUP BY.
 * - usage numbers are integer columns, cost in micro-dollars, so sums stay exact.
 * - every sweep has a partial index holding only the rows it can touch.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up: `
CREATE TABLE sessions (
  id                 TEXT PRIMARY KEY,
  tenant             TEXT NOT NULL,
  key                TEXT NOT NULL,
  backend            TEXT NOT NULL,
  agent_session_id   TEXT,
  status             TEXT NOT NULL CHECK (status IN ('idle', 'running', 'expired', 'closed', 'error')),
  live               INTEGER NOT NULL CHECK (live = (status IN ('idle', 'running'))),
  latest             INTEGER NOT NULL CHECK (latest IN (0, 1)),
  generation         INTEGER NOT NULL CHECK (generation >= 1),
  config             TEXT NOT NULL,
  labels             TEXT NOT NULL,
  turns              INTEGER NOT NULL DEFAULT 0,
  turn_seq           INTEGER NOT NULL DEFAULT 0,
  queued             INTEGER NOT NULL DEFAULT 0 CHECK (queued >= 0),
  input_tokens       INTEGER NOT NULL DEFAULT 0,
  output_tokens      INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens INTEGER NOT NULL DEFAULT 0,
  cost_micros        INTEGER NOT NULL DEFAULT 0,
  context_tokens     INTEGER NOT NULL DEFAULT 0,
  context_window     INTEGER NOT NULL DEFAULT 0,
  context_ratio      REAL NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL,
  last_active_at     INTEGER NOT NULL,
  expires_at         INTEGER,
  closed_at          INTEGER,
  close_reason       TEXT,
  lease_owner        TEXT,
  lease_token        TEXT,
  lease_epoch        INTEGER NOT NULL DEFAULT 0,
  lease_expires_at   INTEGER,
  CHECK ((lease_token IS NULL) = (lease_owner IS NULL) AND (lease_token IS NULL) = (lease_expires_at IS NULL))
);

CREATE UNIQUE INDEX sessions_one_live ON sessions (tenant, key) WHERE live = 1;
CREATE UNIQUE INDEX sessions_generation ON sessions (tenant, key, generation);
-- Sweeps: only live sessions with nothing queued can be expired or evicted.
CREATE INDEX sessions_expiry ON sessions (expires_at) WHERE live = 1 AND queued = 0 AND expires_at IS NOT NULL;
CREATE INDEX sessions_lru ON sessions (last_active_at) WHERE live = 1 AND queued = 0;
-- Recovery: held leases only.
CREATE INDEX sessions_leases ON sessions (lease_expires_at) WHERE lease_token IS NOT NULL;
-- Listing: the latest generation of each key, most recently active first. The broker always
-- lists within a tenant; listing across tenants (store-level only) scans. Every index here is
-- rewritten by each turn (last_active_at, status), so none is kept without a query that needs it.
CREATE INDEX sessions_list_tenant ON sessions (tenant, last_active_at) WHERE latest = 1;
CREATE INDEX sessions_list_tenant_status ON sessions (tenant, status, last_active_at) WHERE latest = 1;
-- stats().sessions.byStatus is a GROUP BY over this (covering) index.
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
  epoch              INTEGER,
  text               TEXT,
  error_code         TEXT,
  error_message      TEXT,
  -- Usage columns are all NULL when the turn reported no usage.
  input_tokens       INTEGER,
  output_tokens      INTEGER,
  cache_read_tokens  INTEGER,
  cache_write_tokens INTEGER,
  cost_micros        INTEGER,
  context_tokens     INTEGER,
  context_window     INTEGER,
  context_ratio      REAL,
  created_at         INTEGER NOT NULL,
  started_at         INTEGER,
  ended_at           INTEGER
);

-- Also the index the foreign key needs, and the queue head: (session_id, 'queued', min seq).
CREATE INDEX turns_session ON turns (session_id, status, seq);
CREATE UNIQUE INDEX turns_key_seq ON turns (tenant, key, seq);
-- Recovery: unfinished turns only.
CREATE INDEX turns_active ON turns (status) WHERE status IN ('queued', 'running');

-- Running totals per tenant, so stats() and the cap check never count sessions.
CREATE TABLE counters (
  tenant             TEXT PRIMARY KEY,
  live               INTEGER NOT NULL DEFAULT 0,
  created            INTEGER NOT NULL DEFAULT 0,
  expired            INTEGER NOT NULL DEFAULT 0,
  evicted            INTEGER NOT NULL DEFAULT 0,
  reset              INTEGER NOT NULL DEFAULT 0,
  turns_queued       INTEGER NOT NULL DEFAULT 0,
  turns_running      INTEGER NOT NULL DEFAULT 0,
  turns_succeeded    INTEGER NOT NULL DEFAULT 0,
  turns_failed       INTEGER NOT NULL DEFAULT 0,
  turns_interrupted  INTEGER NOT NULL DEFAULT 0,
  input_tokens       INTEGER NOT NULL DEFAULT 0,
  output_tokens      INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens INTEGER NOT NULL DEFAULT 0,
  cost_micros        INTEGER NOT NULL DEFAULT 0
);
`,
  },
  {
    // The transcript mirror: Tether's own copy of each agent conversation, so that a wiped
    // ~/.claude or a new machine loses nothing. Keyed by the agent's conversation id (Tether
    // chose it, a UUID) rather than by the agent's project directory, so that a session whose
    // cwd moved still finds its transcript.
    version: 2,
    up: `
CREATE TABLE transcripts (
  agent_session_id TEXT NOT NULL,
  subpath          TEXT NOT NULL DEFAULT '',
  project_key      TEXT NOT NULL,
  entries          INTEGER NOT NULL DEFAULT 0,
  updated_at       INTEGER NOT NULL,
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
) WITHOUT ROWID;
-- The SDK's idempotency key: a retried or replayed batch adds nothing.
CREATE UNIQUE INDEX transcript_entries_uuid ON transcript_entries (agent_session_id, subpath, uuid) WHERE uuid IS NOT NULL;
`,
  },
  {
    // Broker processes sharing the file, with heartbeats (see Store.heartbeat).
    version: 3,
    up: `
CREATE TABLE nodes (
  owner      TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
`,
  },
  {
    // The shared event journal (Store.appendEvents): short-lived, pruned by the janitor.
    version: 4,
    up: `
CREATE TABLE events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant     TEXT NOT NULL,
  turn_id    TEXT,
  origin     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  event      TEXT NOT NULL
);
CREATE INDEX events_turn ON events (turn_id, id) WHERE turn_id IS NOT NULL;
CREATE INDEX events_age ON events (created_at);
`,
  },
  {
    // Session metadata (links such as taskId, mcpSessionId), and turn time for statistics.
    version: 5,
    up: `
ALTER TABLE sessions ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE counters ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE counters ADD COLUMN turns_timed INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    // A regenerated reply names the turn it replaces, so forks and exports can leave that out.
    // An interrupt asked for in one process reaches the turn running in another through the row.
    version: 6,
    up: `
ALTER TABLE turns ADD COLUMN regenerates TEXT;
ALTER TABLE turns ADD COLUMN interrupt_requested INTEGER NOT NULL DEFAULT 0;
-- The agent account's usage limit, learned by one node from a refused turn, seen by all.
CREATE TABLE usage_limits (
  backend TEXT PRIMARY KEY,
  until   INTEGER NOT NULL,
  reason  TEXT NOT NULL
);
`,
  },
  {
    // A turn's events carry their number in the turn's stream, so every node reads one turn's
    // stream by number (Last-Event-ID) instead of renumbering what it tails; the first writer
    // of a number wins. Per-turn reads go by (turn_id, seq) now.
    version: 7,
    up: `
ALTER TABLE events ADD COLUMN seq INTEGER;
DROP INDEX events_turn;
CREATE UNIQUE INDEX events_turn_seq ON events (turn_id, seq) WHERE turn_id IS NOT NULL AND seq IS NOT NULL;
`,
  },
  {
    // What running turns ask people (approvals): one per tool call of a turn, pending until
    // decided or expired. Pending ones are found by expiry (the janitor) and by turn.
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
  request      TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'allowed', 'denied', 'expired')),
  decided_by   TEXT,
  message      TEXT,
  remember     TEXT,
  answers      TEXT,
  requested_at INTEGER NOT NULL,
  decided_at   INTEGER,
  expires_at   INTEGER NOT NULL,
  answered_at  INTEGER
);
CREATE UNIQUE INDEX approvals_call ON approvals (turn_id, tool_use_id);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE status = 'pending';
CREATE INDEX approvals_unanswered ON approvals (turn_id) WHERE answered_at IS NULL;
CREATE INDEX approvals_tenant ON approvals (tenant, requested_at);
`,
  },
  {
    // Usage over time (the dashboard's charts): a tenant's ended turns in a window of time.
    version: 9,
    up: `CREATE INDEX turns_ended ON turns (tenant, ended_at) WHERE ended_at IS NOT NULL;`,
  },
];

/** The schema version this code writes. */
export const LATEST_VERSION: number = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** Reads `PRAGMA user_version`. */
export function schemaVersion(db: BetterSqlite3.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database up to LATEST_VERSION. All pending steps run in one BEGIN IMMEDIATE
 * transaction, and the version is read again inside it, so two processes opening a new file at
 * once migrate it once. Refuses a database written by a newer Tether rather than guess at it.
 */
export function migrate(db: BetterSqlite3.Database, path: string, migrations: readonly Migration[] = MIGRATIONS): number {
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  const check = (version: number): void => {
    if (version > latest) {
      throw new TetherError(
        'STORE_UNAVAILABLE',
        `database ${path} has schema version ${version}, but this Tether only knows versions up to ${latest}; ` +
          'upgrade Tether, or point it at another database file',
        { details: { path, version, latest } },
      );
    }
  };
  const current = schemaVersion(db);
  check(current);
  if (current === latest) return current;

  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  db.transaction(() => {
    const from = schemaVersion(db);
    check(from);
    for (const step of ordered) {
      if (step.version <= from) continue;
      db.exec(step.up);
      // user_version lives in the database header, so it commits or rolls back with the step.
      db.pragma(`user_version = ${Math.trunc(step.version)}`);
    }
  }).immediate();
  return latest;
}
