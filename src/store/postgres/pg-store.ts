import { randomUUID } from 'node:crypto';
import type { Clock } from '../../domain/clock.js';
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
  ImportSessionInput,
  RecoverInput,
  RecoverResult,
  SessionFilter,
  SessionPatch,
  SharedEvent,
  SharedEventFilter,
  SharedEventInput,
  Store,
  StoreStats,
  TranscriptEntry,
  TranscriptRef,
  TurnFilter,
} from '../store.js';
import { PgDatabase } from './database.js';
import { mapPgError } from './errors.js';
import { NotifyListener } from './listener.js';
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
} from '../rules/index.js';
import { endedTurnColumns } from '../rows.js';
import { pgDialect, sessionFromRow, turnFromRow, type SessionRow, type TurnRow } from './rows.js';
import { DB_NOW_EXPR, DB_NOW_SQL, Tx } from './transaction.js';

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

/**
 * The sweep and recovery queries, exported so that a test can EXPLAIN them. Each WHERE repeats
 * its partial index's predicate. SKIP LOCKED: a session another transaction holds is being
 * changed right now, so it is not idle; the next sweep sees it again.
 */
export const SWEEP_SQL = {
  expiry: `SELECT * FROM sessions
    WHERE live AND queued = 0 AND expires_at IS NOT NULL AND expires_at <= $1
      AND (lease_token IS NULL OR lease_expires_at <= $1)
    ORDER BY expires_at, row_no LIMIT $2 FOR UPDATE SKIP LOCKED`,
  lru: `SELECT * FROM sessions
    WHERE live AND queued = 0 AND (lease_token IS NULL OR lease_expires_at <= $1)
    ORDER BY last_active_at, row_no LIMIT $2 FOR UPDATE SKIP LOCKED`,
  heldLeases: `SELECT * FROM sessions WHERE lease_token IS NOT NULL FOR UPDATE SKIP LOCKED`,
  queueHead: `SELECT id FROM turns WHERE session_id = $1 AND status = 'queued' ORDER BY seq LIMIT 1`,
  /** Unfinished turns, with what recovery needs to know of their session's lease. */
  activeTurns: `SELECT t.*, s.lease_token AS session_lease_token, s.lease_epoch AS session_lease_epoch
    FROM turns t LEFT JOIN sessions s ON s.id = t.session_id
    WHERE t.status IN ('queued', 'running')`,
} as const;

