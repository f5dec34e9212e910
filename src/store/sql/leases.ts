import type { Lease, TurnError } from '../../domain/types.js';
import { acquireRefusal, assertRunsUnder, expiryFrom, finishedDelta, isQuiet, usageAfter, type LeaseColumns } from '../rules/index.js';
import { closeSession } from './lifecycle.js';
import { endedTurnColumns, type SessionRow, type TurnRow } from '../rows.js';
import type { AcquireLeaseInput, AcquireLeaseResult, FinishTurnInput, FinishTurnResult } from '../store.js';
import { returned, sessionRow, toSession, toTurn, turnRow } from './lookups.js';
import { MAX_PARAMS, join, sql, type Sql } from './query.js';
import type { Dialect } from './dialect.js';
import { SWEEPS } from './sweeps.js';
import type { Tx } from './transaction.js';
import { endQueuedTurn, fence, grant } from './turn-endings.js';

/** A turn's run under its session's lease: acquire, renew, interrupt requests, finish, abandon. */

export async function acquireLease(tx: Tx, input: AcquireLeaseInput): Promise<AcquireLeaseResult> {
  // The session row first: every change to a session's turns holds it (one lock order).
  const session = await sessionRow(tx, input.sessionId, true);
  const turn = await turnRow(tx, input.turnId);
  const now = await tx.now();
  const refusal = acquireRefusal(input, turn, session, now);
  if (refusal === 'gone' || !session) return { status: 'gone', turn: turn ? toTurn(tx, turn) : null };
  if (refusal === 'wait') return { status: 'wait' };
  const head = await tx.row<{ id: string }>(SWEEPS.queueHead(session.id));
  if (head?.id !== input.turnId) return { status: 'wait' };

  const g = await grant(tx, session, input.turnId, input.owner, input.ttlMs, now);
  return { status: 'acquired', lease: g.lease, session: toSession(tx, g.session), turn: toTurn(tx, g.turn), interrupted: g.interrupted };
}

/** Leases renewed per statement at most: three parameters each, under the parameter limit. */
export const RENEWALS_PER_STATEMENT = Math.floor(MAX_PARAMS / 3) - 1;

/**
 * `TurnJournal.renewLeases`, one statement: every lease still held (its token and epoch match:
 * the fence is the WHERE clause) runs until now + ttlMs, and says whether its turn was asked to
 * stop. No lock is held between statements, so a busy store answers one round trip, not six.
 */
export function renewLeasesStatement(d: Dialect, leases: readonly Lease[], ttlMs: number, now: Sql): Sql {
  const held = join(leases.map((l) => sql`(${l.sessionId}, ${l.token}, CAST(${l.epoch} AS BIGINT))`));
  return sql`UPDATE sessions SET lease_expires_at = ${now} + ${ttlMs}
    WHERE (id, lease_token, lease_epoch) IN (VALUES ${held})
    RETURNING id, lease_token, lease_expires_at, EXISTS (SELECT 1 FROM turns WHERE turns.session_id = sessions.id AND turns.status = 'running'
      AND turns.epoch = sessions.lease_epoch AND turns.interrupt_requested = ${d.bool(true)}) AS stop`;
}

export interface RenewedRow {
  id: string;
  lease_token: string;
  lease_expires_at: number;
  stop: unknown;
}

/** The leases as renewed (in the order asked), null for each one the statement did not find held. */
export function renewedLeases(d: Dialect, leases: readonly Lease[], rows: ReadonlyArray<RenewedRow>): Array<Lease | null> {
  // By token (unique to a grant): two leases of one session asked for at once (one stale, one
  // forged) must not both read as renewed.
  const byToken = new Map(rows.map((r) => [r.lease_token, r]));
  return leases.map((lease) => {
    const row = byToken.get(lease.token);
    if (!row || row.id !== lease.sessionId) return null;
    return { ...lease, expiresAt: row.lease_expires_at, ...(d.flag(row.stop as never) ? { interruptRequested: true as const } : {}) };
  });
}

/**
 * What waiting turns poll, one plain statement: while another holds the session's lease, the
 * answer is 'wait' without a transaction or a lock on the session row (the holder's renewal
 * needs that row; locking polls of waiters made renewals queue behind them on a busy node).
 * Null when it has to be decided under the lock.
 */
