import type { Lease, TurnError, TurnRecord } from '../../domain/types.js';
import { LEASE_STOPPED, fenced, nextLease, type UsageColumns } from '../rules/index.js';
import type { SessionRow, TurnRow } from '../rows.js';
import { returned, toTurn } from './lookups.js';
import { assign, sql } from './query.js';
import type { Tx } from './transaction.js';

/** Lease grants and fencing, and the ways a turn ends other than `finishTurn`. */

/** Grants the session's lease to run `turnId` (the head of its queue, checked by the caller). */
export async function grant(
  tx: Tx,
  session: SessionRow,
  turnId: string,
  owner: string,
  ttlMs: number,
  now: number,
): Promise<{ lease: Lease; interrupted: TurnRecord[]; session: SessionRow; turn: TurnRow }> {
  // Whatever still runs under a previous (expired) lease is over: its holder stopped renewing.
  const interrupted = await interruptRunning(tx, session, now, LEASE_STOPPED);
  const lease = nextLease(session, owner, ttlMs, now);
  const updated = await returned<SessionRow>(
    tx,
    sql`UPDATE sessions SET status = 'running', queued = queued - 1, lease_owner = ${lease.owner}, lease_token = ${lease.token},
        lease_epoch = ${lease.epoch}, lease_expires_at = ${lease.expiresAt}
      WHERE id = ${session.id} RETURNING *`,
    'session',
    session.id,
  );
  // The turn's owner becomes the process that runs it, which is whom recovery must ask about.
  const turn = await returned<TurnRow>(
    tx,
    sql`UPDATE turns SET status = 'running', started_at = ${now}, epoch = ${lease.epoch}, owner = ${owner} WHERE id = ${turnId} RETURNING *`,
    'turn',
    turnId,
  );
  tx.bump(session.tenant, { turns_queued: -1, turns_running: 1 });
  return { lease, interrupted, session: updated, turn };
}

/** What a fenced write reads of its session: the lease, and what `finishTurn` adds usage to. */
export type FencedRow = Pick<SessionRow, 'id' | 'tenant' | 'lease_token' | 'lease_epoch' | keyof UsageColumns>;

/**
 * The session row, locked, if `lease` still holds it (see `fenced`); LEASE_LOST otherwise. Only
 * the columns a fenced write needs: reading a row is most of what a statement costs on SQLite.
 */
export async function fence(tx: Tx, lease: Lease): Promise<FencedRow> {
  const row = await tx.row<FencedRow>(
    sql`SELECT id, tenant, lease_token, lease_epoch, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros
      FROM sessions WHERE id = ${lease.sessionId}${tx.dialect.forUpdate}`,
  );
  return fenced(lease, row);
}

/** Ends the turns still `running` on a session (locked by the caller) as interrupted. */
export async function interruptRunning(tx: Tx, session: SessionRow, now: number, error: TurnError): Promise<TurnRecord[]> {
  const rows = await tx.rows<TurnRow>(sql`SELECT * FROM turns WHERE session_id = ${session.id} AND status = 'running'`);
  const ended: TurnRecord[] = [];
  for (const turn of rows) ended.push(await endRunningTurn(tx, turn, now, error));
  return ended;
}

export async function endRunningTurn(tx: Tx, turn: TurnRow, now: number, error: TurnError): Promise<TurnRecord> {
  const row = await markInterrupted(tx, turn.id, now, error);
  await tx.exec(sql`UPDATE sessions SET turns = turns + 1 WHERE id = ${turn.session_id}`);
  tx.bump(turn.tenant, { turns_running: -1, turns_interrupted: 1 });
  return toTurn(tx, row);
}

export async function endQueuedTurn(tx: Tx, turn: TurnRow, now: number, error: TurnError): Promise<TurnRecord> {
  const row = await markInterrupted(tx, turn.id, now, error);
  await tx.exec(sql`UPDATE sessions SET turns = turns + 1, queued = queued - 1 WHERE id = ${turn.session_id}`);
  tx.bump(turn.tenant, { turns_queued: -1, turns_interrupted: 1 });
  return toTurn(tx, row);
}

/**
 * A running turn of a dead process that waits on a person, taken up by `owner` instead of ended:
 * queued again, at the head of its session's queue (its seq is the oldest there), to go on from
 * the decision. Nothing of it is lost or repeated: its agent's tool call waited, unrun.
 */
export async function requeueWaiting(tx: Tx, turn: TurnRow, owner: string): Promise<TurnRecord> {
  const row = await returned<TurnRow>(tx, sql`UPDATE turns SET status = 'queued', owner = ${owner}, epoch = NULL WHERE id = ${turn.id} RETURNING *`, 'turn', turn.id);
  await tx.exec(sql`UPDATE sessions SET queued = queued + 1 WHERE id = ${turn.session_id}`);
  tx.bump(turn.tenant, { turns_running: -1, turns_queued: 1 });
  return toTurn(tx, row);
}

async function markInterrupted(tx: Tx, turnId: string, now: number, error: TurnError): Promise<TurnRow> {
  return returned<TurnRow>(
    tx,
    sql`UPDATE turns SET status = 'interrupted', ${assign({ error_code: error.code, error_message: error.message, ended_at: now })} WHERE id = ${turnId} RETURNING *`,
    'turn',
    turnId,
  );
}
