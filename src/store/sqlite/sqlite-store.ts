import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { systemClock, type Clock } from '../../domain/clock.js';
import {
  ZERO_USAGE,
  type BackendName,
  type CloseReason,
  type Labels,
  type Lease,
  type Metadata,
  type SessionRecord,
  type SessionStatus,
  type TurnError,
  type TurnRecord,
} from '../../domain/types.js';
import { TetherError } from '../../errors.js';
import type {
  AcquireLeaseInput,
  AcquireLeaseResult,
  EnqueueTurnInput,
  EnqueueTurnResult,
  FinishTurnInput,
  FinishTurnResult,
  RecoverInput,
  RecoverResult,
  SessionFilter,
  Store,
  ImportSessionInput,
  SessionPatch,
  SharedEvent,
  SharedEventFilter,
  SharedEventInput,
  StoreStats,
  TranscriptEntry,
  TranscriptRef,
  TurnFilter,
} from '../store.js';
import {
  COUNTER_COLUMNS,
  FORGET_NODES_AFTER_MS,
  LEASE_STOPPED,
  acquireRefusal,
  askOnce,
  assertQuiet,
  assertQuota,
  assertReplaceable,
  assertRunsUnder,
  byAge,
  closeBeforeEnqueue,
  closing,
  continuationRefusal,
  evictionsNeeded,
  expiryFrom,
  fenced,
  finishedDelta,
  importedDelta,
  isAbandoned,
  isCapped,
  isQuiet,
  joinRefusal,
  nextLease,
  noLiveSession,
  nothingToEvict,
  patched,
  quotasOf,
  runsUnderLease,
  statsFrom,
  usageAfter,
  usageToColumns,
  vanished,
  type CounterColumn,
  type CounterDelta,
} from '../rules/index.js';
import { migrate } from './migrations.js';
import { endedTurnColumns } from '../rows.js';
import { sessionFromRow, turnFromRow, type SessionRow, type TurnRow } from './rows.js';

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

/**
 * The sweep and recovery queries, exported so that a test can EXPLAIN exactly what runs.
 * Each one's WHERE repeats its partial index's WHERE so SQLite can use that index.
 * "Quiet" = nothing queued and no unexpired lease; an expired lease does not protect a session.
 */
export const SWEEP_SQL = {
  expiry: `SELECT * FROM sessions
    WHERE live = 1 AND queued = 0 AND expires_at IS NOT NULL AND expires_at <= @now
      AND (lease_token IS NULL OR lease_expires_at <= @now)
    ORDER BY expires_at, rowid LIMIT @limit`,
  lru: `SELECT * FROM sessions
    WHERE live = 1 AND queued = 0 AND (lease_token IS NULL OR lease_expires_at <= @now)
    ORDER BY last_active_at, rowid LIMIT @limit`,
  heldLeases: `SELECT * FROM sessions WHERE lease_token IS NOT NULL`,
  queueHead: `SELECT id FROM turns WHERE session_id = ? AND status = 'queued' ORDER BY seq LIMIT 1`,
  activeTurns: `SELECT * FROM turns WHERE status IN ('queued', 'running')`,
} as const;

type CounterRow = Record<CounterColumn, number | null>;

const BUMP_SQL = `INSERT INTO counters (tenant, ${COUNTER_COLUMNS.join(', ')})
  VALUES (@tenant, ${COUNTER_COLUMNS.map((c) => `@${c}`).join(', ')})
  ON CONFLICT (tenant) DO UPDATE SET ${COUNTER_COLUMNS.map((c) => `${c} = counters.${c} + excluded.${c}`).join(', ')}`;

/**
 * The Store on SQLite through better-sqlite3. Every write is one `BEGIN IMMEDIATE` transaction,
 * so writers in other processes sharing the file serialize on SQLite's write lock (waiting up to
 * busyTimeoutMs); inside one process the calls are synchronous and cannot interleave at all.
 */
export class SqliteStore implements Store {
  readonly kind: string;
  /** The database file, or `:memory:`. */
  readonly path: string;
  readonly #db: BetterSqlite3.Database;
  readonly #clock: Clock;
  readonly #busyTimeoutMs: number;
  readonly #statements = new Map<string, BetterSqlite3.Statement<unknown[], unknown>>();
  readonly #inTransaction: BetterSqlite3.Transaction<(fn: () => unknown) => unknown>;
  readonly #exclusive = new Set<string>();

  /** Use `openSqliteStore`, which configures and migrates the connection first. */
  constructor(db: BetterSqlite3.Database, options: { path: string; clock: Clock; busyTimeoutMs: number }) {
    this.#db = db;
    this.path = options.path;
    this.kind = options.path === ':memory:' ? 'memory' : 'sqlite';
    this.#clock = options.clock;
    this.#busyTimeoutMs = options.busyTimeoutMs;
    this.#inTransaction = db.transaction((fn: () => unknown) => fn());
  }

  /** The underlying connection, for diagnostics and tests (pragmas, EXPLAIN). */
  get connection(): BetterSqlite3.Database {
    this.#assertOpen();
    return this.#db;
  }

  async now(): Promise<number> {
    this.#assertOpen();
    return this.#clock.now();
  }