export function acquirePeekStatement(input: AcquireLeaseInput, now: Sql): Sql {
  return sql`SELECT s.status, s.queued, s.lease_token, s.lease_expires_at, t.status AS turn_status, t.session_id AS turn_session, ${now} AS now
    FROM sessions s LEFT JOIN turns t ON t.id = ${input.turnId} WHERE s.id = ${input.sessionId}`;
}

export function peekSaysWait(input: AcquireLeaseInput, row: (LeaseColumns & { status: string; turn_status: string | null; turn_session: string | null; now: number }) | undefined): boolean {
  if (!row || row.turn_status === null || row.turn_session === null) return false;
  return acquireRefusal(input, { status: row.turn_status, session_id: row.turn_session }, row, Number(row.now)) === 'wait';
}

export async function requestInterrupt(tx: Tx, turnId: string): Promise<boolean> {
  const d = tx.dialect;
  return (await tx.exec(sql`UPDATE turns SET interrupt_requested = ${d.bool(true)} WHERE id = ${turnId} AND status = 'running'`)) > 0;
}

export async function setAgentSession(tx: Tx, lease: Lease, agentSessionId: string | null): Promise<void> {
  await fence(tx, lease);
  await tx.exec(sql`UPDATE sessions SET agent_session_id = ${agentSessionId} WHERE id = ${lease.sessionId}`);
}

export async function finishTurn(tx: Tx, input: FinishTurnInput): Promise<FinishTurnResult> {
  const { lease } = input;
  const session = await fence(tx, lease);
  const current = await tx.row<Pick<TurnRow, 'session_id' | 'status' | 'epoch' | 'started_at'>>(
    sql`SELECT session_id, status, epoch, started_at FROM turns WHERE id = ${input.turnId}`,
  );
  assertRunsUnder(lease, input.turnId, current);
  const now = await tx.now();
  const usage = input.usage ?? null;
  const context = input.context ?? null;
  const e = endedTurnColumns({ usage, context, error: input.error ?? null });
  const turn = await returned<TurnRow>(
    tx,
    sql`UPDATE turns SET status = ${input.status}, text = ${input.text ?? null}, error_code = ${e.error_code}, error_message = ${e.error_message},
        input_tokens = ${e.input_tokens}, output_tokens = ${e.output_tokens}, cache_read_tokens = ${e.cache_read_tokens},
        cache_write_tokens = ${e.cache_write_tokens}, cost_micros = ${e.cost_micros},
        context_tokens = ${e.context_tokens}, context_window = ${e.context_window}, context_ratio = ${e.context_ratio}, ended_at = ${now}
      WHERE id = ${input.turnId} RETURNING *`,
    'turn',
    input.turnId,
  );
  const total = usageAfter(session, usage);
  const updated = await returned<SessionRow>(
    tx,
    sql`UPDATE sessions SET status = 'idle', turns = turns + 1, last_active_at = ${now}, expires_at = ${expiryFrom(now, input.idleTimeoutMs)},
        input_tokens = ${total.input_tokens}, output_tokens = ${total.output_tokens}, cache_read_tokens = ${total.cache_read_tokens},
        cache_write_tokens = ${total.cache_write_tokens}, cost_micros = ${total.cost_micros},
        context_tokens = coalesce(${context?.tokens ?? null}, context_tokens),
        context_window = coalesce(${context?.window ?? null}, context_window),
        context_ratio = coalesce(${context?.ratio ?? null}, context_ratio),
        agent_session_id = coalesce(${input.agentSessionId ?? null}, agent_session_id),
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
      WHERE id = ${session.id} RETURNING *`,
    'session',
    session.id,
  );
  tx.bump(session.tenant, finishedDelta(input.status, usage, current.started_at, now));
  if (input.closeIfQuiet && isQuiet(updated, now)) return { session: await closeSession(tx, updated, input.closeIfQuiet, now), turn: toTurn(tx, turn) };
  return { session: toSession(tx, updated), turn: toTurn(tx, turn) };
}

export async function abandonTurn(tx: Tx, turnId: string, error: TurnError): Promise<boolean> {
  const found = await turnRow(tx, turnId);
  if (!found || found.status !== 'queued') return false;
  await sessionRow(tx, found.session_id, true);
  // Read again under the session's lock: it may have started or ended meanwhile.
  const turn = await turnRow(tx, turnId);
  if (!turn || turn.status !== 'queued') return false;
  await endQueuedTurn(tx, turn, await tx.now(), error);
  return true;
}
