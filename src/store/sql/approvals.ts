import type { ApprovalRecord } from '../../domain/approvals.js';
import { TetherError } from '../../errors.js';
import { assertRunsUnder } from '../rules/index.js';
import { approvalFromRow, approvalRequestColumn, type ApprovalRow, type TurnRow } from '../rows.js';
import type { ApprovalFilter, DecideApprovalInput, RequestApprovalInput } from '../store.js';
import { MAX_PARAMS, assign, insertInto, join, sql, type Sql } from './query.js';
import type { Reader, Tx } from './transaction.js';
import { fence } from './turn-endings.js';

/** `Approvals`: what running turns ask people, and their decisions. */

export async function requestApproval(tx: Tx, input: RequestApprovalInput): Promise<{ approval: ApprovalRecord; created: boolean }> {
  const { lease, turnId, request } = input;
  // The session row first (locked), as every fenced write of a turn takes it.
  await fence(tx, lease);
  const turn = await tx.row<Pick<TurnRow, 'session_id' | 'status' | 'epoch' | 'tenant' | 'key'>>(
    sql`SELECT session_id, status, epoch, tenant, key FROM turns WHERE id = ${turnId}`,
  );
  assertRunsUnder(lease, turnId, turn);
  const kept = await tx.row<ApprovalRow>(sql`SELECT * FROM approvals WHERE turn_id = ${turnId} AND tool_use_id = ${request.toolUseId}`);
  if (kept) return { approval: approvalFromRow(kept, tx.dialect), created: false };
  const now = await tx.now();
  const row = await tx.row<ApprovalRow>(
    sql`${insertInto('approvals', {
      id: input.id,
      tenant: turn.tenant,
      key: turn.key,
      session_id: turn.session_id,
      turn_id: turnId,
      kind: request.kind,
      tool_use_id: request.toolUseId,
      tool: request.tool,
      request: tx.dialect.json(approvalRequestColumn(request)),
      status: 'pending',
      requested_at: now,
      expires_at: now + input.ttlMs,
    })} RETURNING *`,
  );
  return { approval: approvalFromRow(row!, tx.dialect), created: true };
}

export async function decideApproval(tx: Tx, input: DecideApprovalInput): Promise<ApprovalRecord> {
  const now = await tx.now();
  // The WHERE clause is the race: of two decisions, the second finds the row no longer pending.
  const row = await tx.row<ApprovalRow>(
    sql`UPDATE approvals SET ${assign({
      status: input.status,
      decided_by: input.decidedBy,
      message: input.message ?? null,
      remember: input.remember ?? null,
      answers: input.answers ? tx.dialect.json(input.answers) : null,
      decided_at: now,
    })} WHERE id = ${input.id} AND tenant = ${input.tenant} AND status = 'pending' RETURNING *`,
  );
  if (row) return approvalFromRow(row, tx.dialect);
  const current = await tx.row<Pick<ApprovalRow, 'status' | 'decided_by'>>(
    sql`SELECT status, decided_by FROM approvals WHERE id = ${input.id} AND tenant = ${input.tenant}`,
  );
  if (!current) throw new TetherError('NOT_FOUND', `no approval ${input.id}`, { details: { id: input.id } });
  throw new TetherError('ALREADY_DECIDED', `approval ${input.id} is ${current.status} already (decided by ${current.decided_by ?? 'nobody'}); a decision is final`, {
    details: { id: input.id, status: current.status },
  });
}

export async function decidedAmong(r: Reader, ids: readonly string[]): Promise<ApprovalRecord[]> {
  const out: ApprovalRecord[] = [];
  for (let i = 0; i < ids.length; i += MAX_PARAMS) {
    const chunk = ids.slice(i, i + MAX_PARAMS);
    const rows = await r.rows<ApprovalRow>(sql`SELECT * FROM approvals WHERE id IN (${join(chunk)}) AND status <> 'pending'`);
    out.push(...rows.map((row) => approvalFromRow(row, r.dialect)));
  }
  return out;
}

export async function markAnswered(tx: Tx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const now = await tx.now();
  for (let i = 0; i < ids.length; i += MAX_PARAMS - 1) {
    await tx.exec(sql`UPDATE approvals SET answered_at = ${now} WHERE id IN (${join(ids.slice(i, i + MAX_PARAMS - 1))}) AND answered_at IS NULL`);
  }
}

/** Whether a turn waits on a person: an approval of it whose decision its agent has not been given. */
export async function waitsOnPerson(tx: Tx, turnId: string): Promise<boolean> {
  return (await tx.row(sql`SELECT 1 AS one FROM approvals WHERE turn_id = ${turnId} AND answered_at IS NULL LIMIT 1`)) !== undefined;
}

export async function getApproval(r: Reader, tenant: string, id: string): Promise<ApprovalRecord | null> {
  const row = await r.row<ApprovalRow>(sql`SELECT * FROM approvals WHERE id = ${id} AND tenant = ${tenant}`);
  return row ? approvalFromRow(row, r.dialect) : null;
}

export async function listApprovals(r: Reader, filter: ApprovalFilter): Promise<ApprovalRecord[]> {
  const where: Sql[] = [sql`tenant = ${filter.tenant}`];
  if (filter.status !== undefined) where.push(sql`status = ${filter.status}`);
  if (filter.key !== undefined) where.push(sql`key = ${filter.key}`);
  if (filter.sessionId !== undefined) where.push(sql`session_id = ${filter.sessionId}`);
  if (filter.turnId !== undefined) where.push(sql`turn_id = ${filter.turnId}`);
  const rows = await r.rows<ApprovalRow>(
    sql`SELECT * FROM approvals WHERE ${join(where, ' AND ')} ORDER BY requested_at, id LIMIT ${filter.limit ?? r.dialect.noLimit}`,
  );
  return rows.map((row) => approvalFromRow(row, r.dialect));
}

export async function expireApprovals(tx: Tx, input: { turnId: string | null; decidedBy: 'interrupt' | 'timeout'; limit?: number }): Promise<ApprovalRecord[]> {
  const now = await tx.now();
  const which = input.turnId !== null ? sql`turn_id = ${input.turnId}` : sql`expires_at <= ${now}`;
  const due = await tx.rows<Pick<ApprovalRow, 'id'>>(
    sql`SELECT id FROM approvals WHERE status = 'pending' AND ${which} ORDER BY expires_at LIMIT ${input.limit ?? tx.dialect.noLimit}${tx.dialect.skipLocked}`,
  );
  if (due.length === 0) return [];
  const rows = await tx.rows<ApprovalRow>(
    sql`UPDATE approvals SET ${assign({ status: 'expired', decided_by: input.decidedBy, decided_at: now })}
      WHERE id IN (${join(due.map((d) => d.id))}) AND status = 'pending' RETURNING *`,
  );
  return rows.map((row) => approvalFromRow(row, tx.dialect)).sort((a, b) => a.expiresAt - b.expiresAt || a.id.localeCompare(b.id));
}