  async enqueueTurn(input: EnqueueTurnInput): Promise<EnqueueTurnResult> {
    return this.#write((now) => {
      const closed: SessionRecord[] = [];
      let row = this.#liveRow(input.tenant, input.key);
      if (input.requireLive || input.regenerates !== undefined) {
        const refusal = continuationRefusal(input, row, input.regenerates === undefined ? undefined : this.#turnRow(input.regenerates), now);
        if (refusal) throw refusal;
      }

      const reason = row ? closeBeforeEnqueue(input, row, now, sessionFromRow) : null;
      if (row && reason !== null) {
        closed.push(this.#close(row, reason, now));
        row = undefined;
      }

      let created = false;
      if (row) {
        const refusal = joinRefusal(input, row, now);
        if (refusal) throw refusal;
      } else {
        closed.push(...this.#makeRoom(input, now));
        row = this.#createSession(input, now);
        created = true;
      }

      // Auto-compaction goes first, on a quiet session this turn joins: journaled together, so
      // the prompt is never held back by it and never overtaken.
      const compaction = !created && input.compactFirst && input.regenerates === undefined && isQuiet(row, now) && input.compactFirst.wanted(sessionFromRow(row)) ? input.compactFirst : null;
      let seq = row.turn_seq;
      const insertTurn = (id: string, prompt: string, regenerates: string | null): void => {
        this.#stmt(
          `INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, created_at, regenerates)
           VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
        ).run(id, row!.id, input.tenant, input.key, ++seq, prompt, input.owner, now, regenerates);
      };
      if (compaction) insertTurn(compaction.turnId, compaction.prompt, null);
      insertTurn(input.turnId, input.prompt, input.regenerates ?? null);
      const added = compaction ? 2 : 1;
      this.#stmt(
        `UPDATE sessions SET turn_seq = ?, queued = queued + ?, last_active_at = ?, expires_at = ? WHERE id = ?`,
      ).run(seq, added, now, expiryFrom(now, input.idleTimeoutMs), row.id);
      this.#bump(input.tenant, { turns_queued: added });

      // Fast path: on a quiet session the new turn (or its compaction) heads its queue; granting
      // the lease in this same transaction saves a second durable commit before it runs. (`row`
      // predates the queued count just written, but what a grant reads of it, the id, tenant and
      // lease epoch, has not changed.)
      let granted: { lease: Lease; interrupted: TurnRecord[] } | null = null;
      if (input.leaseTtlMs !== undefined && isQuiet(row, now)) {
        granted = this.#grant(row, compaction?.turnId ?? input.turnId, input.owner, input.leaseTtlMs, now);
      }

      return {
        session: this.#sessionById(row.id),
        turn: this.#turnById(input.turnId),
        created,
        closed,
        ...(granted ? { lease: granted.lease, interrupted: granted.interrupted } : {}),
        ...(compaction ? { compaction: this.#turnById(compaction.turnId) } : {}),
      };
    });
  }

  async acquireLease(input: AcquireLeaseInput): Promise<AcquireLeaseResult> {
    return this.#write((now): AcquireLeaseResult => {
      const turn = this.#turnRow(input.turnId);
      const session = this.#sessionRow(input.sessionId);
      const refusal = acquireRefusal(input, turn, session, now);
      if (refusal === 'gone' || !session) return { status: 'gone', turn: turn ? turnFromRow(turn) : null };
      if (refusal === 'wait') return { status: 'wait' };
      const head = this.#stmt(SWEEP_SQL.queueHead).get(session.id) as { id: string } | undefined;
      if (head?.id !== input.turnId) return { status: 'wait' };

      const { lease, interrupted } = this.#grant(session, input.turnId, input.owner, input.ttlMs, now);
      return {
        status: 'acquired',
        lease,
        session: this.#sessionById(session.id),
        turn: this.#turnById(input.turnId),
        interrupted,
      };
    });
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    return this.#write((now) => {
      this.#fence(lease);
      const expiresAt = now + ttlMs;
      this.#stmt(`UPDATE sessions SET lease_expires_at = ? WHERE id = ?`).run(expiresAt, lease.sessionId);
      const stop = this.#stmt(`SELECT 1 FROM turns WHERE session_id = ? AND status = 'running' AND epoch = ? AND interrupt_requested = 1`).get(lease.sessionId, lease.epoch);
      return { ...lease, expiresAt, ...(stop ? { interruptRequested: true as const } : {}) };
    });
  }

  async setUsageLimit(backend: BackendName, until: number, reason: string): Promise<void> {
    this.#write(() =>
      this.#stmt(
        `INSERT INTO usage_limits (backend, until, reason) VALUES (?, ?, ?)
         ON CONFLICT (backend) DO UPDATE SET until = excluded.until, reason = excluded.reason WHERE excluded.until > usage_limits.until`,
      ).run(backend, Math.round(until), reason),
    );
  }

  async getUsageLimit(backend: BackendName): Promise<{ until: number; reason: string } | null> {
    this.#assertOpen();
    return (this.#stmt(`SELECT until, reason FROM usage_limits WHERE backend = ?`).get(backend) as { until: number; reason: string } | undefined) ?? null;
  }

  async requestInterrupt(turnId: string): Promise<boolean> {
    return this.#write(() => this.#stmt(`UPDATE turns SET interrupt_requested = 1 WHERE id = ? AND status = 'running'`).run(turnId).changes > 0);
  }

  async setAgentSession(lease: Lease, agentSessionId: string | null): Promise<void> {
    this.#write(() => {
      this.#fence(lease);
      this.#stmt(`UPDATE sessions SET agent_session_id = ? WHERE id = ?`).run(agentSessionId, lease.sessionId);
    });
  }

  async finishTurn(input: FinishTurnInput): Promise<FinishTurnResult> {
    return this.#write((now) => {
      const { lease } = input;
      const session = this.#fence(lease);
      const turn = this.#turnRow(input.turnId);
      assertRunsUnder(lease, input.turnId, turn);

      const usage = input.usage ?? null;
      const context = input.context ?? null;
      this.#stmt(
        `UPDATE turns SET status = @status, text = @text, error_code = @error_code, error_message = @error_message,
           input_tokens = @input_tokens, output_tokens = @output_tokens, cache_read_tokens = @cache_read_tokens,
           cache_write_tokens = @cache_write_tokens, cost_micros = @cost_micros,
           context_tokens = @context_tokens, context_window = @context_window, context_ratio = @context_ratio,
           ended_at = @now
         WHERE id = @id`,
      ).run({
        id: input.turnId,
        status: input.status,
        text: input.text ?? null,
        now,
        ...endedTurnColumns({ usage, context, error: input.error ?? null }),
      });

      const total = usageAfter(session, usage);
      const agentSessionId = input.agentSessionId ?? null;
      this.#stmt(
        `UPDATE sessions SET status = 'idle', turns = turns + 1, last_active_at = @now, expires_at = @expires_at,
           input_tokens = @input_tokens, output_tokens = @output_tokens, cache_read_tokens = @cache_read_tokens,
           cache_write_tokens = @cache_write_tokens, cost_micros = @cost_micros,
           context_tokens = coalesce(@context_tokens, context_tokens),
           context_window = coalesce(@context_window, context_window),
           context_ratio = coalesce(@context_ratio, context_ratio),
           agent_session_id = coalesce(@agent_session_id, agent_session_id),
           lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
         WHERE id = @id`,
      ).run({
        id: session.id,
        now,
        expires_at: expiryFrom(now, input.idleTimeoutMs),
        ...total,
        context_tokens: context?.tokens ?? null,
        context_window: context?.window ?? null,
        context_ratio: context?.ratio ?? null,
        agent_session_id: agentSessionId,
      });

      this.#bump(session.tenant, finishedDelta(input.status, usage, turn.started_at, now));
      const after = this.#sessionRow(session.id);
      if (input.closeIfQuiet && after && isQuiet(after, now)) {
        return { session: this.#close(after, input.closeIfQuiet, now), turn: this.#turnById(input.turnId) };
      }
      return { session: this.#sessionById(session.id), turn: this.#turnById(input.turnId) };
    });
  }

  async abandonTurn(turnId: string, error: TurnError): Promise<boolean> {
    return this.#write((now) => {
      const turn = this.#turnRow(turnId);
      if (!turn || turn.status !== 'queued') return false;
      this.#endQueuedTurn(turn, now, error);
      return true;
    });
  }

  async recover(input: RecoverInput): Promise<RecoverResult> {
    return this.#write((now) => {
      const isAlive = askOnce(input.isOwnerAlive);
      const interrupted: TurnRecord[] = [];
      const adopted: TurnRecord[] = [];
      let freed = 0;

      for (const session of this.#stmt(SWEEP_SQL.heldLeases).all() as SessionRow[]) {
        if (!isAbandoned(session, now, isAlive)) continue;
        interrupted.push(...this.#interruptRunning(session, now, input.error));
        this.#stmt(
          `UPDATE sessions SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
             status = CASE WHEN live = 1 THEN 'idle' ELSE status END
           WHERE id = ?`,
        ).run(session.id);
        freed += 1;
      }

      for (const turn of this.#stmt(SWEEP_SQL.activeTurns).all() as TurnRow[]) {
        if (turn.status === 'queued') {
          if (isAlive(turn.owner)) continue;
          if (input.adoptQueuedAs) {
            // Never started, so running it now cannot repeat anything: the prompt is not lost.
            this.#stmt(`UPDATE turns SET owner = ? WHERE id = ?`).run(input.adoptQueuedAs, turn.id);
            adopted.push(this.#turnById(turn.id));
          } else {
            interrupted.push(this.#endQueuedTurn(turn, now, input.error));
          }
          continue;
        }
        if (!runsUnderLease(this.#sessionRow(turn.session_id), turn)) interrupted.push(this.#endRunningTurn(turn, now, input.error));
      }
      adopted.sort(byAge);
      return { interrupted, freed, adopted };
    });
  }

  async sweepExpired(limit: number): Promise<SessionRecord[]> {
    return this.#write((now) => {
      const rows = this.#stmt(SWEEP_SQL.expiry).all({ now, limit: Math.max(0, Math.trunc(limit)) }) as SessionRow[];
      return rows.map((row) => this.#close(row, 'expired', now));
    });
  }

  async enforceCap(maxSessions: number, limit: number): Promise<SessionRecord[]> {
    return this.#write((now) => {
      if (!isCapped(maxSessions)) return [];
      const excess = this.#liveTotal() - maxSessions;
      const count = Math.min(excess, Math.trunc(limit));
      if (count <= 0) return [];
      return this.#lruQuiet(now, count).map((row) => this.#close(row, 'evicted', now));
    });
  }

  async closeSession(tenant: string, key: string, reason: CloseReason): Promise<SessionRecord | null> {
    return this.#write((now) => {
      const row = this.#liveRow(tenant, key);
      if (!row) return null;
      assertQuiet(row, now);
      return this.#close(row, reason, now);
    });
  }

  async deleteKey(tenant: string, key: string): Promise<number> {
    return this.#write((now) => {
      const row = this.#liveRow(tenant, key);
      if (row) {
        assertQuiet(row, now);
        // Closing first ends a turn stranded under an expired lease and keeps the counters true.
        this.#close(row, 'deleted', now);
      }
      const conversations = this.#stmt(
        `SELECT DISTINCT agent_session_id AS id FROM sessions WHERE tenant = ? AND key = ? AND agent_session_id IS NOT NULL`,
      ).all(tenant, key) as Array<{ id: string }>;
      for (const { id } of conversations) this.#deleteTranscript(id, null);
      this.#stmt(`DELETE FROM turns WHERE tenant = ? AND key = ?`).run(tenant, key);
      return this.#stmt(`DELETE FROM sessions WHERE tenant = ? AND key = ?`).run(tenant, key).changes;
    });
  }

  async appendTranscript(ref: TranscriptRef, projectKey: string, entries: TranscriptEntry[]): Promise<void> {
    const subpath = ref.subpath ?? '';
    this.#write((now) => {
      const head = this.#stmt(`SELECT entries FROM transcripts WHERE agent_session_id = ? AND subpath = ?`).get(ref.agentSessionId, subpath) as
        | { entries: number }
        | undefined;
      let seq = head?.entries ?? 0;
      const insert = this.#stmt(
        `INSERT INTO transcript_entries (agent_session_id, subpath, seq, uuid, entry) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      );
      for (const entry of entries) {
        const uuid = typeof entry.uuid === 'string' ? entry.uuid : null;
        if (insert.run(ref.agentSessionId, subpath, seq, uuid, JSON.stringify(entry)).changes === 1) seq++;
      }
      this.#stmt(
        `INSERT INTO transcripts (agent_session_id, subpath, project_key, entries, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (agent_session_id, subpath) DO UPDATE SET project_key = excluded.project_key, entries = excluded.entries, updated_at = excluded.updated_at`,
      ).run(ref.agentSessionId, subpath, projectKey, seq, now);
    });
  }