/** What session creation needs of an enqueue or an import. */
type CreateSessionInput = Pick<EnqueueTurnInput, 'tenant' | 'key' | 'backend' | 'config' | 'labels' | 'metadata' | 'newSessionId' | 'labelQuotas'>;

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
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly #db: PgDatabase;
  /** Tells this store's own NOTIFYs from other nodes'. */
  readonly #instance = randomUUID();
  readonly #wakeups: NotifyListener;
  readonly #exclusive = new Set<string>();

  /** Use `openPostgresStore`, which validates the options. */
  constructor(options: PostgresStoreOptions) {
    this.#db = new PgDatabase({
      url: options.url,
      schema: options.schema,
      clock: options.clock ?? null,
      poolSize: options.poolSize ?? 10,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? 5_000,
    });
    this.#wakeups = new NotifyListener({
      config: this.#db.clientConfig,
      channel: EVENTS_CHANNEL,
      ready: () => this.#db.open(),
      accept: (payload) => payload.startsWith(`${this.#db.lockScope}\n`) && payload !== this.#notifyPayload(),
    });
  }

  /** Where the store connects (`host:port/database`), for logs. Never holds the password. */
  get where(): string {
    return this.#db.target.where;
  }

  async now(): Promise<number> {
    this.#db.assertOpen();
    if (this.#db.clock) return this.#db.clock.now();
    await this.#db.open();
    return this.#db.query(async (client) => Number((await client.query<{ now: number }>(DB_NOW_SQL)).rows[0]?.now));
  }

  async enqueueTurn(input: EnqueueTurnInput): Promise<EnqueueTurnResult> {
    return this.#db.write(async (tx) => {
      await tx.lock('key', input.tenant, input.key);
      let row = await this.#liveRow(tx, input.tenant, input.key);
      const now = await tx.now();
      const closed: SessionRecord[] = [];
      if (input.requireLive || input.regenerates !== undefined) {
        const refusal = continuationRefusal(input, row, input.regenerates === undefined ? undefined : await this.#turnRow(tx, input.regenerates), now);
        if (refusal) throw refusal;
      }

      const reason = row ? closeBeforeEnqueue(input, row, now, sessionFromRow) : null;
      if (row && reason !== null) {
        closed.push(await this.#close(tx, row, reason, now));
        row = undefined;
      }

      let created = false;
      if (row) {
        const refusal = joinRefusal(input, row, now);
        if (refusal) throw refusal;
      } else {
        closed.push(...(await this.#makeRoom(tx, input, now)));
        row = await this.#createSession(tx, input, now);
        created = true;
      }

      // Auto-compaction goes first, on a quiet session this turn joins: journaled together, so
      // the prompt is never held back by it and never overtaken.
      const compaction = !created && input.compactFirst && input.regenerates === undefined && isQuiet(row, now) && input.compactFirst.wanted(sessionFromRow(row)) ? input.compactFirst : null;
      let seq = row.turn_seq;
      const insertTurn = async (id: string, prompt: string, regenerates: string | null): Promise<TurnRow> =>
        (await tx.row<TurnRow>(
          `INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, created_at, regenerates)
           VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9) RETURNING *`,
          [id, row!.id, input.tenant, input.key, ++seq, prompt, input.owner, now, regenerates],
        ))!;
      let compactionTurn = compaction ? await insertTurn(compaction.turnId, compaction.prompt, null) : undefined;
      let turn = await insertTurn(input.turnId, input.prompt, input.regenerates ?? null);
      const added = compaction ? 2 : 1;
      let session = (await tx.row<SessionRow>(
        `UPDATE sessions SET turn_seq = $1, queued = queued + $5, last_active_at = $2, expires_at = $3 WHERE id = $4 RETURNING *`,
        [seq, now, expiryFrom(now, input.idleTimeoutMs), row.id, added],
      ))!;
      tx.bump(input.tenant, { turns_queued: added });

      // Fast path: on a quiet session the new turn (or its compaction) heads its queue; granting
      // the lease in this same transaction saves a second commit before it runs.
      let granted: { lease: Lease; interrupted: TurnRecord[] } | null = null;
      if (input.leaseTtlMs !== undefined && isQuiet(row, now)) {
        const g = await this.#grant(tx, session, compaction?.turnId ?? input.turnId, input.owner, input.leaseTtlMs, now);
        granted = g;
        session = g.session;
        if (compaction) compactionTurn = g.turn;
        else turn = g.turn;
      }

      return {
        session: sessionFromRow(session),
        turn: turnFromRow(turn),
        created,
        closed,
        ...(granted ? { lease: granted.lease, interrupted: granted.interrupted } : {}),
        ...(compactionTurn ? { compaction: turnFromRow(compactionTurn) } : {}),
      };
    });
  }

  async acquireLease(input: AcquireLeaseInput): Promise<AcquireLeaseResult> {
    return this.#db.write(async (tx): Promise<AcquireLeaseResult> => {
      // The session row first: every change to a session's turns holds it (one lock order).
      const session = await this.#sessionRow(tx, input.sessionId, true);
      const turn = await this.#turnRow(tx, input.turnId);
      const now = await tx.now();
      const refusal = acquireRefusal(input, turn, session, now);
      if (refusal === 'gone' || !session) return { status: 'gone', turn: turn ? turnFromRow(turn) : null };
      if (refusal === 'wait') return { status: 'wait' };
      // No SKIP LOCKED here: the caller names its turn, and FIFO needs the true head.
      const head = await tx.row<{ id: string }>(SWEEP_SQL.queueHead, [session.id]);
      if (head?.id !== input.turnId) return { status: 'wait' };

      const g = await this.#grant(tx, session, input.turnId, input.owner, input.ttlMs, now);
      return { status: 'acquired', lease: g.lease, session: sessionFromRow(g.session), turn: turnFromRow(g.turn), interrupted: g.interrupted };
    });
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    return this.#db.write(async (tx) => {
      await this.#fence(tx, lease);
      const expiresAt = (await tx.now()) + ttlMs;
      await tx.exec(`UPDATE sessions SET lease_expires_at = $1 WHERE id = $2`, [expiresAt, lease.sessionId]);
      const stop = await tx.row(`SELECT 1 FROM turns WHERE session_id = $1 AND status = 'running' AND epoch = $2 AND interrupt_requested`, [lease.sessionId, lease.epoch]);
      return { ...lease, expiresAt, ...(stop ? { interruptRequested: true as const } : {}) };
    });
  }

  async setUsageLimit(backend: BackendName, until: number, reason: string): Promise<void> {
    await this.#db.write((tx) =>
      tx.exec(
        `INSERT INTO usage_limits (backend, until, reason) VALUES ($1, $2, $3)
         ON CONFLICT (backend) DO UPDATE SET until = excluded.until, reason = excluded.reason WHERE excluded.until > usage_limits.until`,
        [backend, Math.round(until), reason],
      ),
    );
  }

  async getUsageLimit(backend: BackendName): Promise<{ until: number; reason: string } | null> {
    return (await this.#db.read<{ until: number; reason: string }>(`SELECT until, reason FROM usage_limits WHERE backend = $1`, [backend]))[0] ?? null;
  }

  async requestInterrupt(turnId: string): Promise<boolean> {
    return this.#db.write(async (tx) => (await tx.exec(`UPDATE turns SET interrupt_requested = true WHERE id = $1 AND status = 'running'`, [turnId])) > 0);
  }

  async setAgentSession(lease: Lease, agentSessionId: string | null): Promise<void> {
    await this.#db.write(async (tx) => {
      await this.#fence(tx, lease);
      await tx.exec(`UPDATE sessions SET agent_session_id = $1 WHERE id = $2`, [agentSessionId, lease.sessionId]);
    });
  }

  async finishTurn(input: FinishTurnInput): Promise<FinishTurnResult> {
    return this.#db.write(async (tx) => {
      const { lease } = input;
      const session = await this.#fence(tx, lease);
      const current = await this.#turnRow(tx, input.turnId);
      assertRunsUnder(lease, input.turnId, current);
      const now = await tx.now();
      const usage = input.usage ?? null;
      const context = input.context ?? null;
      const ended = endedTurnColumns({ usage, context, error: input.error ?? null });
      const turn = (await tx.row<TurnRow>(
        `UPDATE turns SET status = $2, text = $3, error_code = $4, error_message = $5,
           input_tokens = $6, output_tokens = $7, cache_read_tokens = $8, cache_write_tokens = $9, cost_micros = $10,
           context_tokens = $11, context_window = $12, context_ratio = $13, ended_at = $14
         WHERE id = $1 RETURNING *`,
        [
          input.turnId,
          input.status,
          input.text ?? null,
          ended.error_code,
          ended.error_message,
          ended.input_tokens,
          ended.output_tokens,
          ended.cache_read_tokens,
          ended.cache_write_tokens,
          ended.cost_micros,
          ended.context_tokens,
          ended.context_window,
          ended.context_ratio,
          now,
        ],
      ))!;

      const total = usageAfter(session, usage);
      const updated = (await tx.row<SessionRow>(
        `UPDATE sessions SET status = 'idle', turns = turns + 1, last_active_at = $2, expires_at = $3,
           input_tokens = $4, output_tokens = $5, cache_read_tokens = $6, cache_write_tokens = $7, cost_micros = $8,
           context_tokens = coalesce($9, context_tokens),
           context_window = coalesce($10, context_window),
           context_ratio = coalesce($11, context_ratio),
           agent_session_id = coalesce($12, agent_session_id),
           lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
         WHERE id = $1 RETURNING *`,
        [
          session.id,
          now,
          expiryFrom(now, input.idleTimeoutMs),
          total.input_tokens,
          total.output_tokens,
          total.cache_read_tokens,
          total.cache_write_tokens,
          total.cost_micros,
          context?.tokens ?? null,
          context?.window ?? null,
          context?.ratio ?? null,
          input.agentSessionId ?? null,
        ],
      ))!;

      tx.bump(session.tenant, finishedDelta(input.status, usage, current.started_at, now));
      if (input.closeIfQuiet && isQuiet(updated, now)) return { session: await this.#close(tx, updated, input.closeIfQuiet, now), turn: turnFromRow(turn) };
      return { session: sessionFromRow(updated), turn: turnFromRow(turn) };
    });
  }

  async abandonTurn(turnId: string, error: TurnError): Promise<boolean> {
    return this.#db.write(async (tx) => {
      const found = await this.#turnRow(tx, turnId);
      if (!found || found.status !== 'queued') return false;
      await this.#sessionRow(tx, found.session_id, true);
      // Read again under the session's lock: it may have started or ended meanwhile.
      const turn = await this.#turnRow(tx, turnId);
      if (!turn || turn.status !== 'queued') return false;
      await this.#endQueuedTurn(tx, turn, await tx.now(), error);
      return true;
    });
  }

  async recover(input: RecoverInput): Promise<RecoverResult> {
    return this.#db.write(async (tx) => {
      const isAlive = askOnce(input.isOwnerAlive);
      const interrupted: TurnRecord[] = [];
      const adopted: TurnRecord[] = [];
      let freed = 0;

      const held = await tx.rows<SessionRow>(SWEEP_SQL.heldLeases);
      const now = await tx.now();
      for (const session of held) {
        if (!isAbandoned(session, now, isAlive)) continue;
        interrupted.push(...(await this.#interruptRunning(tx, session, now, input.error)));
        await tx.exec(
          `UPDATE sessions SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
             status = CASE WHEN live THEN 'idle' ELSE status END
           WHERE id = $1`,
          [session.id],
        );
        freed += 1;
      }

      type ActiveRow = TurnRow & { session_lease_token: string | null; session_lease_epoch: number | null };
      for (const found of await tx.rows<ActiveRow>(SWEEP_SQL.activeTurns)) {
        const queued = found.status === 'queued';
        const seen = { lease_token: found.session_lease_token, lease_epoch: found.session_lease_epoch };
        if (queued ? isAlive(found.owner) : runsUnderLease(seen, found)) continue;
        // Lock the session before changing its turn; one held elsewhere is left to the next pass.
        const session = await tx.row<SessionRow>(`SELECT * FROM sessions WHERE id = $1 FOR UPDATE SKIP LOCKED`, [found.session_id]);
        const turn = session ? await this.#turnRow(tx, found.id) : undefined;
        if (!session || !turn || turn.status !== found.status) continue;
        if (queued) {
          if (input.adoptQueuedAs) {
            // Never started, so running it now cannot repeat anything: the prompt is not lost.
            const row = (await tx.row<TurnRow>(`UPDATE turns SET owner = $1 WHERE id = $2 RETURNING *`, [input.adoptQueuedAs, turn.id]))!;
            adopted.push(turnFromRow(row));
          } else {
            interrupted.push(await this.#endQueuedTurn(tx, turn, now, input.error));
          }
        } else if (!runsUnderLease(session, turn)) {
          interrupted.push(await this.#endRunningTurn(tx, turn, now, input.error));
        }
      }
      adopted.sort(byAge);
      return { interrupted, freed, adopted };
    });
  }

  async sweepExpired(limit: number): Promise<SessionRecord[]> {
    return this.#db.write(async (tx) => {
      const now = await tx.now();
      const rows = await tx.rows<SessionRow>(SWEEP_SQL.expiry, [now, Math.max(0, Math.trunc(limit))]);
      const closed: SessionRecord[] = [];
      for (const row of rows) closed.push(await this.#close(tx, row, 'expired', now));
      return closed;
    });
  }

  async enforceCap(maxSessions: number, limit: number): Promise<SessionRecord[]> {
    return this.#db.write(async (tx) => {
      if (!isCapped(maxSessions)) return [];
      await tx.lock('cap');
      const now = await tx.now();
      const count = Math.min((await this.#liveTotal(tx)) - maxSessions, Math.trunc(limit));
      if (count <= 0) return [];
      const closed: SessionRecord[] = [];
      for (const row of await tx.rows<SessionRow>(SWEEP_SQL.lru, [now, count])) closed.push(await this.#close(tx, row, 'evicted', now));
      return closed;
    });
  }

  async closeSession(tenant: string, key: string, reason: CloseReason): Promise<SessionRecord | null> {
    return this.#db.write(async (tx) => {
      await tx.lock('key', tenant, key);
      const row = await this.#liveRow(tx, tenant, key);
      if (!row) return null;
      const now = await tx.now();
      assertQuiet(row, now);
      return this.#close(tx, row, reason, now);
    });
  }

  async deleteKey(tenant: string, key: string): Promise<number> {
    return this.#db.write(async (tx) => {
      await tx.lock('key', tenant, key);
      const row = await this.#liveRow(tx, tenant, key);
      if (row) {
        const now = await tx.now();
        assertQuiet(row, now);
        // Closing first ends a turn stranded under an expired lease and keeps the counters true.
        await this.#close(tx, row, 'deleted', now);
      }
      const conversations = (
        await tx.rows<{ id: string }>(
          `SELECT DISTINCT agent_session_id AS id FROM sessions WHERE tenant = $1 AND key = $2 AND agent_session_id IS NOT NULL`,
          [tenant, key],
        )
      ).map((r) => r.id);
      if (conversations.length > 0) {
        await tx.exec(`DELETE FROM transcripts WHERE agent_session_id = ANY($1::text[])`, [conversations]);
        await tx.exec(`DELETE FROM transcript_entries WHERE agent_session_id = ANY($1::text[])`, [conversations]);
      }
      await tx.exec(`DELETE FROM turns WHERE tenant = $1 AND key = $2`, [tenant, key]);
      return tx.exec(`DELETE FROM sessions WHERE tenant = $1 AND key = $2`, [tenant, key]);
    });
  }

  async appendTranscript(ref: TranscriptRef, projectKey: string, entries: TranscriptEntry[]): Promise<void> {
    const subpath = ref.subpath ?? '';
    await this.#db.write(async (tx) => {
      // The head row is the transcript's lock: concurrent appends number their entries in turn.
      await tx.exec(
        `INSERT INTO transcripts (agent_session_id, subpath, project_key, entries, updated_at) VALUES ($1, $2, $3, 0, 0)
         ON CONFLICT (agent_session_id, subpath) DO NOTHING`,
        [ref.agentSessionId, subpath, projectKey],
      );
      const head = await tx.row<{ entries: number }>(`SELECT entries FROM transcripts WHERE agent_session_id = $1 AND subpath = $2 FOR UPDATE`, [
        ref.agentSessionId,
        subpath,
      ]);
      const now = await tx.now();
      const uuidOf = (e: TranscriptEntry): string | null => (typeof e.uuid === 'string' ? e.uuid : null);
      const asked = [...new Set(entries.map(uuidOf).filter((u): u is string => u !== null))];
      const seen = new Set<string>();
      if (asked.length > 0) {
        const existing = await tx.rows<{ uuid: string }>(
          `SELECT uuid FROM transcript_entries WHERE agent_session_id = $1 AND subpath = $2 AND uuid = ANY($3::text[])`,
          [ref.agentSessionId, subpath, asked],
        );
        for (const r of existing) seen.add(r.uuid);
      }
      let seq = head?.entries ?? 0;
      const seqs: number[] = [];
      const uuids: Array<string | null> = [];
      const texts: string[] = [];
      for (const entry of entries) {
        const uuid = uuidOf(entry);
        if (uuid !== null) {
          if (seen.has(uuid)) continue;
          seen.add(uuid);
        }
        seqs.push(seq++);
        uuids.push(uuid);
        texts.push(JSON.stringify(entry));
      }
      if (texts.length > 0) {
        await tx.exec(
          `INSERT INTO transcript_entries (agent_session_id, subpath, seq, uuid, entry)
           SELECT $1, $2, s, u, e FROM unnest($3::int[], $4::text[], $5::text[]) AS x (s, u, e)`,
          [ref.agentSessionId, subpath, seqs, uuids, texts],
        );
      }
      await tx.exec(`UPDATE transcripts SET project_key = $3, entries = $4, updated_at = $5 WHERE agent_session_id = $1 AND subpath = $2`, [
        ref.agentSessionId,
        subpath,
        projectKey,
        seq,
        now,
      ]);
    });
  }

  async loadTranscript(ref: TranscriptRef): Promise<TranscriptEntry[] | null> {
    // One statement, so the head and the entries are read from one snapshot.
    const rows = await this.#db.read<{ entry: string | null }>(
      `SELECT e.entry FROM transcripts h
         LEFT JOIN transcript_entries e ON e.agent_session_id = h.agent_session_id AND e.subpath = h.subpath
       WHERE h.agent_session_id = $1 AND h.subpath = $2 ORDER BY e.seq`,
      [ref.agentSessionId, ref.subpath ?? ''],
    );
    if (rows.length === 0) return null;
    return rows.filter((r) => r.entry !== null).map((r) => JSON.parse(r.entry!) as TranscriptEntry);
  }

  async listTranscripts(projectKey: string): Promise<Array<{ agentSessionId: string; mtime: number }>> {
    const rows = await this.#db.read<{ agent_session_id: string; updated_at: number }>(
      `SELECT agent_session_id, updated_at FROM transcripts WHERE project_key = $1 AND subpath = ''`,
      [projectKey],
    );
    return rows.map((r) => ({ agentSessionId: r.agent_session_id, mtime: r.updated_at }));
  }

  async listTranscriptSubpaths(agentSessionId: string): Promise<string[]> {
    // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
    const rows = await this.#db.read<{ subpath: string }>(
      `SELECT subpath FROM transcripts WHERE agent_session_id = $1 AND subpath <> '' ORDER BY subpath COLLATE "C"`,
      [agentSessionId],
    );
    return rows.map((r) => r.subpath);
  }

  async deleteTranscript(ref: TranscriptRef): Promise<number> {
    return this.#db.write(async (tx) => {
      if (!ref.subpath) {
        await tx.exec(`DELETE FROM transcripts WHERE agent_session_id = $1`, [ref.agentSessionId]);
        return tx.exec(`DELETE FROM transcript_entries WHERE agent_session_id = $1`, [ref.agentSessionId]);
      }
      await tx.exec(`DELETE FROM transcripts WHERE agent_session_id = $1 AND subpath = $2`, [ref.agentSessionId, ref.subpath]);
      return tx.exec(`DELETE FROM transcript_entries WHERE agent_session_id = $1 AND subpath = $2`, [ref.agentSessionId, ref.subpath]);
    });
  }

  async updateSession(tenant: string, key: string, patch: SessionPatch): Promise<SessionRecord> {
    return this.#db.write(async (tx) => {
      // The key's lock, as for anything that changes its live session, then the row's.
      await tx.lock('key', tenant, key);
      const row = await this.#liveRow(tx, tenant, key);
      if (!row) throw noLiveSession(key);
      const { config, labels, metadata } = patched(sessionFromRow(row), patch);
      if (patch.labels) await this.#checkQuotas(tx, tenant, labels, patch.labelQuotas, row.id);
      const updated = await tx.row<SessionRow>(`UPDATE sessions SET config = $1::jsonb, labels = $2::jsonb, metadata = $3::jsonb WHERE id = $4 RETURNING *`, [
        JSON.stringify(config),
        JSON.stringify(labels),
        JSON.stringify(metadata),
        row.id,
      ]);
      if (!updated) throw vanished('session', row.id);
      return sessionFromRow(updated);
    });
  }

  async importSession(input: ImportSessionInput): Promise<{ session: SessionRecord; closed: SessionRecord[] }> {
    return this.#db.write(async (tx) => {
      await tx.lock('key', input.tenant, input.key);
      const live = await this.#liveRow(tx, input.tenant, input.key);
      const now = await tx.now();
      const closed: SessionRecord[] = [];
      if (live) {
        assertReplaceable(input, live, now);
        closed.push(await this.#close(tx, live, 'reset', now));
      }
      closed.push(...(await this.#makeRoom(tx, input, now)));
      const row = await this.#createSession(
        tx,
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

      // The ended turns, numbered after the key's earlier generations, in one statement.
      const turns = input.turns;
      if (turns.length > 0) {
        const ended = turns.map((t) => endedTurnColumns({ usage: t.usage, context: null, error: t.error }));
        await tx.exec(
          `INSERT INTO turns (id, session_id, tenant, key, seq, prompt, status, owner, text, error_code, error_message,
             input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, created_at, started_at, ended_at)
           SELECT id, $1, $2, $3, seq, prompt, status, 'import', text, error_code, error_message,
             input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, created_at, started_at, ended_at
           FROM unnest($4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
             $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[])
             AS x (id, seq, prompt, status, text, error_code, error_message,
               input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, created_at, started_at, ended_at)`,
          [
            row.id,
            input.tenant,
            input.key,
            turns.map(() => randomUUID()),
            turns.map((_, i) => row.turn_seq + i + 1),
            turns.map((t) => t.prompt),
            turns.map((t) => t.status),
            turns.map((t) => t.text),
            ended.map((e) => e.error_code),
            ended.map((e) => e.error_message),
            ended.map((e) => e.input_tokens),
            ended.map((e) => e.output_tokens),
            ended.map((e) => e.cache_read_tokens),
            ended.map((e) => e.cache_write_tokens),
            ended.map((e) => e.cost_micros),
            turns.map((t) => t.createdAt),
            turns.map((t) => t.startedAt),
            turns.map((t) => t.endedAt),
          ],
        );
      }
      const u = usageToColumns(input.usage);
      const session = await tx.row<SessionRow>(
        `UPDATE sessions SET agent_session_id = $2, turns = $3, turn_seq = $4,
           input_tokens = $5, output_tokens = $6, cache_read_tokens = $7, cache_write_tokens = $8, cost_micros = $9,
           context_tokens = $10, context_window = $11, context_ratio = $12, expires_at = $13
         WHERE id = $1 RETURNING *`,
        [
          row.id,
          input.agentSessionId,
          turns.length,
          row.turn_seq + turns.length,
          u.input_tokens,
          u.output_tokens,
          u.cache_read_tokens,
          u.cache_write_tokens,
          u.cost_micros,
          input.context.tokens,
          input.context.window,
          input.context.ratio,
          expiryFrom(now, input.idleTimeoutMs),
        ],
      );
      if (!session) throw vanished('session', row.id);
      // Imported history counts in the tenant's turn totals (its usage was spent elsewhere).
      tx.bump(input.tenant, importedDelta(turns));
      return { session: sessionFromRow(session), closed };
    });
  }

  async getLiveSession(tenant: string, key: string): Promise<SessionRecord | null> {
    const [row] = await this.#db.read<SessionRow>(`SELECT * FROM sessions WHERE tenant = $1 AND key = $2 AND live`, [tenant, key]);
    return row ? sessionFromRow(row) : null;
  }

  async getLatestSession(tenant: string, key: string): Promise<SessionRecord | null> {
    const [row] = await this.#db.read<SessionRow>(`SELECT * FROM sessions WHERE tenant = $1 AND key = $2 ORDER BY generation DESC LIMIT 1`, [
      tenant,
      key,
    ]);
    return row ? sessionFromRow(row) : null;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const [row] = await this.#db.read<SessionRow>(`SELECT * FROM sessions WHERE id = $1`, [id]);
    return row ? sessionFromRow(row) : null;
  }

  async listSessions(filter: SessionFilter): Promise<SessionRecord[]> {
    const where = ['latest'];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.tenant !== undefined) where.push(`tenant = ${param(filter.tenant)}`);
    if (filter.key !== undefined) where.push(`key = ${param(filter.key)}`);
    if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`);
    // Containment of string values is equality, so every given label must match exactly.
    if (filter.labels && Object.keys(filter.labels).length > 0) where.push(`labels @> ${param(JSON.stringify(filter.labels))}::jsonb`);
    // Top-level metadata: containment of a scalar is equality of JSON values of one type, so
    // {n: 3} never matches 3.5 (or "3"), and {ok: false} never matches a missing name.
    const metadata: Record<string, string | number | boolean> = {};
    for (const [name, value] of Object.entries(filter.metadata ?? {})) {
      const scalar = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
      if (!scalar) where.push('false'); // NaN, Infinity or a non-scalar equals no stored JSON value
      else metadata[name] = value;
    }
    if (Object.keys(metadata).length > 0) where.push(`metadata @> ${param(JSON.stringify(metadata))}::jsonb`);
    const rows = await this.#db.read<SessionRow>(
      `SELECT * FROM sessions WHERE ${where.join(' AND ')}
       ORDER BY last_active_at DESC, row_no DESC LIMIT ${param(filter.limit ?? null)} OFFSET ${param(filter.offset ?? 0)}`,
      params,
    );
    return rows.map(sessionFromRow);
  }

  async getTurn(id: string): Promise<TurnRecord | null> {
    const [row] = await this.#db.read<TurnRow>(`SELECT * FROM turns WHERE id = $1`, [id]);
    return row ? turnFromRow(row) : null;
  }

  async listTurns(filter: TurnFilter): Promise<TurnRecord[]> {
    const rows = await this.#db.read<TurnRow>(`SELECT * FROM turns WHERE tenant = $1 AND key = $2 AND seq > $3 ORDER BY seq LIMIT $4`, [
      filter.tenant,
      filter.key,
      filter.afterSeq ?? 0,
      filter.limit ?? null,
    ]);
    return rows.map(turnFromRow);
  }

  async stats(tenant?: string): Promise<StoreStats> {
    const sums = COUNTER_COLUMNS.map((c) => `coalesce(sum(${c}), 0)::bigint AS ${c}`).join(', ');
    const byTenant = tenant === undefined ? '' : 'WHERE tenant = $1';
    const params = tenant === undefined ? [] : [tenant];
    const [counters] = await this.#db.read<Record<CounterColumn, number>>(`SELECT ${sums} FROM counters ${byTenant}`, params);
    const groups = await this.#db.read<{ status: SessionStatus; n: number }>(`SELECT status, count(*) AS n FROM sessions ${byTenant} GROUP BY status`, params);
    return statsFrom(counters, groups);
  }

  async appendEvents(events: SharedEventInput[]): Promise<void> {
    if (events.length === 0) return;
    await this.#db.write(async (tx) => {
      // Readers tail by "id after N". Ids are drawn before commit, so two appenders could commit
      // out of id order and a tail would step over the later-committed, smaller id for good.
      // One appender at a time (the lock goes only after the commit is visible) rules that out.
      await tx.lock('events');
      const now = await tx.now();
      await tx.exec(
        `INSERT INTO events (tenant, turn_id, seq, origin, created_at, event)
         SELECT t, u, s, o, $1, e FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) WITH ORDINALITY AS x (t, u, s, o, e, n) ORDER BY n
         ON CONFLICT DO NOTHING`,
        [now, events.map((e) => e.tenant), events.map((e) => e.turnId), events.map((e) => e.seq), events.map((e) => e.origin), events.map((e) => JSON.stringify(e.event))],
      );
      // Delivered at commit, to every node listening (see onEventsAppended).
      await tx.exec(`SELECT pg_notify($1, $2)`, [EVENTS_CHANNEL, this.#notifyPayload()]);
    });
  }

  async readEvents(filter: SharedEventFilter): Promise<SharedEvent[]> {
    const limit = Math.max(0, Math.trunc(filter.limit));
    const rows = await this.#db.read<{ id: number; tenant: string; turn_id: string | null; seq: number | null; origin: string; event: string }>(
      'turnId' in filter
        ? `SELECT id, tenant, turn_id, seq, origin, event FROM events WHERE turn_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`
        : `SELECT id, tenant, turn_id, seq, origin, event FROM events WHERE id > $1 AND origin <> $2 ORDER BY id LIMIT $3`,
      'turnId' in filter ? [filter.turnId, filter.afterSeq, limit] : [filter.afterId, filter.excludeOrigin ?? '', limit],
    );
    return rows.map((r) => ({ id: r.id, tenant: r.tenant, turnId: r.turn_id, seq: r.seq, origin: r.origin, event: JSON.parse(r.event) as unknown }));
  }

  async lastEventId(): Promise<number> {
    const [row] = await this.#db.read<{ id: number }>(`SELECT coalesce(max(id), 0)::bigint AS id FROM events`, []);
    return row?.id ?? 0;
  }

  async lastEventSeq(turnId: string): Promise<number> {
    const [row] = await this.#db.read<{ seq: number }>(`SELECT coalesce(max(seq), 0) AS seq FROM events WHERE turn_id = $1`, [turnId]);
    return row?.seq ?? 0;
  }

  async pruneEvents(olderThanMs: number): Promise<number> {
    return this.#db.write(async (tx) => tx.exec(`DELETE FROM events WHERE created_at < $1`, [(await tx.now()) - olderThanMs]));
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

  async heartbeat(owner: string, ttlMs: number): Promise<void> {
    await this.#db.write(async (tx) => {
      const now = await tx.now();
      if (ttlMs <= 0) await tx.exec(`DELETE FROM nodes WHERE owner = $1`, [owner]);
      else {
        await tx.exec(`INSERT INTO nodes (owner, expires_at) VALUES ($1, $2) ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at`, [
          owner,
          now + ttlMs,
        ]);
      }
      await tx.exec(`DELETE FROM nodes WHERE expires_at < $1`, [now - FORGET_NODES_AFTER_MS]);
    });
  }

  async liveOwners(): Promise<string[]> {
    const rows = await this.#db.read<{ owner: string }>(
      `SELECT owner FROM nodes WHERE expires_at > coalesce($1::bigint, ${DB_NOW_EXPR}) ORDER BY owner COLLATE "C"`,
      [this.#db.clock ? this.#db.clock.now() : null],
    );
    return rows.map((r) => r.owner);
  }

  /**
   * A session-level advisory lock, tried without waiting, held on one pooled connection while
   * `fn` runs (so the pool needs a second connection for `fn`'s own calls). If that connection
   * dies the server frees the lock, and another node may start the section: the sections are
   * made of store transactions, so overlapping costs work, not correctness.
   */
  async runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
    await this.#db.open();
    if (this.#exclusive.has(name)) return null;
    this.#exclusive.add(name);
    try {
      const checkout = await this.#db.connect();
      const { client } = checkout;
      const key = JSON.stringify([this.#db.lockScope, 'exclusive', name]);
      let broken: Error | undefined;
      try {
        let got: boolean | undefined;
        try {
          got = (await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok`, [key])).rows[0]?.ok;
        } catch (err) {
          broken = err as Error;
          throw mapPgError(err, this.#db.target);
        }
        if (!got) return null;
        try {
          return await fn();
        } finally {
          await client.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]).catch((err: unknown) => {
            // The lock is only safe to forget with the connection: drop it rather than reuse it.
            broken = err as Error;
          });
        }
      } finally {
        checkout.release(broken);
      }
    } finally {
      this.#exclusive.delete(name);
    }
  }

  async close(): Promise<void> {
    if (this.#db.closed) return;
    this.#wakeups.close();
    await this.#db.close();
  }

  #notifyPayload(): string {
    return `${this.#db.lockScope}\n${this.#instance}`;
  }

  // --- rows --------------------------------------------------------------------------------

  async #sessionRow(tx: Tx, id: string, forUpdate = false): Promise<SessionRow | undefined> {
    return tx.row<SessionRow>(`SELECT * FROM sessions WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  }

  /** The key's live session, locked. */
  async #liveRow(tx: Tx, tenant: string, key: string): Promise<SessionRow | undefined> {
    return tx.row<SessionRow>(`SELECT * FROM sessions WHERE tenant = $1 AND key = $2 AND live FOR UPDATE`, [tenant, key]);
  }

  async #turnRow(tx: Tx, id: string): Promise<TurnRow | undefined> {
    return tx.row<TurnRow>(`SELECT * FROM turns WHERE id = $1`, [id]);
  }

  /** Live sessions over all tenants, this transaction's own changes included. */
  async #liveTotal(tx: Tx): Promise<number> {
    const row = await tx.row<{ n: number }>(`SELECT coalesce(sum(live), 0)::bigint AS n FROM counters`);
    return (row?.n ?? 0) + tx.pending('live');
  }

  // --- state changes (always inside #write) ------------------------------------------------

  /** Grants the session's lease to run `turnId` (the head of its queue, checked by the caller). */
  async #grant(
    tx: Tx,
    session: SessionRow,
    turnId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<{ lease: Lease; interrupted: TurnRecord[]; session: SessionRow; turn: TurnRow }> {
    // Whatever still runs under a previous (expired) lease is over: its holder stopped renewing.
    const interrupted = await this.#interruptRunning(tx, session, now, LEASE_STOPPED);
    const lease = nextLease(session, owner, ttlMs, now);
    const updated = (await tx.row<SessionRow>(
      `UPDATE sessions SET status = 'running', queued = queued - 1,
         lease_owner = $1, lease_token = $2, lease_epoch = $3, lease_expires_at = $4 WHERE id = $5 RETURNING *`,
      [lease.owner, lease.token, lease.epoch, lease.expiresAt, session.id],
    ))!;
    // The turn's owner becomes the process that runs it, which is whom recovery must ask about.
    const turn = (await tx.row<TurnRow>(`UPDATE turns SET status = 'running', started_at = $1, epoch = $2, owner = $3 WHERE id = $4 RETURNING *`, [
      now,
      lease.epoch,
      owner,
      turnId,
    ]))!;
    tx.bump(session.tenant, { turns_queued: -1, turns_running: 1 });
    return { lease, interrupted, session: updated, turn };
  }

  /** The session row, locked, if `lease` still holds it (see `fenced`); LEASE_LOST otherwise. */
  async #fence(tx: Tx, lease: Lease): Promise<SessionRow> {
    return fenced(lease, await this.#sessionRow(tx, lease.sessionId, true));
  }

  /** Opens the key's next generation (the caller holds the key's lock and made room under the cap). */
  async #createSession(tx: Tx, input: CreateSessionInput, now: number): Promise<SessionRow> {
    const previous = await tx.row<Pick<SessionRow, 'id' | 'generation' | 'turn_seq' | 'labels' | 'metadata'>>(
      `SELECT id, generation, turn_seq, labels, metadata FROM sessions WHERE tenant = $1 AND key = $2 ORDER BY generation DESC LIMIT 1`,
      [input.tenant, input.key],
    );
    if (previous) await tx.exec(`UPDATE sessions SET latest = false WHERE id = $1`, [previous.id]);
    // Labels and metadata carry over to the next generation; those given now are merged over them.
    const labels: Labels = { ...pgDialect.object<Labels>(previous?.labels, {}), ...input.labels };
    const metadata: Metadata = { ...pgDialect.object<Metadata>(previous?.metadata, {}), ...input.metadata };
    await this.#checkQuotas(tx, input.tenant, labels, input.labelQuotas, null);
    const zero = usageToColumns(ZERO_USAGE);
    const row = await tx.row<SessionRow>(
      `INSERT INTO sessions (id, tenant, key, backend, status, latest, generation, config, labels, metadata, turn_seq,
         input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, created_at, last_active_at)
       VALUES ($1, $2, $3, $4, 'idle', true, $5, $6::jsonb, $7::jsonb, $15::jsonb, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING *`,
      [
        input.newSessionId,
        input.tenant,
        input.key,
        input.backend,
        (previous?.generation ?? 0) + 1,
        JSON.stringify(input.config),
        JSON.stringify(labels),
        previous?.turn_seq ?? 0,
        zero.input_tokens,
        zero.output_tokens,
        zero.cache_read_tokens,
        zero.cache_write_tokens,
        zero.cost_micros,
        now,
        JSON.stringify(metadata),
      ],
    );
    if (!row) throw vanished('session', input.newSessionId);
    tx.bump(input.tenant, { created: 1, live: 1 });
    return row;
  }

  /**
   * Label quotas: at most N live sessions of the tenant per value of a label; `except` is a
   * session already counted (an update of its own labels). Each (tenant, label, value) counted
   * is first locked until commit, so two nodes cannot both take the last place: the second
   * counts after the first has committed. Locks go in label-name order (no deadlock between
   * two checks), and after the key and cap locks, with nothing waited for after them.
   */
  async #checkQuotas(tx: Tx, tenant: string, labels: Labels, quotas: Record<string, number> | undefined, except: string | null): Promise<void> {
    for (const quota of quotasOf(labels, quotas)) {
      await tx.lock('quota', tenant, quota.name, quota.value);
      const row = await tx.row<{ n: number }>(
        `SELECT count(*) AS n FROM sessions WHERE tenant = $1 AND live AND id <> $2 AND labels @> jsonb_build_object($3::text, $4::text)`,
        [tenant, except ?? '', quota.name, quota.value],
      );
      assertQuota(quota, Number(row?.n ?? 0));
    }
  }

  /** Makes room for one more live session under the cap, or throws LIMIT_REACHED. */
  async #makeRoom(tx: Tx, input: Pick<EnqueueTurnInput, 'maxSessions' | 'onLimit'>, now: number): Promise<SessionRecord[]> {
    if (!isCapped(input.maxSessions)) return [];
    // Creations under a cap take turns, so two nodes cannot both take the last free place.
    await tx.lock('cap');
    const live = await this.#liveTotal(tx);
    const needed = evictionsNeeded(input, live);
    if (needed === 0) return [];
    // SKIP LOCKED: the victim is the least recently used quiet session that no other
    // transaction is writing this instant; waiting for one could deadlock with a transaction
    // that holds it and waits for the cap lock to open its key's next generation.
    const victims = await tx.rows<SessionRow>(SWEEP_SQL.lru, [now, needed]);
    if (victims.length < needed) throw nothingToEvict(input, live);
    const closed: SessionRecord[] = [];
    for (const row of victims) closed.push(await this.#close(tx, row, 'evicted', now));
    return closed;
  }

  /** Closes a live session (locked by the caller). A turn stranded under an expired lease ends first. */
  async #close(tx: Tx, row: SessionRow, reason: CloseReason, now: number): Promise<SessionRecord> {
    await this.#interruptRunning(tx, row, now, LEASE_STOPPED);
    const { status, delta } = closing(reason);
    const updated = await tx.row<SessionRow>(
      `UPDATE sessions SET status = $1, closed_at = $2, close_reason = $3, expires_at = NULL,
         lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
       WHERE id = $4 RETURNING *`,
      [status, now, reason, row.id],
    );
    if (!updated) throw vanished('session', row.id);
    tx.bump(row.tenant, delta);
    return sessionFromRow(updated);
  }

  async #interruptRunning(tx: Tx, session: SessionRow, now: number, error: TurnError): Promise<TurnRecord[]> {
    const rows = await tx.rows<TurnRow>(`SELECT * FROM turns WHERE session_id = $1 AND status = 'running'`, [session.id]);
    const ended: TurnRecord[] = [];
    for (const turn of rows) ended.push(await this.#endRunningTurn(tx, turn, now, error));
    return ended;
  }

  async #endRunningTurn(tx: Tx, turn: TurnRow, now: number, error: TurnError): Promise<TurnRecord> {
    const row = await this.#markInterrupted(tx, turn.id, now, error);
    await tx.exec(`UPDATE sessions SET turns = turns + 1 WHERE id = $1`, [turn.session_id]);
    tx.bump(turn.tenant, { turns_running: -1, turns_interrupted: 1 });
    return turnFromRow(row);
  }

  async #endQueuedTurn(tx: Tx, turn: TurnRow, now: number, error: TurnError): Promise<TurnRecord> {
    const row = await this.#markInterrupted(tx, turn.id, now, error);
    await tx.exec(`UPDATE sessions SET turns = turns + 1, queued = queued - 1 WHERE id = $1`, [turn.session_id]);
    tx.bump(turn.tenant, { turns_queued: -1, turns_interrupted: 1 });
    return turnFromRow(row);
  }

  async #markInterrupted(tx: Tx, turnId: string, now: number, error: TurnError): Promise<TurnRow> {
    const row = await tx.row<TurnRow>(
      `UPDATE turns SET status = 'interrupted', error_code = $1, error_message = $2, ended_at = $3 WHERE id = $4 RETURNING *`,
      [error.code, error.message, now, turnId],
    );
    if (!row) throw vanished('turn', turnId);
    return row;
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
