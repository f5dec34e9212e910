import type { SessionRecord, TurnRecord } from '../../domain/types.js';
import { vanished } from '../rules/index.js';
import { sessionFromRow, turnFromRow, type SessionRow, type TurnRow } from '../rows.js';
import { empty, sql, type Sql } from './query.js';
import type { Queries, Tx } from './transaction.js';

/** The rows the transaction scripts read again and again, and their records. */

export function toSession(q: Queries, row: SessionRow): SessionRecord {
  return sessionFromRow(row, q.dialect);
}

export function toTurn(q: Queries, row: TurnRow): TurnRecord {
  return turnFromRow(row, q.dialect);
}

/** A session by id; `lock`ed for the rest of the transaction (PostgreSQL `FOR UPDATE`). */
export async function sessionRow(q: Queries, id: string, lock = false): Promise<SessionRow | undefined> {
  return q.row<SessionRow>(sql`SELECT * FROM sessions WHERE id = ${id}${lock ? q.dialect.forUpdate : empty}`);
}

/** The key's live session; `lock`ed like `sessionRow`. */
export async function liveRow(q: Queries, tenant: string, key: string, lock = false): Promise<SessionRow | undefined> {
  const { dialect: d } = q;
  return q.row<SessionRow>(sql`SELECT * FROM sessions WHERE tenant = ${tenant} AND key = ${key} AND live = ${d.bool(true)}${lock ? d.forUpdate : empty}`);
}

export async function turnRow(q: Queries, id: string): Promise<TurnRow | undefined> {
  return q.row<TurnRow>(sql`SELECT * FROM turns WHERE id = ${id}`);
}

/** A row an UPDATE or INSERT … RETURNING of this transaction must have given. */
export async function returned<R>(tx: Tx, query: Sql, what: 'session' | 'turn', id: string): Promise<R> {
  const row = await tx.row<R>(query);
  if (!row) throw vanished(what, id);
  return row;
}

/** Live sessions over all tenants, this transaction's own changes included. */
export async function liveTotal(tx: Tx): Promise<number> {
  const row = await tx.row<{ n: number }>(sql`SELECT CAST(coalesce(sum(live), 0) AS BIGINT) AS n FROM counters`);
  return (row?.n ?? 0) + tx.pending('live');
}