  async loadTranscript(ref: TranscriptRef): Promise<TranscriptEntry[] | null> {
    return this.#read(() => {
      const subpath = ref.subpath ?? '';
      const head = this.#stmt(`SELECT entries FROM transcripts WHERE agent_session_id = ? AND subpath = ?`).get(ref.agentSessionId, subpath);
      if (!head) return null;
      const rows = this.#stmt(`SELECT entry FROM transcript_entries WHERE agent_session_id = ? AND subpath = ? ORDER BY seq`).all(
        ref.agentSessionId,
        subpath,
      ) as Array<{ entry: string }>;
      return rows.map((r) => JSON.parse(r.entry) as TranscriptEntry);
    });
  }

  async listTranscripts(projectKey: string): Promise<Array<{ agentSessionId: string; mtime: number }>> {
    return this.#read(() => {
      const rows = this.#stmt(`SELECT agent_session_id, updated_at FROM transcripts WHERE project_key = ? AND subpath = ''`).all(projectKey) as Array<{
        agent_session_id: string;
        updated_at: number;
      }>;
      return rows.map((r) => ({ agentSessionId: r.agent_session_id, mtime: r.updated_at }));
    });
  }

  async listTranscriptSubpaths(agentSessionId: string): Promise<string[]> {
    return this.#read(() => {
      const rows = this.#stmt(`SELECT subpath FROM transcripts WHERE agent_session_id = ? AND subpath != '' ORDER BY subpath`).all(agentSessionId) as Array<{
        subpath: string;
      }>;
      return rows.map((r) => r.subpath);
    });
  }

  async deleteTranscript(ref: TranscriptRef): Promise<number> {
    return this.#write(() => this.#deleteTranscript(ref.agentSessionId, ref.subpath || null));
  }

  async updateSession(tenant: string, key: string, patch: SessionPatch): Promise<SessionRecord> {
    return this.#write(() => {
      const row = this.#liveRow(tenant, key);
      if (!row) throw noLiveSession(key);
      const { config, labels, metadata } = patched(sessionFromRow(row), patch);
      if (patch.labels) this.#checkQuotas(tenant, labels, patch.labelQuotas, row.id);
      this.#stmt(`UPDATE sessions SET config = ?, labels = ?, metadata = ? WHERE id = ?`).run(
        JSON.stringify(config),
        JSON.stringify(labels),
        JSON.stringify(metadata),
        row.id,
      );
      return this.#sessionById(row.id);
    });
  }

  async importSession(input: ImportSessionInput): Promise<{ session: SessionRecord; closed: SessionRecord[] }> {
    return this.#write((now) => {
      const closed: SessionRecord[] = [];
      const live = this.#liveRow(input.tenant, input.key);
      if (live) {
        assertReplaceable(input, live, now);
        closed.push(this.#close(live, 'reset', now));
      }
      closed.push(...this.#makeRoom({ maxSessions: input.maxSessions, onLimit: input.onLimit }, now));
      const row = this.#createSession(
        {
          tenant: input.tenant,
          key: input.key,
          backend: input.backend,
          config: input.config,
          labels: input.labels,
          metadata: input.metadata,
          newSessionId: input.newSessionId,
          ...(input.labelQuotas ? { labelQuotas: input.labelQuotas } : {}),
        },
        now,
      );
      let seq = row.turn_seq;
      const insert = this.#stmt(
        `INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, text, error_code, error_message,
           input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, context_tokens, context_window, context_ratio,
           created_at, started_at, ended_at)
         VALUES (@id, @session_id, @tenant, @key, @seq, @prompt, @status, 'import', @text, @error_code, @error_message,
           @input_tokens, @output_tokens, @cache_read_tokens, @cache_write_tokens, @cost_micros, @context_tokens, @context_window, @context_ratio,
           @created_at, @started_at, @ended_at)`,
      );
      for (const turn of input.turns) {
        insert.run({
          id: randomUUID(),
          session_id: row.id,
          tenant: input.tenant,
          key: input.key,
          seq: ++seq,
          prompt: turn.prompt,
          status: turn.status,
          text: turn.text,
          created_at: turn.createdAt,
          started_at: turn.startedAt,
          ended_at: turn.endedAt,
          ...endedTurnColumns({ usage: turn.usage, context: null, error: turn.error }),
        });
      }
      this.#stmt(
        `UPDATE sessions SET agent_session_id = @agent_session_id, turns = @turns, turn_seq = @turn_seq,
           input_tokens = @input_tokens, output_tokens = @output_tokens, cache_read_tokens = @cache_read_tokens,
           cache_write_tokens = @cache_write_tokens, cost_micros = @cost_micros,
           context_tokens = @context_tokens, context_window = @context_window, context_ratio = @context_ratio,
           expires_at = @expires_at
         WHERE id = @id`,
      ).run({
        id: row.id,
        agent_session_id: input.agentSessionId,
        turns: input.turns.length,
        turn_seq: seq,
        ...usageToColumns(input.usage),
        context_tokens: input.context.tokens,
        context_window: input.context.window,
        context_ratio: input.context.ratio,
        expires_at: expiryFrom(now, input.idleTimeoutMs),
      });
      // Imported history counts in the tenant's turn totals (its usage was spent elsewhere).
      this.#bump(input.tenant, importedDelta(input.turns));
      return { session: this.#sessionById(row.id), closed };
    });
  }

  async getLiveSession(tenant: string, key: string): Promise<SessionRecord | null> {
    return this.#read(() => {
      const row = this.#liveRow(tenant, key);
      return row ? sessionFromRow(row) : null;
    });
  }

  async getLatestSession(tenant: string, key: string): Promise<SessionRecord | null> {
    return this.#read(() => {
      const row = this.#stmt(
        `SELECT * FROM sessions WHERE tenant = ? AND key = ? ORDER BY generation DESC LIMIT 1`,
      ).get(tenant, key) as SessionRow | undefined;
      return row ? sessionFromRow(row) : null;
    });
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return this.#read(() => {
      const row = this.#sessionRow(id);
      return row ? sessionFromRow(row) : null;
    });
  }

  async listSessions(filter: SessionFilter): Promise<SessionRecord[]> {
    return this.#read(() => {
      const where = ['latest = 1'];
      const params: unknown[] = [];
      if (filter.tenant !== undefined) {
        where.push('tenant = ?');
        params.push(filter.tenant);
      }
      if (filter.key !== undefined) {
        where.push('key = ?');
        params.push(filter.key);
      }
      if (filter.status !== undefined) {
        where.push('status = ?');
        params.push(filter.status);
      }
      // json_each rather than json_extract: label names need no JSON-path quoting this way.
      for (const [name, value] of Object.entries(filter.labels ?? {})) {
        where.push(`EXISTS (SELECT 1 FROM json_each(sessions.labels) AS l WHERE l.key = ? AND l.value = ? AND l.type = 'text')`);
        params.push(name, value);
      }
      for (const [name, value] of Object.entries(filter.metadata ?? {})) {
        if (typeof value === 'boolean') {
          where.push(`EXISTS (SELECT 1 FROM json_each(sessions.metadata) AS m WHERE m.key = ? AND m.type = ?)`);
          params.push(name, value ? 'true' : 'false');
        } else {
          where.push(`EXISTS (SELECT 1 FROM json_each(sessions.metadata) AS m WHERE m.key = ? AND m.type = ? AND m.value = ?)`);
          params.push(name, typeof value === 'string' ? 'text' : Number.isInteger(value) ? 'integer' : 'real', value);
        }
      }
      params.push(filter.limit ?? -1, filter.offset ?? 0);
      const rows = this.#stmt(
        `SELECT * FROM sessions WHERE ${where.join(' AND ')}
         ORDER BY last_active_at DESC, rowid DESC LIMIT ? OFFSET ?`,
      ).all(...params) as SessionRow[];
      return rows.map(sessionFromRow);
    });
  }

  async getTurn(id: string): Promise<TurnRecord | null> {
    return this.#read(() => {
      const row = this.#turnRow(id);
      return row ? turnFromRow(row) : null;
    });
  }

  async listTurns(filter: TurnFilter): Promise<TurnRecord[]> {
    return this.#read(() => {
      const rows = this.#stmt(
        `SELECT * FROM turns WHERE tenant = ? AND key = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ).all(filter.tenant, filter.key, filter.afterSeq ?? 0, filter.limit ?? -1) as TurnRow[];
      return rows.map(turnFromRow);
    });
  }

  async stats(tenant?: string): Promise<StoreStats> {
    return this.#read(() => {
      const sums = COUNTER_COLUMNS.map((c) => `coalesce(sum(${c}), 0) AS ${c}`).join(', ');
      const counters = (
        tenant === undefined
          ? this.#stmt(`SELECT ${sums} FROM counters`).get()
          : this.#stmt(`SELECT ${sums} FROM counters WHERE tenant = ?`).get(tenant)
      ) as CounterRow;
      const groups = (
        tenant === undefined
          ? this.#stmt(`SELECT status, count(*) AS n FROM sessions GROUP BY status`).all()
          : this.#stmt(`SELECT status, count(*) AS n FROM sessions WHERE tenant = ? GROUP BY status`).all(tenant)
      ) as Array<{ status: SessionStatus; n: number }>;
      return statsFrom(counters, groups);
    });
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    this.#statements.clear();
    this.#db.close();
  }

  // --- transactions and errors -------------------------------------------------------------

  /** Grants the session's lease to run `turnId` (the head of its queue, checked by the caller). */
  #grant(session: SessionRow, turnId: string, owner: string, ttlMs: number, now: number): { lease: Lease; interrupted: TurnRecord[] } {
    // Whatever still runs under a previous (expired) lease is over: its holder stopped renewing.
    const interrupted = this.#interruptRunning(session, now, LEASE_STOPPED);
    const lease = nextLease(session, owner, ttlMs, now);
    this.#stmt(
      `UPDATE sessions SET status = 'running', queued = queued - 1,
         lease_owner = ?, lease_token = ?, lease_epoch = ?, lease_expires_at = ? WHERE id = ?`,
    ).run(lease.owner, lease.token, lease.epoch, lease.expiresAt, session.id);
    // The turn's owner becomes the process that runs it, which is whom recovery must ask about.
    this.#stmt(`UPDATE turns SET status = 'running', started_at = ?, epoch = ?, owner = ? WHERE id = ?`).run(now, lease.epoch, owner, turnId);
    this.#bump(session.tenant, { turns_queued: -1, turns_running: 1 });
    return { lease, interrupted };
  }

  #assertOpen(): void {
    if (!this.#db.open) throw new TetherError('STORE_UNAVAILABLE', `the store (${this.path}) is closed`);
  }

  #read<T>(fn: () => T): T {
    this.#assertOpen();
    try {
      return fn();
    } catch (err) {
      throw mapSqliteError(err, this.path, this.#busyTimeoutMs);
    }
  }

  /** One BEGIN IMMEDIATE transaction; `now` is read once the write lock is held. */
  #write<T>(fn: (now: number) => T): T {
    this.#assertOpen();
    try {
      return this.#inTransaction.immediate(() => fn(this.#clock.now())) as T;
    } catch (err) {
      throw mapSqliteError(err, this.path, this.#busyTimeoutMs);
    }
  }

  #stmt(sql: string): BetterSqlite3.Statement<unknown[], unknown> {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  // --- rows --------------------------------------------------------------------------------

  #sessionRow(id: string): SessionRow | undefined {
    return this.#stmt(`SELECT * FROM sessions WHERE id = ?`).get(id) as SessionRow | undefined;
  }

  #sessionById(id: string): SessionRecord {
    const row = this.#sessionRow(id);
    if (!row) throw vanished('session', id);
    return sessionFromRow(row);
  }

  #liveRow(tenant: string, key: string): SessionRow | undefined {
    return this.#stmt(`SELECT * FROM sessions WHERE tenant = ? AND key = ? AND live = 1`).get(tenant, key) as
      | SessionRow
      | undefined;
  }

  #turnRow(id: string): TurnRow | undefined {
    return this.#stmt(`SELECT * FROM turns WHERE id = ?`).get(id) as TurnRow | undefined;
  }

  #turnById(id: string): TurnRecord {
    const row = this.#turnRow(id);
    if (!row) throw vanished('turn', id);
    return turnFromRow(row);
  }

  #liveTotal(): number {
    const row = this.#stmt(`SELECT coalesce(sum(live), 0) AS n FROM counters`).get() as { n: number };
    return row.n;
  }

  #lruQuiet(now: number, limit: number): SessionRow[] {
    return this.#stmt(SWEEP_SQL.lru).all({ now, limit }) as SessionRow[];
  }

  /** Adds `delta` to the tenant's counters (creating its row) in one statement. */
  #bump(tenant: string, delta: CounterDelta): void {
    const params: Record<string, number | string> = { tenant };
    for (const c of COUNTER_COLUMNS) params[c] = delta[c] ?? 0;
    this.#stmt(BUMP_SQL).run(params);
  }

  // --- state changes (always inside #write) ------------------------------------------------

  /** The session row, if `lease` still holds it (see `fenced`); LEASE_LOST otherwise. */
  #fence(lease: Lease): SessionRow {
    return fenced(lease, this.#sessionRow(lease.sessionId));
  }

  #createSession(
    input: Pick<EnqueueTurnInput, 'tenant' | 'key' | 'backend' | 'config' | 'labels' | 'metadata' | 'newSessionId' | 'labelQuotas'>,
    now: number,
  ): SessionRow {
    const previous = this.#stmt(
      `SELECT id, generation, turn_seq, labels, metadata FROM sessions WHERE tenant = ? AND key = ? ORDER BY generation DESC LIMIT 1`,
    ).get(input.tenant, input.key) as Pick<SessionRow, 'id' | 'generation' | 'turn_seq' | 'labels' | 'metadata'> | undefined;
    if (previous) this.#stmt(`UPDATE sessions SET latest = 0 WHERE id = ?`).run(previous.id);
    // Labels carry over to the next generation (a client may send them with the first message
    // only); labels given now are merged over them.
    const labels = { ...(previous ? (JSON.parse(previous.labels) as Record<string, string>) : {}), ...input.labels };
    const metadata = { ...(previous ? (JSON.parse(previous.metadata) as Metadata) : {}), ...input.metadata };
    this.#checkQuotas(input.tenant, labels, input.labelQuotas, null);
    const zero = usageToColumns(ZERO_USAGE);
    this.#stmt(
      `INSERT INTO sessions (id, tenant, key, backend, status, live, latest, generation, config, labels, metadata, turn_seq,
         input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, created_at, last_active_at)
       VALUES (@id, @tenant, @key, @backend, 'idle', 1, 1, @generation, @config, @labels, @metadata, @turn_seq,
         @input_tokens, @output_tokens, @cache_read_tokens, @cache_write_tokens, @cost_micros, @now, @now)`,
    ).run({
      id: input.newSessionId,
      tenant: input.tenant,
      key: input.key,
      backend: input.backend,
      generation: (previous?.generation ?? 0) + 1,
      config: JSON.stringify(input.config),
      labels: JSON.stringify(labels),
      metadata: JSON.stringify(metadata),
      turn_seq: previous?.turn_seq ?? 0,
      now,
      ...zero,
    });
    this.#bump(input.tenant, { created: 1, live: 1 });
    const row = this.#sessionRow(input.newSessionId);
    if (!row) throw new TetherError('INTERNAL', `session ${input.newSessionId} was not created`);
    return row;
  }

  /**
   * Label quotas: at most N live sessions of the tenant per value of a label. `except` is a
   * session already counted (an update of its own labels).
   */
  #checkQuotas(tenant: string, labels: Labels, quotas: Record<string, number> | undefined, except: string | null): void {
    for (const quota of quotasOf(labels, quotas)) {
      const { n } = this.#stmt(
        `SELECT count(*) AS n FROM sessions WHERE tenant = ? AND live = 1 AND id != ?
           AND EXISTS (SELECT 1 FROM json_each(sessions.labels) AS l WHERE l.key = ? AND l.value = ? AND l.type = 'text')`,
      ).get(tenant, except ?? '', quota.name, quota.value) as { n: number };
      assertQuota(quota, n);
    }
  }

  /** Makes room for one more live session under the cap, or throws LIMIT_REACHED. */
  #makeRoom(input: Pick<EnqueueTurnInput, 'maxSessions' | 'onLimit'>, now: number): SessionRecord[] {
    if (!isCapped(input.maxSessions)) return [];
    const live = this.#liveTotal();
    const needed = evictionsNeeded(input, live);
    if (needed === 0) return [];
    const victims = this.#lruQuiet(now, needed);
    if (victims.length < needed) throw nothingToEvict(input, live);
    return victims.map((row) => this.#close(row, 'evicted', now));
  }

  /** Closes a live session. A turn stranded under an expired lease ends as interrupted first. */
  #close(row: SessionRow, reason: CloseReason, now: number): SessionRecord {
    this.#interruptRunning(row, now, LEASE_STOPPED);
    const { status, delta } = closing(reason);
    this.#stmt(
      `UPDATE sessions SET status = ?, live = 0, closed_at = ?, close_reason = ?, expires_at = NULL,
         lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
       WHERE id = ?`,
    ).run(status, now, reason, row.id);
    this.#bump(row.tenant, delta);
    return this.#sessionById(row.id);
  }

  #interruptRunning(session: SessionRow, now: number, error: TurnError): TurnRecord[] {
    const rows = this.#stmt(`SELECT * FROM turns WHERE session_id = ? AND status = 'running'`).all(session.id) as TurnRow[];
    return rows.map((turn) => this.#endRunningTurn(turn, now, error));
  }

  #endRunningTurn(turn: TurnRow, now: number, error: TurnError): TurnRecord {
    this.#markInterrupted(turn.id, now, error);
    this.#stmt(`UPDATE sessions SET turns = turns + 1 WHERE id = ?`).run(turn.session_id);
    this.#bump(turn.tenant, { turns_running: -1, turns_interrupted: 1 });
    return this.#turnById(turn.id);
  }

  #endQueuedTurn(turn: TurnRow, now: number, error: TurnError): TurnRecord {
    this.#markInterrupted(turn.id, now, error);
    this.#stmt(`UPDATE sessions SET turns = turns + 1, queued = queued - 1 WHERE id = ?`).run(turn.session_id);
    this.#bump(turn.tenant, { turns_queued: -1, turns_interrupted: 1 });
    return this.#turnById(turn.id);
  }

  async appendEvents(events: SharedEventInput[]): Promise<void> {
    if (events.length === 0) return;
    this.#write((now) => {
      const insert = this.#stmt(`INSERT INTO events (tenant, turn_id, seq, origin, created_at, event) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
      for (const e of events) insert.run(e.tenant, e.turnId, e.seq, e.origin, now, JSON.stringify(e.event));
    });
  }

  async readEvents(filter: SharedEventFilter): Promise<SharedEvent[]> {
    return this.#read(() => {
      const limit = Math.max(0, Math.trunc(filter.limit));
      const rows = (
        'turnId' in filter
          ? this.#stmt(`SELECT * FROM events WHERE turn_id = ? AND seq > ? ORDER BY seq LIMIT ?`).all(filter.turnId, filter.afterSeq, limit)
          : this.#stmt(`SELECT * FROM events WHERE id > ? AND origin != ? ORDER BY id LIMIT ?`).all(filter.afterId, filter.excludeOrigin ?? '', limit)
      ) as Array<{ id: number; tenant: string; turn_id: string | null; seq: number | null; origin: string; event: string }>;
      return rows.map((r) => ({ id: r.id, tenant: r.tenant, turnId: r.turn_id, seq: r.seq, origin: r.origin, event: JSON.parse(r.event) as unknown }));
    });
  }

  async lastEventId(): Promise<number> {
    return this.#read(() => (this.#stmt(`SELECT coalesce(max(id), 0) AS id FROM events`).get() as { id: number }).id);
  }

  async lastEventSeq(turnId: string): Promise<number> {
    return this.#read(() => (this.#stmt(`SELECT coalesce(max(seq), 0) AS seq FROM events WHERE turn_id = ?`).get(turnId) as { seq: number }).seq);
  }

  async pruneEvents(olderThanMs: number): Promise<number> {
    return this.#write((now) => this.#stmt(`DELETE FROM events WHERE created_at < ?`).run(now - olderThanMs).changes);
  }

  async heartbeat(owner: string, ttlMs: number): Promise<void> {
    this.#write((now) => {
      if (ttlMs <= 0) this.#stmt(`DELETE FROM nodes WHERE owner = ?`).run(owner);
      else {
        this.#stmt(`INSERT INTO nodes (owner, expires_at) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at`).run(owner, now + ttlMs);
      }
      this.#stmt(`DELETE FROM nodes WHERE expires_at < ?`).run(now - FORGET_NODES_AFTER_MS);
    });
  }

  async liveOwners(): Promise<string[]> {
    return this.#read(() => {
      const now = this.#clock.now();
      return (this.#stmt(`SELECT owner FROM nodes WHERE expires_at > ? ORDER BY owner`).all(now) as Array<{ owner: string }>).map((r) => r.owner);
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

  /** Removes one transcript, or (subpath null) a conversation's main transcript and subpaths. */
  #deleteTranscript(agentSessionId: string, subpath: string | null): number {
    if (subpath === null) {
      this.#stmt(`DELETE FROM transcripts WHERE agent_session_id = ?`).run(agentSessionId);
      return this.#stmt(`DELETE FROM transcript_entries WHERE agent_session_id = ?`).run(agentSessionId).changes;
    }
    this.#stmt(`DELETE FROM transcripts WHERE agent_session_id = ? AND subpath = ?`).run(agentSessionId, subpath);
    return this.#stmt(`DELETE FROM transcript_entries WHERE agent_session_id = ? AND subpath = ?`).run(agentSessionId, subpath).changes;
  }

  #markInterrupted(turnId: string, now: number, error: TurnError): void {
    this.#stmt(
      `UPDATE turns SET status = 'interrupted', error_code = ?, error_message = ?, ended_at = ? WHERE id = ?`,
    ).run(error.code, error.message, now, turnId);
  }
}

/** Turns a SQLite failure into a TetherError that says what to do; anything else passes through. */
export function mapSqliteError(err: unknown, path: string, busyTimeoutMs: number): unknown {
  if (err instanceof TetherError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  const unavailable = (message: string): TetherError =>
    new TetherError('STORE_UNAVAILABLE', message, { cause: err, details: { path, sqliteCode: code } });

  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return unavailable(
      `database is locked by another process: ${path} (waited ${busyTimeoutMs} ms for its write lock); ` +
        'retry, or raise busyTimeoutMs if another Tether or a tool holds long write transactions on this file',
    );
  }
  if (code === 'SQLITE_FULL') return unavailable(`database ${path} cannot grow: the disk is full; free some space and retry`);
  if (code.startsWith('SQLITE_READONLY')) {
    return unavailable(`database ${path} is read-only; check the permissions of the file and its directory, and that the disk is mounted read-write`);
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    // A WAL database on a read-only file system cannot be opened without its -shm file.
    if (diskState(path) === 'read-only') return unavailable(`cannot open database ${path}: its file system is read-only; remount it read-write`);
    return unavailable(`cannot open database ${path}; check that the path exists and is writable`);
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return unavailable(`${path} is not a usable Tether database (${err.message}); restore it from a backup or point Tether at another file`);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    // SQLite reports a write refused by a file system gone read-only (e.g. remounted so after an
    // error) or full as a plain I/O error; the file system itself can say which it was.
    const disk = diskState(path);
    if (disk === 'read-only') {
      return unavailable(`database ${path} is on a file system that is now read-only (${code}); remount it read-write (check the disk first) and restart Tether`);
    }
    if (disk === 'full') return unavailable(`database ${path} cannot grow: the disk is full (${code}); free some space and retry`);
    return unavailable(`disk I/O error on database ${path} (${code}: ${err.message}); check that its disk is healthy, has space and is mounted read-write, then retry`);
  }
  if (code.startsWith('SQLITE_')) return new TetherError('INTERNAL', `SQLite error ${code}: ${err.message}`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC') {
    return unavailable(`cannot prepare database ${path}: ${err.message}`);
  }
  return err;
}

/**
 * What the file system holding `path` says when SQLite reports an I/O error: read-only, full, or
 * neither. A file system the kernel turned read-only after an error may still look writable to
 * access(2) (ext4's emergency read-only), so the probe is a real write: a file created and
 * removed next to the database, on this rare error path only.
 */
function diskState(path: string): 'read-only' | 'full' | null {
  if (path === ':memory:' || path === '') return null;
  const dir = dirname(resolve(path));
  const probe = join(dir, `.tether-probe-${process.pid}-${randomUUID()}`);
  try {
    writeFileSync(probe, 'x', { flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'read-only';
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  } finally {
    try {
      rmSync(probe, { force: true });
    } catch {
      // Nothing was created.
    }
  }
  try {
    if (statfsSync(dir).bavail === 0) return 'full';
  } catch {
    // No answer: the message stays the generic one.
  }
  return null;
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
  return new SqliteStore(db, { path, clock: options.clock ?? systemClock, busyTimeoutMs });
}
